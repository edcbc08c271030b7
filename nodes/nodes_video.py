"""TAVID Render Video: both faces rendered, composed and written into a video file as they are made, for
dialogues of any length (an IMAGE batch holds every frame in memory; this node holds one window of them)."""
from __future__ import annotations

from dataclasses import fields

from comfy_api.latest import InputImpl, io, ui

from ..tavid_core.limits import MIRROR_MODES
from ..tavid_core.media.compose import LAYOUTS
from ..tavid_core.media.soundtrack import array_soundtrack
from ..tavid_core.pipeline import facing_each_other, prepare_faces, render_video, write_timeline
from . import sockets
from .convert import from_audio, reference_image
from .errors import node_errors
from .nodes_face import guidance_inputs, sampler_settings, sampling_inputs
from .runtime import node_runtime, numbered_output

NODE = "TAVID Render Video"


class RenderVideo(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="TAVIDRenderVideo",
            display_name=NODE,
            category=sockets.CATEGORY,
            description="Renders both faces, puts them into one picture and writes the video with the mixed audio "
                        "(or, in dub mode, the recording given as audio) into ComfyUI's output folder as it goes, "
                        "so memory stays flat however long the dialogue (Face Sampler and Compose Dialogue keep "
                        "every frame in memory: use them for short clips). Beside the video goes a .json of who "
                        "speaks when, which tavid eval reads. With the same settings and seeds it makes the same "
                        "video as the tavid generate command.",
            inputs=[
                sockets.FaceModel.Input("face_model", tooltip="From a TAVID loader (or a LoRA loader)."),
                io.Image.Input("image_a", tooltip="Photo of A, shown on the left."),
                io.Image.Input("image_b", tooltip="Photo of B, shown on the right."),
                sockets.Motion.Input("motion_a", tooltip="A's motion from TAVID Motion Mapper."),
                sockets.Motion.Input("motion_b", tooltip="B's motion from the same run."),
                sockets.Speech.Input("speech",
                                     tooltip="From TAVID Speech Generator: its mixed audio is the soundtrack."),
                io.Combo.Input("layout", options=list(LAYOUTS), default=LAYOUTS[0],
                               tooltip="side_by_side: A left, B right. stacked: A on top. speaker_follow: one shot "
                                       "of whoever holds the floor. picture_in_picture: that shot with the listener "
                                       "in an inset."),
                io.Int.Input("size", default=512, min=64, max=2048, step=16, tooltip="Pixels per face (square)."),
                io.Combo.Input("mirror", options=list(MIRROR_MODES), default=MIRROR_MODES[0],
                               tooltip="auto: a photo whose face is turned away from the partner is mirrored, so "
                                       "the two look at each other (A looks right, B left); never: as photographed."),
                io.String.Input("filename_prefix", default="tavid/conversation",
                                tooltip="Name in ComfyUI/output (subfolders with '/'); a number and .mp4 are added."),
                *sampling_inputs(),
                *guidance_inputs(),
                io.Audio.Input("audio", optional=True,
                               tooltip="What the video carries instead of the speech's mix: TAVID Dialogue Audio's "
                                       "recording, passed through as it is (dub mode)."),
            ],
            outputs=[io.Video.Output("video", display_name="video",
                                     tooltip="The written video file, for TAVID Evaluate or other video nodes.")],
            is_output_node=True,
        )

    @classmethod
    def execute(cls, face_model, image_a, image_b, motion_a, motion_b, speech, layout: str = LAYOUTS[0],
                size: int = 512, mirror: str = MIRROR_MODES[0], filename_prefix: str = "tavid/conversation",
                sampler: str = "auto", scheduler: str = "auto", steps: int = 20, cfg: float = 2.0, seed: int = 0,
                identity_cfg: float = 2.0, sampler_custom=None, sigmas=None, audio=None) -> io.NodeOutput:
        runtime = node_runtime()
        with node_errors(NODE):
            settings = sampler_settings(sampler, scheduler, steps, cfg, seed, identity_cfg, sampler_custom, sigmas)
            names = ("image_a", "image_b")
            photos = facing_each_other(tuple(reference_image(image, field) for image, field in
                                             zip((image_a, image_b), names)), mirror, names)
            faces = prepare_faces(face_model, photos, size, runtime, names)
            recording = from_audio(audio, "audio", mono=False)
            soundtrack = None if recording is None else array_soundtrack(
                [recording], motion_a.num_frames / motion_a.fps)
            path, name, subfolder = numbered_output(filename_prefix, ".mp4")
            frames = render_video(face_model, faces, (motion_a, motion_b), speech, path, layout=layout,
                                  sampler=settings, runtime=runtime, soundtrack=soundtrack)
            write_timeline(path, frames, motion_a.fps, speech, None, {
                "voices": [v.describe() for v in speech.voices or ()],
                "layout": layout, "size": size, "mirror": mirror,
                "sampler": {**{f.name: getattr(settings, f.name) for f in fields(settings) if f.name != "custom"},
                            "comfyui_sampler_and_sigmas": settings.custom is not None},
                "face_model": face_model.describe(),
            })
        return io.NodeOutput(InputImpl.VideoFromFile(path),
                             ui=ui.PreviewVideo([ui.SavedResult(name, subfolder, io.FolderType.output)]))


NODES = [RenderVideo]

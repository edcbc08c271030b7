"""The face side: the face sampler renders each person, the compositor puts both into one picture."""
from __future__ import annotations

import torch
from comfy_api.latest import io

from ..tavid_core.analysis.faces import SIDES, turn_toward
from ..tavid_core.engines.protocols import SamplerSettings
from ..tavid_core.errors import TavidError
from ..tavid_core.limits import SAMPLERS, SCHEDULERS, SEED_RANGE
from ..tavid_core.media.compose import LAYOUTS, canvas_size, compose, floor_holder, speaker_mask
from . import sockets
from .convert import frames_tensor, put_frames, reference_image
from .errors import node_errors
from .runtime import node_runtime

WINDOW = 25  # frames rendered and copied at a time
AS_PHOTO = "as_photo"


class FaceSampler(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="TAVIDFaceSampler",
            display_name="TAVID Face Sampler",
            category=sockets.CATEGORY,
            description="Renders one person's face following a motion, from their reference photo: a square "
                        "portrait of `size` pixels per frame. Sampler, scheduler, steps and cfg drive neural face "
                        "models; the built-in face model warps the photo and ignores them.",
            inputs=[
                sockets.FaceModel.Input("face_model", tooltip="From a TAVID loader (or a LoRA loader)."),
                io.Image.Input("image", tooltip="Reference photo of the person (the first image of a batch)."),
                sockets.Motion.Input("motion", tooltip="This person's motion from TAVID Motion Mapper."),
                *sampling_inputs(),
                io.Int.Input("size", default=512, min=64, max=2048, step=16, tooltip="Output portrait size in pixels."),
                io.Combo.Input("face_toward", options=[AS_PHOTO, *SIDES], default=AS_PHOTO,
                               tooltip="Which way the person should look: right for the person on the left (A), "
                                       "left for the person on the right (B). The photo is mirrored only when the "
                                       "face is turned away from that side; as_photo never mirrors it."),
                *guidance_inputs(),
            ],
            outputs=[io.Image.Output("images", display_name="frames", tooltip="One frame per motion frame.")],
        )

    @classmethod
    def execute(cls, face_model, image, motion, sampler: str = "auto", scheduler: str = "auto", steps: int = 20,
                cfg: float = 2.0, seed: int = 0, size: int = 512, face_toward: str = AS_PHOTO,
                identity_cfg: float = 2.0, sampler_custom=None, sigmas=None) -> io.NodeOutput:
        runtime = node_runtime()
        with node_errors("TAVID Face Sampler"):
            settings = sampler_settings(sampler, scheduler, steps, cfg, seed, identity_cfg, sampler_custom, sigmas)
            photo = reference_image(image, "image")
            if face_toward != AS_PHOTO:
                photo = turn_toward(photo, face_toward, "image")
            face = face_model.prepare(photo, size=size, runtime=runtime, where="image")
            # this face, the other one and the composed pair of both
            frames = frames_tensor(motion.num_frames, size, size, node="TAVID Face Sampler", field="motion",
                                   graph_share=4)
            windows = range(0, motion.num_frames, WINDOW)
            stream = face_model.render_chunks(face, motion, runtime=runtime, settings=settings, chunk=WINDOW)
            # one progress bar per node: a sampling engine counts its own steps
            for start in windows if face_model.counts_steps else runtime.steps(windows, len(windows), "face"):
                runtime.check_interrupt()
                put_frames(frames, start, next(stream))
        return io.NodeOutput(frames)


def sampling_inputs() -> list:
    """The sampling widgets of every node that renders faces (neural face models read them)."""
    return [
        io.Combo.Input("sampler", options=list(SAMPLERS), default="auto", tooltip="Diffusion sampler."),
        io.Combo.Input("scheduler", options=list(SCHEDULERS), default="auto", tooltip="Noise schedule."),
        io.Int.Input("steps", default=20, min=1, max=200, tooltip="Sampling steps."),
        io.Float.Input("cfg", default=2.0, min=0.0, max=20.0, step=0.1, tooltip="Guidance strength."),
        io.Int.Input("seed", default=0, min=0, max=SEED_RANGE[1], control_after_generate=True,
                     tooltip="Sampling noise seed."),
    ]


def guidance_inputs() -> list:
    """The likeness guidance and ComfyUI's own SAMPLER and SIGMAS, after the sampling widgets."""
    return [
        io.Float.Input("identity_cfg", default=2.0, min=0.0, max=20.0, step=0.1,
                       tooltip="Guidance on the reference face (cfg guides the motion): higher keeps the "
                       "likeness closer to the photo. 0 is none."),
        io.Sampler.Input("sampler_custom", optional=True,
                 tooltip="Optional: a ComfyUI sampler (KSamplerSelect) used instead of `sampler`; "
                         "needs `sigmas` too."),
        io.Sigmas.Input("sigmas", optional=True,
                tooltip="Optional: noise levels from a ComfyUI scheduler node (BasicScheduler on "
                        "TAVID Face Model Sampling, KarrasScheduler, ...), used instead of "
                        "`scheduler` and `steps`; needs `sampler_custom` too."),
    ]


def sampler_settings(sampler: str, scheduler: str, steps: int, cfg: float, seed: int, identity_cfg: float,
                     sampler_custom=None, sigmas=None) -> SamplerSettings:
    """What `sampling_inputs` and `guidance_inputs` hold, for the face model."""
    return SamplerSettings(sampler=sampler, scheduler=scheduler, steps=steps, cfg=cfg, seed=seed,
                           identity_cfg=identity_cfg, custom=custom_sampler(sampler_custom, sigmas))


def custom_sampler(sampler, sigmas):
    """ComfyUI's SAMPLER and SIGMAS as the face model's custom sampler (None when neither is connected)."""
    if sampler is None and sigmas is None:
        return None
    if sampler is None or sigmas is None:
        missing, present = ("sampler_custom", "sigmas") if sampler is None else ("sigmas", "sampler_custom")
        raise TavidError(f"{present} is connected but {missing} is not; they work as a pair", where=missing,
                         fix="Connect both (e.g. KSamplerSelect and BasicScheduler), or neither.")
    from functools import partial

    from ..tavid_core.engines.neural.face.diffusion import CustomSampler
    function = getattr(sampler, "sampler_function", None)
    if function is None:
        raise TavidError(f"the SAMPLER ({type(sampler).__name__}) is not a k-diffusion sampler", where="sampler_custom",
                         fix="Use KSamplerSelect (or another node whose SAMPLER runs a sampler function).")
    return CustomSampler(partial(function, **getattr(sampler, "extra_options", {})), sigmas.float().cpu())


class FaceModelSampling(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="TAVIDFaceModelSampling",
            display_name="TAVID Face Model Sampling",
            category=sockets.CATEGORY,
            description="The neural face model's noise schedule as a MODEL for ComfyUI's scheduler nodes (BasicScheduler "
                        "and others that read a model's sigmas), whose SIGMAS then go into TAVID Face Sampler. It "
                        "carries only the schedule: connect it to scheduler nodes, not to samplers.",
            inputs=[sockets.FaceModel.Input("face_model", tooltip="A neural face model from TAVID Checkpoint Loader.")],
            outputs=[io.Model.Output("model", display_name="noise schedule",
                                     tooltip="For BasicScheduler's model input.")],
        )

    @classmethod
    def execute(cls, face_model) -> io.NodeOutput:
        with node_errors("TAVID Face Model Sampling"):
            schedule = getattr(face_model, "noise_schedule", None)
            if schedule is None:
                raise TavidError(f"the {face_model.name} engine does not sample, so it has no noise schedule",
                                 where="face_model", fix="Load a neural face model with TAVID Checkpoint Loader.")
            return io.NodeOutput(ScheduleOnly(schedule()))


class ScheduleOnly:
    """What scheduler nodes read off a MODEL (`get_model_object("model_sampling")`), and a clear error for
    anything else that tries to use it as a diffusion model."""

    def __init__(self, model_sampling):
        self._model_sampling = model_sampling

    def get_model_object(self, name: str):
        if name == "model_sampling":
            return self._model_sampling
        return self.__getattr__(name)

    def __getattr__(self, name: str):
        raise TavidError(f"TAVID Face Model Sampling only carries a noise schedule, not {name!r}", where="model",
                         fix="Connect it to a scheduler node (BasicScheduler), not to a sampler or a model patch.")


class ComposeDialogue(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="TAVIDComposeDialogue",
            display_name="TAVID Compose Dialogue",
            category=sockets.CATEGORY,
            description="Puts both people into one picture (side by side, stacked, or a shot that follows whoever "
                        "holds the floor, alone or with the listener as an inset) and outputs a mask of who is "
                        "speaking in each frame. Feed the images and the speech generator's audio into Create Video.",
            inputs=[
                io.Image.Input("images_a", tooltip="Frames of the first speaker."),
                io.Image.Input("images_b", tooltip="Frames of the second speaker (same size and count)."),
                io.Combo.Input("layout", options=list(LAYOUTS), default=LAYOUTS[0],
                               tooltip="side_by_side: A left, B right. stacked: A on top, B below. speaker_follow: "
                                       "one square shot of whoever holds the floor, cutting after they have spoken "
                                       "0.3 s and the shot has lasted 1.5 s. picture_in_picture: the same shot with "
                                       "the other person in a small inset at the bottom right."),
                sockets.Speech.Input("speech", tooltip="The conversation's speech, for the speaker mask."),
            ],
            outputs=[
                io.Image.Output("images", display_name="frames", tooltip="The composed frames."),
                io.Mask.Output("speaker_mask", display_name="speaker mask",
                               tooltip="Over each person's visible region, their speaking activity (1 while speaking)."),
            ],
        )

    @classmethod
    def execute(cls, images_a, images_b, layout: str, speech) -> io.NodeOutput:
        with node_errors("TAVID Compose Dialogue"):
            if images_a.shape != images_b.shape:
                raise TavidError(f"images_a {tuple(images_a.shape)} and images_b {tuple(images_b.shape)} differ",
                                 where="images", fix="Render both faces with the same size from the same motion mapper.")
            count, size = images_a.shape[0], images_a.shape[2]
            if images_a.shape[1] != size:
                raise TavidError(f"faces must be square, got {images_a.shape[2]}x{images_a.shape[1]}", where="images_a")
            width, height = canvas_size(layout, size)
            fps = count / speech.duration_s
            speaking_a, speaking_b = speech.activity(0, count, fps), speech.activity(1, count, fps)
            holder = floor_holder(speaking_a, speaking_b, fps)
            out = frames_tensor(count, height, width, node="TAVID Compose Dialogue", field="images")
            for start in range(0, count, WINDOW):
                stop = min(start + WINDOW, count)
                out[start:stop] = torch.from_numpy(compose(layout, images_a[start:stop, ..., :3].float().cpu().numpy(),
                                                           images_b[start:stop, ..., :3].float().cpu().numpy(),
                                                           holder=holder[start:stop]))
            mask = speaker_mask(layout, size, speaking_a, speaking_b, holder)
        return io.NodeOutput(out, torch.from_numpy(mask))


NODES = [FaceSampler, FaceModelSampling, ComposeDialogue]

"""TAVID Evaluate: the four-dimension report of `tavid eval` for a video inside a graph."""
from __future__ import annotations

import json

from comfy_api.latest import io

from ..tavid_core.errors import TavidError
from ..tavid_core.eval import (Reference, check_eval_packages, clip_from_arrays, clip_from_file, evaluate,
                               format_report, reference_from_speech, report_tables, rounded)
from . import sockets
from .convert import from_audio, reference_image
from .errors import node_errors
from .runtime import node_runtime

NODE = "TAVID Evaluate"


def _video_clip(video):
    """A file-backed VIDEO is decoded frame by frame; one built in the graph (Create Video) already
    holds its frames, and ComfyUI 0.3.64 cannot stream it (its MP4 buffer has no format)."""
    try:
        return clip_from_file(video.get_stream_source(), where="video")
    except ValueError:
        parts = video.get_components()
    if parts.audio is None:
        raise TavidError("the video has no audio", where="video", fix="Evaluate a video with the conversation audio.")
    samples, rate = from_audio(parts.audio, "video")
    return clip_from_arrays(parts.images.cpu().numpy(), float(parts.frame_rate), samples, rate, where="video")


def _clip(video, images, audio, frame_rate: float):
    if video is not None:
        return _video_clip(video)
    if images is None or audio is None:
        raise TavidError("nothing to evaluate", where="video",
                         fix="Connect a VIDEO, or both images and audio (with their frame_rate).")
    samples, rate = from_audio(audio, "audio")
    return clip_from_arrays(images.cpu().numpy(), frame_rate, samples, rate, where="images")


class Evaluate(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="TAVIDEvaluate",
            display_name=NODE,
            category=sockets.CATEGORY,
            description="Measures a side-by-side two-person conversation video, offline: talking-face realism, "
                        "listening responsiveness, dyadic fluency and speech quality, per person (A left, B right) "
                        "and overall. Works on any such video; the speech's timeline adds timing errors and word "
                        "error rates. Needs the pack's [eval] extra; `tavid models fetch` adds MediaPipe's face "
                        "landmarks and the voice measures (the report names any fallback it used).",
            inputs=[
                io.Video.Input("video", optional=True, tooltip="The conversation video with its audio."),
                io.Image.Input("images", optional=True, tooltip="Or: the frames (e.g. from TAVID Compose Dialogue)..."),
                io.Audio.Input("audio", optional=True, tooltip="...with the conversation audio..."),
                io.Float.Input("frame_rate", default=25.0, min=1.0, max=120.0, step=1.0,
                               tooltip="...at this frame rate (ignored for a VIDEO)."),
                sockets.Speech.Input("speech", optional=True,
                                     tooltip="The speech that made the video: its timeline says who speaks when. "
                                             "Leave empty to find the speakers from the faces."),
                sockets.Dialogue.Input("dialogue", optional=True,
                                       tooltip="The script: speaker names, and word error rates without a speech."),
                io.Image.Input("reference_a", optional=True, tooltip="Photo of A (default: the first frame)."),
                io.Image.Input("reference_b", optional=True, tooltip="Photo of B (default: the first frame)."),
            ],
            outputs=[
                io.String.Output("report", display_name="report", tooltip="The four sections as text tables."),
                io.String.Output("report_json", display_name="report JSON",
                             tooltip="The same numbers as one JSON object (keys as in the README)."),
            ],
            is_output_node=True,
        )

    @classmethod
    def execute(cls, video=None, images=None, audio=None, frame_rate: float = 25.0, speech=None, dialogue=None,
                reference_a=None, reference_b=None) -> io.NodeOutput:
        with node_errors(NODE):
            check_eval_packages(where="the pack's [eval] extra")
            clip = _clip(video, images, audio, frame_rate)
            reference = reference_from_speech(speech) if speech is not None else Reference()
            if dialogue is not None:
                reference = reference.with_texts(dialogue, "dialogue")
            refs = tuple(None if image is None else reference_image(image, field)
                         for image, field in ((reference_a, "reference_a"), (reference_b, "reference_b")))
            report = rounded(evaluate(clip, reference, refs, node_runtime(), name="video", where="video"))
        text = format_report(report)
        # the text for any frontend, the numbers for the pack's own, which draws them as tables in the node
        return io.NodeOutput(text, json.dumps(report, ensure_ascii=False),
                             ui={"text": [text], "tavid_report": [report_tables(report)]})


NODES = [Evaluate]

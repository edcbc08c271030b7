"""Evaluate a two-person conversation video on TAVID's four dimensions, fully offline.

    from tavid_core.eval import evaluate_video, format_report
    report = evaluate_video("conversation.mp4", timeline="conversation.json")
    print(format_report(report))

Works on this pack's output and on any side-by-side two-person video with mixed audio: without a
timeline the speakers are found from the faces.
"""
from __future__ import annotations

import os

import numpy as np

from ..analysis.faces import face_analyzer
from ..errors import TavidError
from ..media.audio import resample
from ..media.images import as_uint8_rgb, load_image
from ..runtime import Runtime, StandaloneRuntime
from ..runtime.stage_clock import StageClock
from .activity import VAD_RATE, measure_activity, speech_segments, tighten
from .clip import Clip, clip_from_file
from .deps import check_eval_packages
from .face_signals import face_signals
from .fluency import conversation_fluency, speaker_fluency
from .listening import listening
from .realism import FaceReference, realism, speech_envelope
from .reference import Reference, load_timeline
from .report import PEOPLE, REPORT_VERSION, with_overall
from .speech_quality import speech_quality
from .tracking import FaceTrack, sharpness, track_faces


def face_reference(image: np.ndarray | None, track: FaceTrack, where: str) -> FaceReference:
    if image is None:
        return FaceReference(track.embeddings[0], track.sharpness[0], "first frame")
    analysis = face_analyzer().analyze(image, embedding=True, where=where)
    return FaceReference(analysis.embedding, sharpness(as_uint8_rgb(image), analysis.landmarks), "image")


def evaluate(clip: Clip, reference: Reference = Reference(), references: tuple = (None, None),
             runtime: Runtime | None = None, name: str = "video", where: str = "video") -> dict:
    """The full report (see report.py for its layout) for a clip. `references` are optional
    reference images of A and B."""
    check_eval_packages()
    runtime = runtime or StandaloneRuntime(device="cpu", quiet=True)
    clock = StageClock()

    tracks = track_faces(clip, runtime, where)
    signals = tuple(face_signals(t, clip.fps) for t in tracks)
    face_refs = [face_reference(image, track, f"reference {p}") for image, track, p in zip(references, tracks, PEOPLE)]
    count = signals[0].num_frames
    clock.lap("faces")

    audio = resample(clip.audio, clip.sample_rate, VAD_RATE)
    segments = speech_segments(audio)
    activity = measure_activity(audio, signals, reference, segments)
    timed = measure_activity(audio, signals, reference, tighten(audio, segments))  # exact edges, for timing
    owner = activity.at_frames(clip.fps, count)
    envelope = speech_envelope(audio, VAD_RATE, clip.fps, count)
    report = {
        "version": REPORT_VERSION,
        "video": {"name": name, "duration_s": round(count / clip.fps, 3), "frames": count, "fps": clip.fps,
                  "width": clip.width, "height": clip.height},
        "reference": {"speakers_from": activity.source, "source": reference.source,
                      "names": list(reference.names) if reference.names else None,
                      "faces": [r.source for r in face_refs], "script": reference.texts is not None},
        "realism": with_overall("realism", {
            p: realism(tracks[i], signals[i], face_refs[i], envelope, owner == i) for i, p in enumerate(PEOPLE)}),
        "listening": with_overall("listening", {
            p: listening(i, signals, activity, owner) for i, p in enumerate(PEOPLE)}),
        "fluency": with_overall("fluency", {p: speaker_fluency(timed, reference, i) for i, p in enumerate(PEOPLE)},
                                conversation_fluency(timed, reference)),
    }
    clock.lap("motion and timing")
    quality = speech_quality(audio, activity, reference.texts)
    report["speech"] = with_overall("speech", quality, quality["overall"])
    clock.lap("speech")
    report["seconds"] = clock.seconds
    return report


def timeline_beside(video: str) -> str | None:
    """The JSON `tavid generate` writes next to its video, when it is there."""
    path = os.path.splitext(video)[0] + ".json"
    return path if os.path.isfile(path) else None


def evaluate_video(video: str, timeline: str | None = None, script: str | None = None,
                   ref_a: str | None = None, ref_b: str | None = None, runtime: Runtime | None = None) -> dict:
    """Evaluate a video file; `timeline`, `script` and the reference images are optional paths."""
    check_eval_packages()
    reference = load_timeline(timeline) if timeline else Reference()
    if script:
        from ..dialogue import read_script
        reference = reference.with_texts(read_script(script), script)
    images = tuple(_image(path, flag) for path, flag in ((ref_a, "--ref-a"), (ref_b, "--ref-b")))
    return evaluate(clip_from_file(video), reference, images, runtime, name=os.path.basename(video), where=video)


def _image(path: str | None, flag: str):
    if path is None:
        return None
    try:
        return load_image(path)
    except TavidError as e:
        raise e.located(flag) from None


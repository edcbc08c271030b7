"""Evaluate a two-person conversation video on TAVID's four dimensions, fully offline.

    from tavid_core.eval import evaluate_video, format_report
    report = evaluate_video("conversation.mp4", timeline="conversation.json")
    print(format_report(report))

Works on this pack's output and on any side-by-side two-person video with mixed audio: without a
timeline the speakers are found from the faces.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..analysis.age_sex import AgeSex, age_sex_estimator
from ..analysis.face_landmarker import landmarker_unavailable
from ..analysis.faces import face_analyzer
from ..analysis.wheel_models import fallback_note, model_path
from ..errors import TavidError
from ..media.audio import resample
from ..media.images import as_uint8_rgb, load_image
from ..runtime import Runtime, StandaloneRuntime
from ..runtime.stage_clock import StageClock
from .activity import VAD_RATE, measure_activity, speech_segments, tighten, timeline_owner
from .clip import Clip, clip_from_file
from .deps import check_eval_packages
from .face_signals import face_signals
from .fluency import conversation_fluency, speaker_fluency
from .landmark_layout import DLIB68, MEDIAPIPE478
from .listening import listening
from .mesh_tracking import track_meshes
from .realism import STILL_MOUTH, FaceReference, realism, speech_envelope
from .reference import Reference, load_timeline
from .report import PEOPLE, REPORT_VERSION, with_overall
from .speech_quality import speech_quality
from .tracking import FaceTrack, sharpness, track_faces
from .voices import voice_face_match
from .words_heard import recogniser

SPEAKER_ENCODER = "resemblyzer speaker encoder"
AGE_SEX = "Cydral age and sex networks"


def face_reference(image: np.ndarray | None, track: FaceTrack, where: str) -> FaceReference:
    if image is None:
        return FaceReference(track.embeddings[0], track.sharpness[0], "first frame")
    analysis = face_analyzer().analyze(image, embedding=True, where=where)
    return FaceReference(analysis.embedding, sharpness(as_uint8_rgb(image), analysis.landmarks), "image")


def analysers() -> tuple[dict, list[str]]:
    """Which model measures what here ({"landmarks", "words_by", "voices_by", "age_sex_by"}), and a note
    for each one that falls back."""
    notes = []
    why = landmarker_unavailable()
    if why:
        notes.append(f"faces by dlib's 68 points, not MediaPipe's landmarker: {why}")
    words_by, note = recogniser()
    notes += [note] if note else []
    voices_by = SPEAKER_ENCODER if model_path("speaker-encoder") else None
    if voices_by is None:
        notes.append(f"no voice consistency or separation: {fallback_note('speaker-encoder')}")
    age_sex_by = AGE_SEX if model_path("age") and model_path("sex") else None
    if age_sex_by is None:
        notes.append(f"no voice-face match: {fallback_note('age' if not model_path('age') else 'sex')}")
    used = {"landmarks": (DLIB68 if why else MEDIAPIPE478).name, "words_by": words_by, "voices_by": voices_by,
            "age_sex_by": age_sex_by}
    return used, notes


def _apparent(image: np.ndarray | None, track: FaceTrack) -> AgeSex | None:
    """The apparent age and sex of the reference photo, or else of the face as first seen."""
    picture = image if image is not None else track.first_face
    return None if picture is None else age_sex_estimator().estimate(picture)


def evaluate(clip: Clip, reference: Reference = Reference(), references: tuple = (None, None),
             runtime: Runtime | None = None, name: str = "video", where: str = "video") -> dict:
    """The full report (see report.py for its layout) for a clip. `references` are optional
    reference images of A and B."""
    check_eval_packages()
    runtime = runtime or StandaloneRuntime(device="cpu", quiet=True)
    clock = StageClock()
    used, notes = analysers()
    audio = resample(clip.audio, clip.sample_rate, VAD_RATE)

    def measure_speech(owner):
        return speech_quality(audio, owner, reference, used["words_by"], used["voices_by"] is not None)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tavid-sound") as sound:
        # the sound needs no faces to be measured when the timeline says who speaks: it runs beside the tracking
        segments = sound.submit(speech_segments, audio)
        early = sound.submit(lambda: measure_speech(timeline_owner(audio, reference, segments.result()))) \
            if reference.has_timeline else None
        tracks = (track_faces if used["landmarks"] == DLIB68.name else track_meshes)(clip, runtime, where)
        signals = tuple(face_signals(t, clip.fps) for t in tracks)
        face_refs = [face_reference(image, track, f"reference {p}")
                     for image, track, p in zip(references, tracks, PEOPLE)]
        faces = [_apparent(image, track) for image, track in zip(references, tracks)] if used["age_sex_by"] \
            else [None, None]
        count = signals[0].num_frames
        clock.lap("faces")

        segments = segments.result()
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
                          "faces": [r.source for r in face_refs], "script": reference.texts is not None,
                          **used, "notes": notes},
            "realism": with_overall("realism", {
                p: realism(tracks[i], signals[i], face_refs[i], envelope, owner == i) for i, p in enumerate(PEOPLE)}),
            "listening": with_overall("listening", {
                p: listening(i, signals, activity, owner) for i, p in enumerate(PEOPLE)}),
            "fluency": with_overall("fluency", {p: speaker_fluency(timed, reference, i) for i, p in enumerate(PEOPLE)},
                                    conversation_fluency(timed, reference)),
        }
        clock.lap("motion and timing")
        quality = early.result() if early is not None else measure_speech(activity.owner)
    for person, key in enumerate(PEOPLE):
        quality[key].update(voice_face_match(faces[person], quality[key]["pitch_median_hz"]))
    report["speech"] = with_overall("speech", quality, quality["overall"])
    for key in PEOPLE:
        motion = report["realism"][key]["mouth_motion"]
        if motion is not None and motion < STILL_MOUTH:
            notes.append(f"{key}: no mouth motion while speaking (it moves {motion:.1f} times landmark noise), "
                         "so no lip sync is scored")
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


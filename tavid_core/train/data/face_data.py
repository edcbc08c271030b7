"""Face-side training data from dyadic clips: per person, face crops, tracked dlib landmarks and the Motion
labels fitted to them; for both, their speech as the built-in speech engine would describe it.

Per person: the first frame's main face (dlib, as for a reference photo) fixes a square crop box for the
whole clip (the built-in renderer's `portrait_crop`), so head motion stays visible as motion. Every frame
is cut to that box; dlib finds the face in the cut and marks its 68 points, and where detection fails the
shape predictor runs on a box placed from the previous frame's points. The reference is the first crop
with its lips closed, and its rig (`person_rig`) is what the labels are fitted to, exactly as the
built-in renderer prepares a reference photo.

Audio: each person's own track at 24 kHz; the timeline comes from voice activity (energy, with the
partner's crosstalk discounted), the features are `audio_features.SPEECH_FEATURES` at the built-in
engine's rate, and speaking activity per frame follows that timeline. Clip length follows the audio:
T = round(duration * fps).

A prepared clip is cached as one safetensors file keyed by its files' sizes and modification times, the
span, size and fps; a cache hit reads that file and runs no dlib.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from ...analysis.audio_features import SPEECH_FEATURES, speech_features
from ...analysis.faces import FaceAnalyzer, face_analyzer
from ...analysis.voice_activity import voice_activity
from ...checkpoints import write_checkpoint
from ...engines.builtin.speech import FEATURE_RATE, BuiltinSpeechGenerator
from ...engines.shared.face_rig import FaceRig
from ...engines.shared.lips import close_photo_mouth
from ...engines.shared.portrait import portrait_crop
from ...errors import TavidError
from ...limits import MAX_SIZE, MIN_SIZE
from ...media.images import resize
from ...runtime import Runtime
from ...types import EXPR_CHANNELS, Motion, Segment, Speech, num_frames
from .clips import load_clip_audio
from .dyadic import DyadicRecord, read_dyadic_manifest
from .manifest import ClipRecord
from .motion_fit import fit_motion

log = logging.getLogger("tavid")

SAMPLE_RATE = BuiltinSpeechGenerator.sample_rate
META_KEY = "tavid_face_data"
CACHE_VERSION = "1"       # bump when what a cached clip holds or how it is computed changes
PEOPLE = ("a", "b")
_WORK_SIDE = 384          # smaller cuts are enlarged to this for dlib: its points are steadier on a face of
                          # ~150 px even when the pixels are the same (0.33 px jitter instead of 0.65)
_DETECT_SIDES = (240, 272, 304, 336)  # the detector searches copies this big (the face, >= 40 % of the cut, is
                          # >= 96 px): four grids a quarter of its 20 % size step apart (see _Tracker)
_MIN_OVERLAP = 0.3        # a detection must overlap the tracked face this much (IoU) to be taken for it
_BOX_RAISE = -0.04        # the detector's box centre lies this far above the points' centre, in box sides
_SPREADS = ((0, 0, 1), (0.04, 0, 1), (-0.04, 0, 1), (0, 0.04, 1), (0, -0.04, 1), (0, 0, 0.94), (0, 0, 1.06))


@dataclass(frozen=True)
class PersonTrack:
    frames: np.ndarray      # uint8 [T, S, S, 3] face crops, one fixed crop box for the clip
    landmarks: np.ndarray   # float32 [T, 68, 2] dlib landmarks in crop pixels
    motion: Motion          # labels fitted to the landmarks, fps = clip fps, speaking from the audio
    reference: np.ndarray   # uint8 [S, S, 3] the first frame (lips closed) the rig was built from


@dataclass(frozen=True)
class DyadicClip:
    people: tuple[PersonTrack, PersonTrack]
    speech: Speech          # both people's own tracks [2, N] at 24 kHz, timeline from voice activity
    fps: float


# --------------------------------------------------------------------------------------------- faces
def reference_and_rig(frame: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, FaceRig]:
    """The reference picture (the frame with its lips closed, uint8) and its rig, as the built-in
    renderer prepares a photo; a pure function of the first crop and its landmarks."""
    pixels, points = close_photo_mouth(frame.astype(np.float32) / 255.0, landmarks)
    return (np.clip(pixels, 0, 1) * 255 + 0.5).astype(np.uint8), FaceRig.from_landmarks(points)


def person_rig(track: PersonTrack) -> FaceRig:
    """The rig a track's Motion labels were fitted to (for motion maps, rendering or checking the fit)."""
    return reference_and_rig(track.frames[0], track.landmarks[0])[1]


def cut_square(frame: np.ndarray, x0: int, y0: int, side: int) -> np.ndarray:
    """The square (x0, y0, side) of a frame, padded by mirroring where it leaves the picture (as
    portrait_crop pads)."""
    h, w = frame.shape[:2]
    pad = max(0, -x0, -y0, x0 + side - w, y0 + side - h)
    if pad:
        frame = np.pad(frame, ((pad, pad), (pad, pad), (0, 0)), mode="reflect" if pad < min(h, w) else "edge")
    return frame[y0 + pad:y0 + pad + side, x0 + pad:x0 + pad + side]


def _overlap(a, b) -> float:
    """Intersection over union of two (left, top, right, bottom) boxes."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / max(union, 1e-9)


def _square(centre: np.ndarray, side: float) -> tuple[float, ...]:
    return (centre[0] - side / 2, centre[1] - side / 2, centre[0] + side / 2, centre[1] + side / 2)


def _centre(box) -> np.ndarray:
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])


class _Tracker:
    """68 landmarks per frame of one person's cuts.

    dlib's points follow the box they are predicted in almost one to one, and the detector places its
    boxes on a grid of 8-pixel cells in 20 % size steps, so a face that moves a little can make the
    box, and every point, jump by several pixels. So the face is detected at a few image sizes whose
    grids fall differently and the boxes are averaged (the jumps shrink to about a quarter), and the
    points are the mean of the predictions in a few boxes around that (half the jitter: 0.23 px
    instead of 0.34 on a 128 px rendered face enlarged to 384 px). Where no detection overlaps the
    face, the previous frame's points place the box."""

    def __init__(self, analyzer: FaceAnalyzer, landmarks: np.ndarray, box):
        self.analyzer = analyzer
        self.previous = landmarks
        self.side = float(box[2] - box[0])
        self.missed = 0

    def _box(self, image: np.ndarray) -> tuple[float, ...]:
        lo, hi = self.previous.min(axis=0), self.previous.max(axis=0)
        placed = _square((lo + hi) / 2 + [0.0, _BOX_RAISE * self.side], self.side)
        boxes = []
        for side in _DETECT_SIDES:
            found = [box for box, _ in self.analyzer.detect(image, max_side=side, upsample=0)]
            best = max(found, key=lambda box: _overlap(box, placed), default=None)
            if best is not None and _overlap(best, placed) >= _MIN_OVERLAP:
                boxes.append(best)
        if not boxes:
            self.missed += 1
            return placed
        box = tuple(np.mean(boxes, axis=0))
        self.side = box[2] - box[0]
        return box

    def __call__(self, image: np.ndarray) -> np.ndarray:
        box = self._box(image)
        self.previous = np.mean([self.analyzer.landmarks(image, _square(_centre(box) + self.side * np.array(shift),
                                                                        self.side * scale))
                                 for *shift, scale in _SPREADS], axis=0)
        return self.previous


def frame_times(start: float, count: int, fps: float) -> np.ndarray:
    """The frame centres of the clip, seconds in the source files."""
    return start + (np.arange(count) + 0.5) / fps


def video_frames(path: str, times: np.ndarray, where: str) -> Iterator[np.ndarray]:
    """uint8 RGB frames: the one on screen at each of `times` (seconds, ascending). Decodes one pass from
    the nearest keyframe before the first time; holds at most two frames."""
    import av
    try:
        with av.open(path) as container:
            if not container.streams.video:
                raise TavidError("the file has no video stream", where=where)
            stream = container.streams.video[0]
            base = float(stream.time_base) if stream.time_base else 0.0
            origin = stream.start_time * base if stream.start_time is not None and base else 0.0
            period = 1.0 / float(stream.average_rate or 25)
            if times[0] > 1.0 and base:
                container.seek(int((times[0] - 1.0 + origin) / base), stream=stream, backward=True)
            i, current, shown = 0, None, None
            for index, frame in enumerate(container.decode(stream)):
                at = (frame.time - origin) if frame.time is not None else index * period
                while current is not None and i < len(times) and times[i] < at:
                    shown = current.to_ndarray(format="rgb24") if shown is None else shown
                    yield shown
                    i += 1
                if i == len(times):
                    return
                current, shown, last = frame, None, at
    except av.error.FFmpegError as e:
        raise TavidError(f"cannot read the video {os.path.basename(path)} ({e})", where=where) from None
    if current is None:
        raise TavidError(f"the video {os.path.basename(path)} has no frames", where=where)
    if times[-1] > last + 2 * period:  # the last frame stays on screen for a frame or so
        raise TavidError(f"the video {os.path.basename(path)} ends at {last + period:.2f} s, before its audio "
                         f"({times[-1]:.2f} s)", where=where,
                         fix="Cut the audio to the video, or give the clip an 'end' within both.")
    frame = current.to_ndarray(format="rgb24") if shown is None else shown
    for _ in range(i, len(times)):
        yield frame


def _track_person(video: str, times: np.ndarray, size: int, where: str,
                  runtime: Runtime | None) -> tuple[np.ndarray, np.ndarray]:
    """(crops uint8 [T, S, S, 3], landmarks float32 [T, 68, 2] in crop pixels) of the video's main face."""
    crops = np.empty((len(times), size, size, 3), np.uint8)
    landmarks = np.empty((len(times), 68, 2), np.float32)
    items = enumerate(video_frames(video, times, where))
    if runtime is not None:
        items = runtime.steps(items, len(times), f"{where}: faces in {os.path.basename(video)}")
    tracker, box, work = None, None, 0
    for i, frame in items:
        if tracker is None:  # the first frame's main face fixes the crop box, and seeds the tracker
            face = face_analyzer().analyze(frame, where=f"{where}, first frame of {os.path.basename(video)}")
            _, x0, y0, side = portrait_crop(frame, face.landmarks)
            box, work = (x0, y0, side), max(side, _WORK_SIDE)
            scale, offset = work / side, np.array([x0, y0, x0, y0])
            tracker = _Tracker(face_analyzer(), (face.landmarks - [x0, y0] + 0.5) * scale - 0.5,
                               (np.asarray(face.box) - offset) * scale)
        cut = cut_square(frame, *box)
        points = tracker(cut if work == box[2] else resize(cut, work, work))
        crops[i] = resize(cut, size, size)
        landmarks[i] = (points + 0.5) * (size / work) - 0.5  # pixel centres at integers, as the renderer maps
    if tracker is not None and tracker.missed > len(times) // 2:
        log.warning("%s: the face in %s was found in only %d of %d frames; the rest were tracked", where,
                    os.path.basename(video), len(times) - tracker.missed, len(times))
    return crops, landmarks


# --------------------------------------------------------------------------------------------- audio
def _person_audio(record: DyadicRecord, person: int) -> np.ndarray:
    """One person's own voice, mono at SAMPLE_RATE, cut to the clip's span."""
    source = (record.audio_a, record.audio_b)[person] or (record.video_a, record.video_b)[person]
    clip = ClipRecord(audio=source, text="", speaker=PEOPLE[person], start=record.start, end=record.end,
                      line=record.line)
    return load_clip_audio(clip, SAMPLE_RATE)


def speech_of(tracks: np.ndarray, sample_rate: int = SAMPLE_RATE) -> Speech:
    """Speech of two people's own tracks `[2, N]`: timeline from voice activity, the built-in engine's features."""
    features = np.stack([speech_features(track, sample_rate, FEATURE_RATE) for track in tracks])
    return Speech(sample_rate=sample_rate, tracks=tracks, timeline=voice_activity(tracks, sample_rate),
                  features=features, feature_rate=FEATURE_RATE, feature_names=SPEECH_FEATURES)


def _clip_speech(record: DyadicRecord) -> Speech:
    a, b = (_person_audio(record, person) for person in (0, 1))
    n = min(len(a), len(b))  # two recordings of one conversation differ by a few samples at most
    return speech_of(np.stack([a[:n], b[:n]]))


# --------------------------------------------------------------------------------------------- cache
def _cache_path(record: DyadicRecord, size: int, fps: float, cache_dir: str) -> str:
    files = [[os.path.abspath(p), os.stat(p).st_size, os.stat(p).st_mtime_ns] if p else None
             for p in (record.video_a, record.video_b, record.audio_a, record.audio_b)]
    key = json.dumps([CACHE_VERSION, files, record.start, record.end, size, float(fps)])
    return os.path.join(cache_dir, f"dyadic-{hashlib.sha256(key.encode()).hexdigest()[:24]}.safetensors")


def _motion_tensors(motion: Motion, prefix: str = "") -> dict:
    import torch
    return {f"{prefix}pose": torch.from_numpy(motion.pose), f"{prefix}expr": torch.from_numpy(motion.expr),
            f"{prefix}speaking": torch.from_numpy(motion.speaking)}


def _motion_from(read, prefix: str, fps: float, expr_names) -> Motion:
    return Motion(fps=fps, pose=read(f"{prefix}pose"), expr=read(f"{prefix}expr"), speaking=read(f"{prefix}speaking"),
                  expr_names=tuple(expr_names))


def _write(path: str, tensors: dict, info: dict) -> None:
    """A safetensors file with all its metadata under one key: safetensors stores several keys in an
    arbitrary order, and the same data should give the same bytes."""
    write_checkpoint(path, tensors, {META_KEY: json.dumps(info, sort_keys=True)})


def _read_info(f) -> dict:
    return json.loads((f.metadata() or {})[META_KEY])


def save_motion(motion: Motion, path: str) -> None:
    """One Motion as a safetensors file (pose, expr, speaking; fps and channel names in the metadata)."""
    _write(path, _motion_tensors(motion), {"fps": float(motion.fps), "expr_names": list(motion.expr_names)})


def load_motion(path: str) -> Motion:
    from safetensors import safe_open
    with safe_open(path, framework="np") as f:
        info = _read_info(f)
        return _motion_from(f.get_tensor, "", info["fps"], info["expr_names"])


def _save_clip(clip: DyadicClip, path: str) -> None:
    import torch
    tensors = {"tracks": torch.from_numpy(clip.speech.tracks), "features": torch.from_numpy(clip.speech.features)}
    for who, person in zip(PEOPLE, clip.people):
        arrays = {"frames": person.frames, "landmarks": person.landmarks, "reference": person.reference}
        tensors |= {f"{who}.{k}": torch.from_numpy(v) for k, v in arrays.items()}
        tensors |= _motion_tensors(person.motion, f"{who}.")
    info = {"version": CACHE_VERSION, "fps": float(clip.fps), "sample_rate": clip.speech.sample_rate,
            "feature_rate": float(clip.speech.feature_rate), "feature_names": list(clip.speech.feature_names),
            "expr_names": list(EXPR_CHANNELS),
            "timeline": [[s.speaker, s.start_s, s.end_s] for s in clip.speech.timeline]}
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    _write(path, tensors, info)


def _load_clip(path: str) -> DyadicClip | None:
    """The cached clip, or None when there is none or it cannot be read (it is then made again)."""
    from safetensors import safe_open
    if not os.path.isfile(path):
        return None
    try:
        with safe_open(path, framework="np") as f:
            info, read = _read_info(f), f.get_tensor
            if info.get("version") != CACHE_VERSION:
                return None
            people = tuple(PersonTrack(frames=read(f"{who}.frames"), landmarks=read(f"{who}.landmarks"),
                                       motion=_motion_from(read, f"{who}.", info["fps"], info["expr_names"]),
                                       reference=read(f"{who}.reference")) for who in PEOPLE)
            timeline = tuple(Segment(turn=i, speaker=int(p), start_s=float(a), end_s=float(b), text="")
                             for i, (p, a, b) in enumerate(info["timeline"]))
            speech = Speech(sample_rate=int(info["sample_rate"]), tracks=read("tracks"), timeline=timeline,
                            features=read("features"), feature_rate=info["feature_rate"],
                            feature_names=tuple(info["feature_names"]))
    except Exception as e:  # noqa: BLE001 - a damaged or foreign cache file is only a miss
        log.warning("ignoring the unreadable cache file %s (%s)", path, e)
        return None
    return DyadicClip(people=people, speech=speech, fps=info["fps"])


# ------------------------------------------------------------------------------------------- prepare
def _check_settings(size: int, fps: float) -> None:
    if not isinstance(size, int) or not (MIN_SIZE <= size <= MAX_SIZE) or size % 2:
        raise TavidError(f"size must be an even number of pixels from {MIN_SIZE} to {MAX_SIZE}, got {size!r}",
                         where="size")
    if not (1.0 <= fps <= 120.0):
        raise TavidError(f"fps must be between 1 and 120, got {fps:g}", where="fps")


def _prepare(record: DyadicRecord, size: int, fps: float, runtime: Runtime | None) -> DyadicClip:
    speech = _clip_speech(record)
    frames = num_frames(speech.duration_s, fps)
    if frames < 2:
        raise TavidError(f"the clip lasts only {speech.duration_s:.3f} s", where=record.where,
                         fix="Use clips of at least a few frames.")
    times = frame_times(record.start or 0.0, frames, fps)
    people = []
    for person, video in enumerate((record.video_a, record.video_b)):
        crops, landmarks = _track_person(video, times, size, record.where, runtime)
        reference, rig = reference_and_rig(crops[0], landmarks[0])
        motion = fit_motion(rig, landmarks, fps, speech.activity(person, frames, fps))
        people.append(PersonTrack(frames=crops, landmarks=landmarks, motion=motion, reference=reference))
    return DyadicClip(people=tuple(people), speech=speech, fps=float(fps))


def prepare_clip(record: DyadicRecord, *, size: int = 128, fps: float = 25.0, cache_dir: str | None = None,
                 runtime: Runtime | None = None) -> DyadicClip:
    """Face crops, landmarks, Motion labels and speech of one dyadic clip; read from `cache_dir` when it
    holds this clip at this size and fps, else computed (and stored there)."""
    _check_settings(size, fps)
    path = None if cache_dir is None else _cache_path(record, size, fps, cache_dir)
    cached = None if path is None else _load_clip(path)
    if cached is not None:
        return cached
    clip = _prepare(record, size, fps, runtime)
    if path is not None:
        _save_clip(clip, path)
    return clip


def prepare_manifest(path: str, *, size: int = 128, fps: float = 25.0, cache_dir: str | None = None,
                     runtime: Runtime | None = None) -> list[DyadicClip]:
    """Every clip of a dyadic manifest, prepared (see prepare_clip)."""
    records = read_dyadic_manifest(path)
    items = records if runtime is None else runtime.steps(records, len(records), "preparing dyadic clips")
    return [prepare_clip(r, size=size, fps=fps, cache_dir=cache_dir, runtime=runtime) for r in items]

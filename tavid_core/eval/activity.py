"""Who speaks when, measured: speech found by voice activity detection in the mixed soundtrack, each
moment of it given to one person.

With a timeline, speech goes to the person whose turn is nearest (a backchannel said over the
partner's turn leaves that time to the partner); without one, to the face whose mouth is moving the
most (the only way to tell two voices apart in one mixed track). Either way the faces also say when
both people articulate at once, which is how overlapping speech is seen.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import median_filter

from ..analysis.audio_features import energy_db
from ..analysis.spans import lasting, runs
from .deps import require
from .face_signals import FaceSignals
from .reference import Reference

RATE = 100.0                 # Hz of the activity grid
VAD_RATE = 16000
MERGE_GAP_S = 1.0            # one person's speech with a silence shorter than this is one turn
TALKING_SHARE = 0.4          # a mouth moving at this share of its owner's typical speaking motion is talking
OWNER_SMOOTHING_S = 0.5
EDGE_RATE = 200.0            # Hz at which segment edges are refined
EDGE_BELOW_PEAK_DB = 40.0    # a segment's sound starts and ends where its level comes within this of its peak
EDGE_ABOVE_FLOOR_DB = 12.0   # ... but never closer than this to the track's noise floor
MIN_SILENCE_S = 0.1          # a quieter stretch this long inside a segment splits it (silero's own setting)


def speech_segments(audio_16k: np.ndarray) -> list[tuple[float, float]]:
    """(start, end) seconds of speech found by silero-vad: stretches of talk with a little margin,
    what quality scores and lip sync are measured on."""
    torch, silero = require("torch"), require("silero_vad")
    model = _silero_model()
    found = silero.get_speech_timestamps(torch.from_numpy(np.ascontiguousarray(audio_16k, dtype=np.float32)), model,
                                         sampling_rate=VAD_RATE, min_silence_duration_ms=int(MIN_SILENCE_S * 1000),
                                         speech_pad_ms=30)
    return [(s["start"] / VAD_RATE, s["end"] / VAD_RATE) for s in found]


def tighten(audio_16k: np.ndarray, segments: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The sound itself, for timing. silero decides in 32 ms windows and pads what it finds, which blurs
    the gaps between turns by tens of milliseconds and may join two turns across a short gap; pauses and
    floor transfers are judged on that scale. So each segment is narrowed to its sound, found in 5 ms
    steps, and split where it falls quiet for MIN_SILENCE_S."""
    level = energy_db(audio_16k, VAD_RATE, EDGE_RATE)
    floor = float(np.percentile(level, 10)) if len(level) else 0.0
    out = []
    for start, end in segments:
        i0 = int(start * EDGE_RATE)
        part = level[i0:int(np.ceil(end * EDGE_RATE))]
        if not len(part):
            out.append((start, end))
            continue
        loud = part >= max(part.max() - EDGE_BELOW_PEAK_DB, floor + EDGE_ABOVE_FLOOR_DB)
        for a, b in runs(~lasting(~loud, MIN_SILENCE_S * EDGE_RATE)):
            hit = np.flatnonzero(loud[a:b]) + i0 + a
            # energy_db's frame j is centred on j / EDGE_RATE and reaches a step either side
            if len(hit):
                out.append((max(start, (hit[0] - 1) / EDGE_RATE), min(end, (hit[-1] + 1) / EDGE_RATE)))
    return out


_model = None


def _silero_model():
    global _model
    if _model is None:
        _model = require("silero_vad").load_silero_vad(onnx=True)
    _model.reset_states()
    return _model


@dataclass(frozen=True)
class Turn:
    speaker: int
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Activity:
    speech: np.ndarray        # [N] bool at RATE: someone is speaking
    owner: np.ndarray         # [N] int: who speaks (0, 1), -1 in silence
    talking: np.ndarray       # [2, N] bool: that face articulates while speech is heard
    face_owner: np.ndarray    # [N] int: the face whose mouth moves more (whatever the timeline says)
    segments: tuple[tuple[float, float], ...]  # the VAD's speech segments, seconds
    source: str               # "timeline" or "faces"
    backchannel: np.ndarray   # [2, N] bool: inside one of that person's backchannels on the timeline

    @property
    def duration_s(self) -> float:
        return len(self.speech) / RATE

    def _cells(self, fps: float, count: int) -> np.ndarray:
        """The activity-grid cell of each video frame's centre."""
        return np.minimum(((np.arange(count) + 0.5) / fps * RATE).astype(int), len(self.owner) - 1)

    def at_frames(self, fps: float, count: int) -> np.ndarray:
        """Who speaks at each video frame's centre (-1: nobody)."""
        return self.owner[self._cells(fps, count)]

    def backchannel_frames(self, person: int, fps: float, count: int) -> np.ndarray:
        """[count] bool: the video frames where the timeline has the person saying a backchannel."""
        return self.backchannel[person, self._cells(fps, count)]

    def turns(self) -> list[Turn]:
        return turns_of(self.owner)


def turns_of(owner: np.ndarray) -> list[Turn]:
    """Each person's stretches of speech on the activity grid, merging their pauses shorter than
    MERGE_GAP_S unless the other person speaks in between."""
    pieces = []
    for person in (0, 1):
        pieces += [(a, b, person) for a, b in runs(owner == person)]
    pieces.sort()
    merged: list[list[int]] = []
    for a, b, person in pieces:
        if merged and merged[-1][2] == person and a - merged[-1][1] < MERGE_GAP_S * RATE:
            merged[-1][1] = b
        else:
            merged.append([a, b, person])
    return [Turn(p, a / RATE, b / RATE) for a, b, p in merged]


def grid_times(count: int) -> np.ndarray:
    """The centres of the first `count` cells of the activity grid, seconds."""
    return (np.arange(count) + 0.5) / RATE


def spans_mask(spans, times: np.ndarray) -> np.ndarray:
    """True at the `times` that fall inside one of the (start, end) `spans`, seconds."""
    mask = np.zeros(len(times), bool)
    for start, end in spans:
        mask[(times >= start) & (times < end)] = True
    return mask


def _owner_from_timeline(reference: Reference, times: np.ndarray) -> np.ndarray:
    """The speaker of the turn that contains each time, or of the nearest segment. Where a backchannel
    overlaps the partner's turn the turn keeps the floor: "mm-hm" does not take it over."""
    segments = reference.segments
    starts = np.array([s.start_s for s in segments])
    ends = np.array([s.end_s for s in segments])
    distance = np.maximum(starts[None, :] - times[:, None], 0) + np.maximum(times[:, None] - ends[None, :], 0)
    speakers = np.array([s.speaker for s in segments])
    owner = speakers[np.argmin(distance, axis=1)]
    turns = ~np.array([s.is_backchannel for s in segments])
    if turns.any():
        in_turn = (distance[:, turns] == 0).any(axis=1)
        owner = np.where(in_turn, speakers[turns][np.argmin(distance[:, turns], axis=1)], owner)
    return owner


def _backchannel_mask(reference: Reference, times: np.ndarray) -> np.ndarray:
    """[2, len(times)] bool: the times inside each person's backchannels on the timeline."""
    return np.stack([spans_mask([(s.start_s, s.end_s) for s in reference.segments
                                 if s.speaker == p and s.is_backchannel], times) for p in (0, 1)])


def _frame_index(times: np.ndarray, fps: float, count: int) -> np.ndarray:
    return np.clip((times * fps).astype(int), 0, count - 1)


def face_owner(signals: tuple[FaceSignals, FaceSignals]) -> np.ndarray:
    """[T] per video frame: the face whose mouth moves more, smoothed over half a second."""
    motion = np.stack([s.mouth_motion() for s in signals])
    owner = np.argmax(motion, axis=0)
    size = max(1, int(round(OWNER_SMOOTHING_S * signals[0].fps)) | 1)
    return median_filter(owner, size=size, mode="nearest")


def timeline_owner(audio_16k: np.ndarray, reference: Reference, segments: list[tuple[float, float]]) -> np.ndarray:
    """[N] on the activity grid over the sound: who speaks by the timeline where speech is heard, -1 in
    silence. It needs no faces, so the sound can be measured while they are still being tracked."""
    times = grid_times(int(np.ceil(len(audio_16k) / VAD_RATE * RATE)))
    return np.where(spans_mask(segments, times), _owner_from_timeline(reference, times), -1).astype(np.int8)


def measure_activity(audio_16k: np.ndarray, signals: tuple[FaceSignals, FaceSignals], reference: Reference,
                     segments: list[tuple[float, float]] | None = None) -> Activity:
    fps, count = signals[0].fps, signals[0].num_frames
    duration = max(count / fps, len(audio_16k) / VAD_RATE)
    times = grid_times(int(np.ceil(duration * RATE)))
    segments = speech_segments(audio_16k) if segments is None else segments
    speech = spans_mask(segments, times)
    frames = _frame_index(times, fps, count)
    by_face = face_owner(signals)[frames]
    if reference.has_timeline:
        owner, source = _owner_from_timeline(reference, times), "timeline"
    else:
        owner, source = by_face, "faces"
    owner = np.where(speech, owner, -1)

    motion = np.stack([s.mouth_motion() for s in signals])[:, frames]
    talking = np.zeros((2, len(times)), bool)
    for person in (0, 1):
        own = owner == person
        if own.any():
            talking[person] = speech & (motion[person] > TALKING_SHARE * np.median(motion[person][own]))
    return Activity(speech, owner.astype(np.int8), talking, by_face.astype(np.int8), tuple(segments), source,
                    _backchannel_mask(reference, times))

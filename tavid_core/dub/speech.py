"""The Speech of a dubbed recording: its timeline, each person's part of the sound, and the features the
built-in speech engine writes.

Tracks (16 kHz): each person's own track, or the mix, kept where that person speaks (10 ms fades); with a
mix, a moment both speak is shared half and half, so the tracks still add up to the recording. Features:
of each person's part at full strength, brought to the loudness of the built-in voices (-20 dBFS over their
speech) first, so a quiet recording opens mouths as wide as a loud one; the sound itself is not changed.
"""
from __future__ import annotations

import numpy as np

from ..analysis.audio_features import SPEECH_FEATURES, speech_features
from ..engines.builtin.speech import FEATURE_RATE
from ..runtime import Runtime
from ..types import Segment, Speech
from .recording import SAMPLE_RATE, Recording

TARGET_DBFS = -20.0           # the built-in voices' level (engines/timeline.py)
MAX_GAIN_DB = 30.0
FADE_S = 0.01


def ownership(segments: list[Segment], person: int, samples: int) -> np.ndarray:
    """[samples] 0..1: 1 inside the person's segments, with FADE_S ramps at their edges."""
    weight = np.zeros(samples, np.float32)
    fade = int(FADE_S * SAMPLE_RATE)
    ramp = np.linspace(0.0, 1.0, fade + 2, dtype=np.float32)[1:-1]
    for seg in segments:
        if seg.speaker != person:
            continue
        a, b = int(seg.start_s * SAMPLE_RATE), min(samples, int(np.ceil(seg.end_s * SAMPLE_RATE)))
        weight[a:b] = 1.0
        lo, hi = max(0, a - fade), min(samples, b + fade)
        weight[lo:a] = np.maximum(weight[lo:a], ramp[fade - (a - lo):])
        weight[b:hi] = np.maximum(weight[b:hi], ramp[::-1][:hi - b])
    return weight


def levelled(part: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """`part` scaled so its speech (where `weight` is 1) is at TARGET_DBFS."""
    inside = weight >= 1.0
    if not inside.any():
        return part
    level = 10 * np.log10(np.mean(part[inside].astype(np.float64) ** 2) + 1e-20)
    gain = np.clip(TARGET_DBFS - level, -MAX_GAIN_DB, MAX_GAIN_DB)
    return part * np.float32(10 ** (gain / 20))


def assemble(recording: Recording, segments: list[Segment], *, runtime: Runtime) -> Speech:
    samples = recording.tracks.shape[1]
    weights = np.stack([ownership(segments, p, samples) for p in (0, 1)])
    features, tracks = [], np.empty((2, samples), np.float32)
    for person in runtime.steps((0, 1), 2, "speech features"):
        source = recording.tracks[0 if recording.is_mix else person]
        part = source * weights[person]
        features.append(speech_features(levelled(part, weights[person]), SAMPLE_RATE, FEATURE_RATE))
        tracks[person] = part
    if recording.is_mix:   # a moment both own is shared, so the two tracks sum to the recording
        tracks /= np.maximum(weights.sum(axis=0), 1.0)
    return Speech(sample_rate=SAMPLE_RATE, tracks=tracks, timeline=tuple(segments), features=np.stack(features),
                  feature_rate=FEATURE_RATE, feature_names=SPEECH_FEATURES)

"""`Speech.features` of the neural speech engines: the named features the built-in motion mapper reads
(energy, pitch, voiced) and then a DiT's hidden layer (`hidden_0` ...), averaged over FEATURE_STRIDE mel
frames (31.25 Hz at hop 256), so either motion mapper can follow neural speech and long dialogues stay small.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ....analysis.audio_features import SPEECH_FEATURES, speech_features
from ...timeline import Placed

FEATURE_STRIDE = 3          # mel frames averaged into one feature frame: 93.75 Hz -> 31.25 Hz


def feature_names(dim: int) -> tuple[str, ...]:
    return SPEECH_FEATURES + tuple(f"hidden_{k}" for k in range(dim))


def feature_rate(sample_rate: int, hop: int) -> float:
    return sample_rate / hop / FEATURE_STRIDE


def with_hidden(tracks: np.ndarray, placed: list[Placed], hidden_of: Callable[[Placed], tuple[np.ndarray, int]],
                sample_rate: int, hop: int, dim: int) -> np.ndarray:
    """`[2, T, 3 + dim]` at `feature_rate`: the named features of each track, then each utterance's hidden
    features where it sounds (zeros where the person is quiet). `hidden_of(placed)` gives an utterance's
    hidden features `[frames, dim]` at the mel rate and the mel frame where its sound starts."""
    rate = feature_rate(sample_rate, hop)
    frames = -(-tracks.shape[1] // (hop * FEATURE_STRIDE))
    named = np.stack([_fit(speech_features(tracks[s], sample_rate, rate), frames) for s in (0, 1)])
    hidden = np.zeros((2, frames, dim), np.float32)
    for p in placed:
        features, first_frame = hidden_of(p)
        pooled = _pool(features[first_frame:], FEATURE_STRIDE)
        at = int(round(p.start_s * rate))
        n = min(len(pooled), frames - at, max(1, round(p.utt.duration_s * rate)))
        hidden[p.speaker, at:at + n] = pooled[:n]
    return np.concatenate([named, hidden], axis=2)


def _pool(features: np.ndarray, stride: int) -> np.ndarray:
    """Means over `stride` consecutive frames (the last group may be shorter)."""
    frames = len(features)
    groups = -(-frames // stride)
    padded = np.zeros((groups * stride, features.shape[1]), np.float32)
    padded[:frames] = features
    counts = np.minimum(stride, frames - np.arange(groups) * stride)[:, None]
    return padded.reshape(groups, stride, -1).sum(axis=1) / counts


def _fit(values: np.ndarray, frames: int) -> np.ndarray:
    """`values` cut or zero-padded to `frames` rows."""
    out = np.zeros((frames, values.shape[1]), np.float32)
    out[:min(frames, len(values))] = values[:frames]
    return out

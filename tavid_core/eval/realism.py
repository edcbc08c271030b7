"""Talking-face realism: does the face stay the person in the reference, do the lips follow the
speech, is the face steady and as sharp as the reference?"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..analysis.audio_features import energy_db
from ..analysis.faces import identity_distance
from .face_signals import FaceSignals, landmark_jitter
from .signal_math import lagged_correlation, mean_or_none, ratio_or_none
from .tracking import FaceTrack

MAX_OFFSET_S = 0.4     # audio-video offsets searched, each way
ENVELOPE_RANGE_DB = 50.0


@dataclass(frozen=True)
class FaceReference:
    """What a face should look like: an identity embedding and a sharpness, from a reference image
    or, without one, from the first sampled frame."""

    embedding: np.ndarray
    sharpness: float
    source: str


def speech_envelope(audio: np.ndarray, sample_rate: int, fps: float, count: int) -> np.ndarray:
    """[count] loudness per video frame, dB within ENVELOPE_RANGE_DB of the loudest frame."""
    level = energy_db(audio, sample_rate, rate=100.0)
    times = (np.arange(len(level)) + 0.5) / 100.0
    frame = np.minimum((times * fps).astype(int), count - 1)
    sums = np.bincount(frame, weights=level, minlength=count)
    counts = np.bincount(frame, minlength=count)
    envelope = np.where(counts > 0, sums / np.maximum(counts, 1), level.min() if len(level) else 0.0)
    return np.maximum(envelope, envelope.max() - ENVELOPE_RANGE_DB)


def lip_sync(aperture: np.ndarray, envelope: np.ndarray, speaking: np.ndarray, fps: float) -> tuple[float | None, int | None]:
    """(correlation at the best lag, that lag in frames) between the mouth opening and the speech
    loudness over the frames where this person speaks. A positive lag means the sound comes late."""
    if speaking.sum() < fps:  # under a second of speech says nothing about sync
        return None, None
    reach = max(1, int(round(MAX_OFFSET_S * fps)))
    lags = range(-reach, reach + 1)
    corr = lagged_correlation(aperture, envelope, speaking, lags)
    best = int(np.argmax(corr))
    return float(corr[best]), lags[best]


def realism(track: FaceTrack, signals: FaceSignals, reference: FaceReference, envelope: np.ndarray,
            speaking: np.ndarray) -> dict:
    distances = [identity_distance(e, reference.embedding) for e in track.embeddings]
    corr, offset = lip_sync(signals.aperture, envelope, speaking, signals.fps)
    return {
        "identity_distance": mean_or_none(distances),
        "identity_distance_max": float(max(distances)) if distances else None,
        "lip_sync_corr": corr,
        "av_offset_frames": offset,
        "jitter": landmark_jitter(track),
        "sharpness_ratio": ratio_or_none(float(np.median(track.sharpness)) if track.sharpness else None,
                                         reference.sharpness),
        "face_found_share": float(track.found.mean()),
    }

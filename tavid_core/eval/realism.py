"""Talking-face realism: does the face stay the person in the reference, do the lips follow the
speech (more than chance would), is the face steady and as sharp as the reference?"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..analysis.audio_features import energy_db
from ..analysis.faces import identity_distance
from .face_signals import FaceSignals, landmark_jitter, landmark_noise
from .signal_math import lagged_correlation, mean_or_none, ratio_or_none
from .tracking import FaceTrack

MAX_OFFSET_S = 0.4     # audio-video offsets searched, each way
ENVELOPE_RANGE_DB = 50.0
NULL_SHIFTS = 40       # shifts of the sound the chance level of lip sync is measured at
MIN_SHIFT_S = 2.0      # ... each at least this far from the true alignment (either way round)
STILL_MOUTH = 4.0      # a mouth whose opening varies less than this many times landmark noise does not move


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


def _best(aperture: np.ndarray, envelope: np.ndarray, speaking: np.ndarray, lags: range) -> tuple[float, int]:
    corr = lagged_correlation(aperture, envelope, speaking, lags)
    best = int(np.argmax(corr))
    return float(corr[best]), lags[best]


def null_shifts(count: int, fps: float) -> np.ndarray:
    """Circular shifts (frames) of the sound against the mouth that put them seconds apart."""
    least = int(min(MIN_SHIFT_S * fps, count / 4))
    if count - 2 * least < 1:
        return np.zeros(0, int)
    return np.unique(np.linspace(least, count - least, NULL_SHIFTS).astype(int))


def lip_sync(aperture: np.ndarray, envelope: np.ndarray, speaking: np.ndarray, fps: float,
             noise: float) -> dict:
    """How well the mouth opening follows the speech loudness over the frames where this person speaks.

    The correlation at the best lag is what a chance match also reaches when the search over lags meets
    landmark noise or unrelated mouth motion, so it is compared with the same search against the sound
    shifted by seconds (the null): the excess is how far above that chance level it is, as a share of
    the way from there to a perfect match, and zero for a mouth that moves no more than landmark noise."""
    out = {"lip_sync_corr": None, "av_offset_frames": None, "lip_sync_excess": None, "lip_sync_null": None,
           "lip_sync_p": None, "mouth_motion": None}
    if speaking.sum() < fps:  # under a second of speech says nothing about sync
        return out
    reach = max(1, int(round(MAX_OFFSET_S * fps)))
    lags = range(-reach, reach + 1)
    corr, lag = _best(aperture, envelope, speaking, lags)
    motion = float(np.std(aperture[speaking]) / noise)
    out.update(lip_sync_corr=corr, mouth_motion=motion)
    null = [_best(aperture, np.roll(envelope, k), speaking, lags)[0] for k in null_shifts(len(envelope), fps)]
    if not null:
        return out
    chance = float(np.mean(null))
    out.update(lip_sync_null=chance, lip_sync_p=(1 + sum(n >= corr for n in null)) / (1 + len(null)))
    if motion < STILL_MOUTH:
        out.update(lip_sync_excess=0.0, lip_sync_p=1.0)
    else:
        out.update(lip_sync_excess=max(0.0, (corr - chance) / max(1.0 - chance, 1e-6)), av_offset_frames=lag)
    return out


def realism(track: FaceTrack, signals: FaceSignals, reference: FaceReference, envelope: np.ndarray,
            speaking: np.ndarray) -> dict:
    distances = [identity_distance(e, reference.embedding) for e in track.embeddings]
    sync = lip_sync(signals.aperture, envelope, speaking, signals.fps, landmark_noise(track))
    return {
        "identity_distance": mean_or_none(distances),
        "identity_distance_max": float(max(distances)) if distances else None,
        "lip_sync_corr": sync["lip_sync_corr"],
        "av_offset_frames": sync["av_offset_frames"],
        "jitter": landmark_jitter(track),
        "sharpness_ratio": ratio_or_none(float(np.median(track.sharpness)) if track.sharpness else None,
                                         reference.sharpness),
        "face_found_share": float(track.found.mean()),
        **{k: sync[k] for k in ("lip_sync_excess", "lip_sync_null", "lip_sync_p", "mouth_motion")},
    }

"""Speech quality per person: DNSMOS (P.835 signal, background, overall), intelligibility (the word error
rate of a recogniser against the script, words_heard.py), pitch statistics, and the voices themselves
(voices.py): one voice per person, two people told apart.

It reads only the sound and who speaks when, so with a timeline it runs while the faces are tracked.
"""
from __future__ import annotations

import logging
import os
from functools import lru_cache

import numpy as np

from ..analysis.audio_features import pitch_hz
from ..analysis.spans import runs
from ..runtime.threads import onnx_session
from .activity import RATE, VAD_RATE, turns_of
from .deps import require
from .reference import Reference
from .voices import voice_measures
from .words_heard import word_measures

MIN_MOS_S = 1.0          # DNSMOS needs at least this much speech
DNSMOS_WINDOW_S = 9.01   # the length DNSMOS scores at once

log = logging.getLogger(__name__)


def _samples(mask: np.ndarray) -> list[tuple[int, int]]:
    scale = VAD_RATE / RATE
    return [(int(a * scale), int(b * scale)) for a, b in runs(mask)]


def speech_of(audio: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The samples of `audio` (16 kHz) where the activity-grid `mask` holds, joined."""
    parts = [audio[a:b] for a, b in _samples(mask)]
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def _mos_windows(audio: np.ndarray) -> list[np.ndarray]:
    """DNSMOS scores 9.01 s windows. speechmos slides them by 1 s (nine times the work for nearly the
    same mean), so it is given back-to-back windows, the last one ending at the end; speech shorter
    than a window is repeated to fill it, as speechmos itself does."""
    size = int(DNSMOS_WINDOW_S * VAD_RATE)
    if len(audio) <= size:
        return [np.resize(audio, size)]
    starts = list(range(0, len(audio) - size + 1, size))
    if starts[-1] + size < len(audio):
        starts.append(len(audio) - size)
    return [audio[s:s + size] for s in starts]


@lru_cache(maxsize=1)
def _dnsmos_model():
    """speechmos' DNSMOS with only its P.835 network (signal, background, overall), in a session of one thread.
    Its own constructor also opens the P.808 network, whose mel spectrogram holds Python's lock for 1.2 s of a
    main job (a score the report does not give), and gives each session every core, which the face trackers it runs
    beside are using."""
    module = require("speechmos.dnsmos")
    model = object.__new__(module.DNSMOS)
    model.primary_model_path = os.path.join(os.path.dirname(module.__file__), "dnsmos_models", "sig_bak_ovr.onnx")
    model.onnx_sess = onnx_session(model.primary_model_path, threads=1)
    return model


def dnsmos(audio: np.ndarray) -> dict:
    if len(audio) < MIN_MOS_S * VAD_RATE:
        return {"dnsmos_sig": None, "dnsmos_bak": None, "dnsmos_ovrl": None}
    model = _dnsmos_model()
    scores = []
    for window in _mos_windows(audio):   # scored as speechmos scores one window
        raw = model.onnx_sess.run(None, {"input_1": np.clip(window, -1.0, 1.0).astype(np.float32)[None]})[0][0]
        scores.append(model.get_polyfit_val(*raw, False))
    return {f"dnsmos_{k}": float(np.mean([s[i] for s in scores])) for i, k in enumerate(("sig", "bak", "ovrl"))}


def fold_octaves(f0: np.ndarray) -> np.ndarray:
    """Autocorrelation pitch sometimes lands an octave off; values near twice or half the median are
    taken back to the median's octave, so a range measures intonation and not tracking errors."""
    median = np.median(f0)
    ratio = f0 / median
    return np.where((ratio > 1.7) & (ratio < 2.4), f0 / 2, np.where((ratio > 0.42) & (ratio < 0.6), f0 * 2, f0))


def pitch_stats(f0: np.ndarray, mask: np.ndarray) -> dict:
    n = min(len(f0), len(mask))
    voiced = f0[:n][mask[:n] & (f0[:n] > 0)]
    if len(voiced) < 10:
        return {"pitch_median_hz": None, "pitch_p10_hz": None, "pitch_p90_hz": None, "pitch_range_st": None}
    p10, p50, p90 = np.percentile(fold_octaves(voiced), [10, 50, 90])
    return {"pitch_median_hz": float(p50), "pitch_p10_hz": float(p10), "pitch_p90_hz": float(p90),
            "pitch_range_st": float(12 * np.log2(p90 / p10))}


def speech_quality(audio: np.ndarray, owner: np.ndarray, reference: Reference, recogniser: str | None,
                   voices: bool) -> dict:
    """{"A": {...}, "B": {...}, "overall": {...}} for the 16 kHz mix, `owner` saying who speaks on the activity
    grid; `recogniser` names the one to use (None: no word error rates), `voices` whether the speaker
    encoder is there."""
    f0 = pitch_hz(audio, VAD_RATE, rate=RATE)
    turns = turns_of(owner)
    heard = word_measures(audio, turns, reference, recogniser)
    voiced = voice_measures(audio, turns) if voices else None
    out = {}
    for person, key in enumerate("AB"):
        mask = owner == person
        out[key] = {**dnsmos(speech_of(audio, mask)), **heard[key], **pitch_stats(f0, mask),
                    "voice_consistency": voiced[key]["voice_consistency"] if voiced else None}
    out["overall"] = {**heard["overall"], **(voiced["overall"] if voiced else {})}
    return out

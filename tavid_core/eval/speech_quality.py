"""Speech quality per person: DNSMOS (P.835 signal, background, overall), intelligibility as the word
error rate of pocketsphinx against the script, and pitch statistics.

pocketsphinx is a small recogniser: its WER is a fair comparison between natural-sounding voices,
but it misreads robotic ones (espeak scores ~0.9 however clear it is to a person).
"""
from __future__ import annotations

import logging

import numpy as np

from ..analysis.audio_features import pitch_hz
from ..analysis.spans import runs
from .activity import RATE, VAD_RATE, Activity
from .deps import require
from .reference import words

MIN_MOS_S = 1.0          # DNSMOS needs at least this much speech
DNSMOS_WINDOW_S = 9.01   # the length DNSMOS scores at once
TURN_PAD_S = 0.1

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


def dnsmos(audio: np.ndarray) -> dict:
    if len(audio) < MIN_MOS_S * VAD_RATE:
        return {"dnsmos_sig": None, "dnsmos_bak": None, "dnsmos_ovrl": None}
    run = require("speechmos.dnsmos").run
    scores = [run(np.clip(w, -1.0, 1.0).astype(np.float32), sr=VAD_RATE) for w in _mos_windows(audio)]
    return {f"dnsmos_{k}": float(np.mean([s[f"{k}_mos"] for s in scores])) for k in ("sig", "bak", "ovrl")}


_decoder = None


def transcribe(audio: np.ndarray) -> list[str]:
    """pocketsphinx's words for 16 kHz audio."""
    global _decoder
    if _decoder is None:
        _decoder = require("pocketsphinx").Decoder(samprate=VAD_RATE, loglevel="FATAL")
    pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    _decoder.start_utt()
    _decoder.process_raw(pcm, full_utt=True)
    _decoder.end_utt()
    hyp = _decoder.hyp()
    return words(hyp.hypstr) if hyp is not None else []


def word_errors(reference: list[str], hypothesis: list[str]) -> int:
    """Levenshtein distance in words (substitutions + deletions + insertions)."""
    row = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        prev, row[0] = row[0], i
        for j, hyp in enumerate(hypothesis, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ref != hyp))
    return row[-1]


def recognised_words(audio: np.ndarray, activity: Activity, person: int) -> list[str]:
    """The person's turns, each decoded on its own (with a little context either side)."""
    out: list[str] = []
    pad = int(TURN_PAD_S * VAD_RATE)
    for turn in activity.turns():
        if turn.speaker == person:
            a, b = int(turn.start_s * VAD_RATE), int(turn.end_s * VAD_RATE)
            out += transcribe(audio[max(0, a - pad):b + pad])
    return out


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


def speech_quality(audio: np.ndarray, activity: Activity, texts: tuple[str, str] | None) -> dict:
    """{"A": {...}, "B": {...}, "overall": {"wer": pooled over both}} for the 16 kHz mix."""
    f0 = pitch_hz(audio, VAD_RATE, rate=RATE)
    out, errors, total = {}, 0, 0
    for person, key in enumerate("AB"):
        mask = activity.owner == person
        entry = {**dnsmos(speech_of(audio, mask)), "wer": None, **pitch_stats(f0, mask)}
        if texts is not None:
            ref = words(texts[person])
            if ref:
                wrong = word_errors(ref, recognised_words(audio, activity, person))
                entry["wer"] = wrong / len(ref)
                errors, total = errors + wrong, total + len(ref)
        out[key] = entry
    out["overall"] = {"wer": errors / total if total else None}
    return out

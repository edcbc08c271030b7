"""Frame-level acoustic features of speech: loudness and pitch, vectorised numpy.

Used by every speech engine (the named Speech.features), the speaker mapper (pitch of a reference
recording), evaluation, and the mel spectrograms of the neural speech side and the speaker encoder.
"""
from __future__ import annotations

import math

import numpy as np

SILENCE_DB = -60.0
SPEECH_FEATURES = ("energy", "pitch", "voiced")  # the named Speech.features every speech engine provides
_BLOCK = 2048  # frames processed at once, so hours of audio never make one huge array


def _frames(audio: np.ndarray, hop: int, win: int) -> np.ndarray:
    """[T, win] frames centred on t * hop, zero padded at the ends, T = ceil(len / hop)."""
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    count = max(1, int(np.ceil(len(audio) / hop)))
    padded = np.pad(audio, (win // 2, win // 2 + count * hop - len(audio) + 1))
    view = np.lib.stride_tricks.sliding_window_view(padded, win)
    return view[: count * hop : hop][:count]


def energy_db(audio: np.ndarray, sample_rate: int, rate: float = 100.0) -> np.ndarray:
    """RMS level in dBFS per frame at `rate` Hz (window two hops), floored at SILENCE_DB."""
    hop = int(round(sample_rate / rate))
    frames = _frames(audio, hop, 2 * hop)
    rms = np.concatenate([np.sqrt(np.mean(frames[i:i + _BLOCK].astype(np.float64) ** 2, axis=1) + 1e-12)
                          for i in range(0, len(frames), _BLOCK)])
    return np.maximum(20.0 * np.log10(rms), SILENCE_DB).astype(np.float32)


def pitch_hz(audio: np.ndarray, sample_rate: int, rate: float = 100.0, fmin: float = 60.0, fmax: float = 420.0,
             threshold: float = 0.4) -> np.ndarray:
    """Fundamental frequency per frame by normalised autocorrelation (0 where unvoiced or silent)."""
    hop = int(round(sample_rate / rate))
    win = int(round(sample_rate * 0.04))
    frames = _frames(audio, hop, win)
    lo, hi = int(sample_rate / fmax), min(int(sample_rate / fmin), win - 2)
    loud = np.nonzero(energy_db(audio, sample_rate, rate)[: len(frames)] > -45.0)[0]
    f0 = np.zeros(len(frames), np.float32)   # quiet frames are unvoiced: in a conversation's track, half of them
    for i in range(0, len(loud), _BLOCK):
        rows = loud[i:i + _BLOCK]
        f0[rows] = _block_pitch(frames[rows], sample_rate, lo, hi, threshold)
    return f0


def _block_pitch(frames: np.ndarray, sample_rate: int, lo: int, hi: int, threshold: float) -> np.ndarray:
    win = frames.shape[1]
    frames = frames.astype(np.float64)
    frames = frames - frames.mean(axis=1, keepdims=True)
    n_fft = 1 << int(np.ceil(np.log2(2 * win)))
    spec = np.fft.rfft(frames, n_fft, axis=1)
    acf = np.fft.irfft(np.abs(spec) ** 2, n_fft, axis=1)[:, :win]
    acf = acf / np.maximum(acf[:, :1], 1e-12)  # biased: longer lags weigh less, which avoids octave-down errors
    band = acf[:, lo:hi]
    best = np.argmax(band, axis=1)
    peak = band[np.arange(len(band)), best]
    lag = best + lo
    # parabolic refinement of the peak position
    left = acf[np.arange(len(acf)), np.maximum(lag - 1, 0)]
    right = acf[np.arange(len(acf)), np.minimum(lag + 1, win - 1)]
    denom = left - 2 * peak + right
    shift = np.where(np.abs(denom) > 1e-9, 0.5 * (left - right) / np.where(np.abs(denom) > 1e-9, denom, 1), 0.0)
    f0 = sample_rate / np.maximum(lag + np.clip(shift, -0.5, 0.5), 1)
    return np.where(peak > threshold, f0, 0.0)


def median_pitch_hz(audio: np.ndarray, sample_rate: int) -> float:
    """Median F0 of the voiced frames (0 if nothing is voiced)."""
    f0 = pitch_hz(audio, sample_rate)
    voiced = f0[f0 > 0]
    return float(np.median(voiced)) if len(voiced) else 0.0


def active_span(audio: np.ndarray, sample_rate: int, floor_db: float = -45.0, margin_s: float = 0.0) -> tuple[int, int]:
    """(first, last) sample of the part louder than `floor_db` below the peak level, widened by `margin_s`."""
    level = energy_db(audio, sample_rate, rate=200.0)
    loud = np.nonzero(level > max(level.max() + floor_db, SILENCE_DB + 1.0))[0] if len(level) else []
    if len(loud) == 0:
        return 0, len(audio)
    hop = sample_rate / 200.0
    margin = int(margin_s * sample_rate)
    start = max(0, int(loud[0] * hop - hop) - margin)
    stop = min(len(audio), int((loud[-1] + 1) * hop + hop) + margin)
    return start, stop


def speech_features(track: np.ndarray, sample_rate: int, rate: float) -> np.ndarray:
    """[T, 3] at `rate` Hz: energy (0 silent .. 1 full scale), pitch (octaves above 100 Hz, 0 unvoiced),
    voiced (0/1)."""
    energy = np.clip((energy_db(track, sample_rate, rate) + 60.0) / 60.0, 0.0, 1.0)
    f0 = pitch_hz(track, sample_rate, rate)
    voiced = (f0 > 0).astype(np.float32)
    pitch = np.where(f0 > 0, np.log2(np.maximum(f0, 1.0) / 100.0), 0.0)
    return np.stack([energy, pitch, voiced], axis=1).astype(np.float32)


# ------------------------------------------------------------------------------------------ mel scale
_MEL_STEP, _MEL_KNEE, _MEL_LOG_STEP = 200.0 / 3, 1000.0, math.log(6.4) / 27.0


def hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    return np.where(hz < _MEL_KNEE, hz / _MEL_STEP,
                    _MEL_KNEE / _MEL_STEP + np.log(np.maximum(hz, _MEL_KNEE) / _MEL_KNEE) / _MEL_LOG_STEP)


def mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    return np.where(mel < _MEL_KNEE / _MEL_STEP, mel * _MEL_STEP,
                    _MEL_KNEE * np.exp(_MEL_LOG_STEP * (mel - _MEL_KNEE / _MEL_STEP)))


def slaney_filterbank(sample_rate: int, n_fft: int, n_mels: int, f_min: float = 0.0,
                      f_max: float | None = None) -> np.ndarray:
    """`[n_mels, n_fft // 2 + 1]` triangular filters on the Slaney scale, each normalised to unit area
    (what librosa's default mel filters are)."""
    f_max = sample_rate / 2 if f_max is None else f_max
    bins = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))
    lo, centre, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins[None] - lo) / (centre - lo)
    falling = (hi - bins[None]) / (hi - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling)) * (2.0 / (hi - lo))
    return weights.astype(np.float32)

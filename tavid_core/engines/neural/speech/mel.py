"""Log-mel spectrograms with `torch.stft` (no torchaudio): the representation the speech DiT generates,
the vocoder turns back into sound and the voice encoder reads."""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from .config import MelConfig

LOG_FLOOR = 1e-5  # magnitudes below this are silence; log(1e-5) = -11.5 is the spectrogram's floor


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    step, knee, log_step = 200.0 / 3, 1000.0, math.log(6.4) / 27.0
    return np.where(hz < knee, hz / step, knee / step + np.log(np.maximum(hz, knee) / knee) / log_step)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    step, knee, log_step = 200.0 / 3, 1000.0, math.log(6.4) / 27.0
    mel = np.asarray(mel, dtype=np.float64)
    return np.where(mel < knee / step, mel * step, knee * np.exp(log_step * (mel - knee / step)))


def mel_filterbank(cfg: MelConfig) -> np.ndarray:
    """`[n_mels, n_fft // 2 + 1]` triangular filters, each normalised to unit area (Slaney)."""
    bins = np.linspace(0.0, cfg.sample_rate / 2, cfg.n_fft // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(cfg.f_min), _hz_to_mel(cfg.f_max), cfg.n_mels + 2))
    lo, centre, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins[None] - lo) / (centre - lo)
    falling = (hi - bins[None]) / (hi - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling)) * (2.0 / (hi - lo))
    return weights.astype(np.float32)


def num_mel_frames(num_samples: int, cfg: MelConfig) -> int:
    """Frames of `LogMel` for a clip of `num_samples` (centred STFT)."""
    return num_samples // cfg.hop + 1


class LogMel(nn.Module):
    """Waveform `[B, N]` at `cfg.sample_rate` -> log-magnitude mel `[B, T, n_mels]`, T = N // hop + 1.
    Always computed in float32: half precision loses the quiet bins."""

    def __init__(self, cfg: MelConfig):
        super().__init__()
        self.cfg = cfg
        self.register_buffer("window", torch.hann_window(cfg.n_fft), persistent=False)
        self.register_buffer("filters", torch.from_numpy(mel_filterbank(cfg)), persistent=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(wave.float(), self.cfg.n_fft, hop_length=self.cfg.hop, window=self.window,
                          center=True, pad_mode="reflect", return_complex=True).abs()
        mel = torch.matmul(self.filters, spec)
        return torch.log(mel.clamp(min=LOG_FLOOR)).transpose(1, 2)


def shift_pitch(mel: torch.Tensor, semitones: float, cfg: MelConfig) -> torch.Tensor:
    """A log-mel `[..., T, n_mels]` moved up (or down) by `semitones`: each bin takes the value of the
    frequency that many semitones below it. Harmonics and formants move together, like playing a tape
    faster without changing its length, which is fine for the few semitones a voice is adjusted by."""
    if semitones == 0:
        return mel
    lo, hi = _hz_to_mel(cfg.f_min), _hz_to_mel(cfg.f_max)
    centres = _mel_to_hz(np.linspace(lo, hi, cfg.n_mels + 2)[1:-1])
    source = np.clip(_hz_to_mel(centres / 2.0 ** (semitones / 12.0)), lo, hi)
    position = (source - lo) / (hi - lo) * (cfg.n_mels + 1) - 1  # fractional bin index of each source frequency
    position = torch.as_tensor(np.clip(position, 0, cfg.n_mels - 1), dtype=torch.float32, device=mel.device)
    below = position.floor().long()
    above = (below + 1).clamp(max=cfg.n_mels - 1)
    share = (position - below).to(mel.dtype)
    return mel[..., below] * (1 - share) + mel[..., above] * share

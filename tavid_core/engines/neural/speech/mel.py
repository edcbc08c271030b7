"""Log-mel spectrograms with `torch.stft` (no torchaudio): the representation the speech DiT generates,
the vocoder turns back into sound and the voice encoder reads.

Two filterbanks: Slaney's (our own networks) and HTK's with triangles of peak 1, the one F5-TTS and Vocos
were trained on (torchaudio's `melscale_fbanks(norm=None, mel_scale="htk")`, computed here in float32 in
its order of operations, so the same numbers come out)."""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ....analysis.audio_features import hz_to_mel, mel_to_hz, slaney_filterbank
from ....errors import TavidError
from .config import MelConfig

MEL_SCALES = ("slaney", "htk")
LOG_FLOOR = 1e-5  # magnitudes below this are silence; log(1e-5) = -11.5 is the spectrogram's floor


def _htk_hz_to_mel(hz: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def _htk_mel_to_hz(mel: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def _scale(cfg: MelConfig):
    """(hz -> mel, mel -> hz) of the configuration's mel scale."""
    if cfg.scale not in MEL_SCALES:
        raise TavidError(f"unknown mel scale {cfg.scale!r}", where="mel settings", fix=f"Use one of {MEL_SCALES}.")
    return (hz_to_mel, mel_to_hz) if cfg.scale == "slaney" else (_htk_hz_to_mel, _htk_mel_to_hz)


def htk_filterbank(cfg: MelConfig) -> torch.Tensor:
    """`[n_fft // 2 + 1, n_mels]` float32 triangles of peak 1 on the HTK mel scale."""
    bins = torch.linspace(0, cfg.sample_rate // 2, cfg.n_fft // 2 + 1)
    low, high = (2595.0 * math.log10(1.0 + hz / 700.0) for hz in (cfg.f_min, cfg.f_max))
    edges = 700.0 * (10.0 ** (torch.linspace(low, high, cfg.n_mels + 2) / 2595.0) - 1.0)
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins[:, None] - lower[None]) / (centre - lower)[None]
    falling = (upper[None] - bins[:, None]) / (upper - centre)[None]
    return torch.clamp(torch.minimum(rising, falling), min=0.0)


def mel_filterbank(cfg: MelConfig) -> np.ndarray:
    """`[n_mels, n_fft // 2 + 1]` triangular filters: normalised to unit area (Slaney), or of peak 1 (HTK)."""
    _scale(cfg)
    if cfg.scale == "htk":
        return htk_filterbank(cfg).T.contiguous().numpy()
    return slaney_filterbank(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.f_min, cfg.f_max)


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
    to_mel, to_hz = _scale(cfg)
    lo, hi = to_mel(cfg.f_min), to_mel(cfg.f_max)
    centres = to_hz(np.linspace(lo, hi, cfg.n_mels + 2)[1:-1])
    source = np.clip(to_mel(centres / 2.0 ** (semitones / 12.0)), lo, hi)
    position = (source - lo) / (hi - lo) * (cfg.n_mels + 1) - 1  # fractional bin index of each source frequency
    position = torch.as_tensor(np.clip(position, 0, cfg.n_mels - 1), dtype=torch.float32, device=mel.device)
    below = position.floor().long()
    above = (below + 1).clamp(max=cfg.n_mels - 1)
    share = (position - below).to(mel.dtype)
    return mel[..., below] * (1 - share) + mel[..., above] * share

"""Log-mel spectrograms with `torch.stft` (no torchaudio): the representation the speech DiT generates,
the vocoder turns back into sound and the voice encoder reads."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ....analysis.audio_features import hz_to_mel, mel_to_hz, slaney_filterbank
from .config import MelConfig

LOG_FLOOR = 1e-5  # magnitudes below this are silence; log(1e-5) = -11.5 is the spectrogram's floor


def mel_filterbank(cfg: MelConfig) -> np.ndarray:
    """`[n_mels, n_fft // 2 + 1]` triangular filters, each normalised to unit area (Slaney)."""
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
    lo, hi = hz_to_mel(cfg.f_min), hz_to_mel(cfg.f_max)
    centres = mel_to_hz(np.linspace(lo, hi, cfg.n_mels + 2)[1:-1])
    source = np.clip(hz_to_mel(centres / 2.0 ** (semitones / 12.0)), lo, hi)
    position = (source - lo) / (hi - lo) * (cfg.n_mels + 1) - 1  # fractional bin index of each source frequency
    position = torch.as_tensor(np.clip(position, 0, cfg.n_mels - 1), dtype=torch.float32, device=mel.device)
    below = position.floor().long()
    above = (below + 1).clamp(max=cfg.n_mels - 1)
    share = (position - below).to(mel.dtype)
    return mel[..., below] * (1 - share) + mel[..., above] * share

"""The public Vocos mel-24khz vocoder: the speech block's Vocoder backbone (the same ConvNeXt stack, sized
like Vocos by VocoderConfig's defaults) with Vocos' ISTFT head: magnitudes capped at 100 after the
exponential, and "same" padding, so T mel frames make T * hop samples (our head makes (T - 1) * hop with
centre padding and caps the log-magnitude instead)."""
from __future__ import annotations

import torch

from ..config import MelConfig, VocoderConfig
from ..vocoder import Vocoder
from .config import F5_MEL, VOCOS_MAX_MAGNITUDE, VOCOS_MEL_24KHZ
from .istft import istft_same


class VocosVocoder(Vocoder):
    def __init__(self, cfg: VocoderConfig = VOCOS_MEL_24KHZ, mel: MelConfig = F5_MEL):
        super().__init__(cfg, mel)

    def num_samples(self, frames: int) -> int:
        return frames * self.mel_cfg.hop

    def _synthesise(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        with torch.autocast(device_type=x.device.type, enabled=False):
            out = self.head(x.to(self.head.weight.dtype)).float()
            log_mag, phase = out.transpose(1, 2).chunk(2, dim=1)          # [B, n_fft//2 + 1, T] each
            mag = torch.exp(log_mag).clamp(max=VOCOS_MAX_MAGNITUDE)
            spec = torch.complex(mag * torch.cos(phase), mag * torch.sin(phase))
            if mask is not None:
                spec = spec * mask[:, None, :].to(spec.real.dtype)
            wave = istft_same(spec, self.mel_cfg.n_fft, self.mel_cfg.hop, self.window.float())
        if mask is not None:
            ends = mask.sum(dim=1, keepdim=True) * self.mel_cfg.hop
            wave = wave * (torch.arange(wave.shape[1], device=wave.device)[None] < ends)
        return wave

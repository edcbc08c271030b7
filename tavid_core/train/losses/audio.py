"""Losses for training a vocoder: spectral losses that pull the sound towards the target, and GAN losses
that make it sharp (a spectral loss alone gives a buzzy, over-smoothed sound).

Waveforms are `[B, N]`. Spectral losses are computed in float32 whatever the autocast setting, as
their logarithms of quiet bins are meaningless in half precision.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ...engines.neural.speech.config import MelConfig
from ...engines.neural.speech.mel import LogMel
from ...errors import TavidError

DEFAULT_RESOLUTIONS = ((512, 128, 512), (1024, 256, 1024), (2048, 512, 2048))  # (n_fft, hop, window)
GAN_KINDS = ("lsgan", "hinge")
MAG_FLOOR = 1e-7


def stft_magnitude(wave: torch.Tensor, n_fft: int, hop: int, window: torch.Tensor) -> torch.Tensor:
    """`[B, frames, n_fft // 2 + 1]` magnitudes, float32."""
    with torch.autocast(device_type=wave.device.type, enabled=False):
        spec = torch.stft(wave.float(), n_fft, hop_length=hop, win_length=window.numel(), window=window.float(),
                          center=True, pad_mode="reflect", return_complex=True)
        return spec.abs().transpose(1, 2)


class MultiResolutionSTFTLoss(nn.Module):
    """Spectral convergence plus L1 log-magnitude, averaged over several STFT resolutions, so that neither
    the time nor the frequency detail of one window size dominates."""

    def __init__(self, resolutions: Sequence[tuple[int, int, int]] = DEFAULT_RESOLUTIONS):
        super().__init__()
        self.resolutions = tuple(tuple(r) for r in resolutions)
        for i, (n_fft, hop, win) in enumerate(self.resolutions):
            if not 0 < hop <= win <= n_fft:
                raise TavidError(f"resolution {(n_fft, hop, win)} needs 0 < hop <= window <= n_fft",
                                 where="stft loss")
            self.register_buffer(f"window{i}", torch.hann_window(win), persistent=False)

    def terms(self, fake: torch.Tensor, real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(spectral convergence, log-magnitude L1), each averaged over the resolutions."""
        sc, mag = fake.new_zeros((), dtype=torch.float32), fake.new_zeros((), dtype=torch.float32)
        for i, (n_fft, hop, _) in enumerate(self.resolutions):
            window = getattr(self, f"window{i}")
            f, r = stft_magnitude(fake, n_fft, hop, window), stft_magnitude(real, n_fft, hop, window)
            sc = sc + torch.linalg.norm(r - f) / torch.linalg.norm(r).clamp(min=MAG_FLOOR)
            mag = mag + F.l1_loss(torch.log(f.clamp(min=MAG_FLOOR)), torch.log(r.clamp(min=MAG_FLOOR)))
        n = len(self.resolutions)
        return sc / n, mag / n

    def forward(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        sc, mag = self.terms(fake, real)
        return sc + mag


class MelL1Loss(nn.Module):
    """L1 between the log-mels (`LogMel`) of two waveforms: the main reconstruction loss of the vocoder."""

    def __init__(self, cfg: MelConfig):
        super().__init__()
        self.logmel = LogMel(cfg)

    def forward(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        return F.l1_loss(self.logmel(fake), self.logmel(real))


def _kind(kind: str) -> str:
    if kind not in GAN_KINDS:
        raise TavidError(f"unknown GAN loss {kind!r}", where="gan loss", fix=f"Use one of {', '.join(GAN_KINDS)}.")
    return kind


def discriminator_loss(real_logits: Sequence[torch.Tensor], fake_logits: Sequence[torch.Tensor],
                       kind: str = "hinge") -> torch.Tensor:
    """Mean over discriminators of: LSGAN (D(real) -> 1, D(fake) -> 0) or hinge (D(real) >= 1, D(fake) <= -1)."""
    _kind(kind)
    total = 0.0
    for r, f in zip(real_logits, fake_logits, strict=True):
        r, f = r.float(), f.float()
        if kind == "lsgan":
            total = total + torch.mean((1 - r) ** 2) + torch.mean(f ** 2)
        else:
            total = total + torch.mean(F.relu(1 - r)) + torch.mean(F.relu(1 + f))
    return total / len(real_logits)


def generator_adversarial_loss(fake_logits: Sequence[torch.Tensor], kind: str = "hinge") -> torch.Tensor:
    """Mean over discriminators of how far the fakes are from being taken for real."""
    _kind(kind)
    total = 0.0
    for f in fake_logits:
        f = f.float()
        total = total + (torch.mean((1 - f) ** 2) if kind == "lsgan" else torch.mean(F.relu(1 - f)))
    return total / len(fake_logits)


def feature_matching_loss(real_features: Sequence[Sequence[torch.Tensor]],
                          fake_features: Sequence[Sequence[torch.Tensor]]) -> torch.Tensor:
    """L1 between the discriminators' inner feature maps of real and generated sound, summed over the layers
    of a discriminator and averaged over discriminators; the real maps are targets (no gradient)."""
    total = 0.0
    for reals, fakes in zip(real_features, fake_features, strict=True):
        for r, f in zip(reals, fakes, strict=True):
            total = total + F.l1_loss(f.float(), r.detach().float())
    return total / len(real_features)

"""The vocoder's critics: a multi-period discriminator (periodic structure of voiced sound, read from the
waveform folded by a period) and a multi-resolution discriminator (STFT magnitudes at several window
sizes). Each takes `[B, N]` sound and returns `(logits, features)`: one logit tensor per sub-discriminator
and, for each, the list of its inner feature maps (for the feature-matching loss).

`channels` sets the width: 32 gives the usual full-size critics; a tiny config passes a few channels and
its critic stays a few hundred thousand parameters.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from .audio import DEFAULT_RESOLUTIONS, stft_magnitude

PERIODS = (2, 3, 5, 7, 11)
SLOPE = 0.1  # leaky ReLU

Output = tuple[list[torch.Tensor], list[list[torch.Tensor]]]


class PeriodDiscriminator(nn.Module):
    """Sound folded into `[N / period, period]` and read by convolutions along the first axis only, so each
    column sees the samples one period apart."""

    def __init__(self, period: int, channels: int):
        super().__init__()
        self.period = period
        widths = [1, channels, 4 * channels, 16 * channels, 32 * channels, 32 * channels]
        self.convs = nn.ModuleList(
            weight_norm(nn.Conv2d(a, b, (5, 1), stride=(3 if i < 4 else 1, 1), padding=(2, 0)))
            for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])))
        self.post = weight_norm(nn.Conv2d(widths[-1], 1, (3, 1), padding=(1, 0)))

    def forward(self, wave: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        b, n = wave.shape
        extra = (-n) % self.period
        if extra:
            wave = F.pad(wave[:, None], (0, extra), mode="reflect" if extra < n else "constant")[:, 0]
        return run_stack(self.convs, self.post, wave.reshape(b, 1, -1, self.period))


def run_stack(convs: nn.ModuleList, post: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """A discriminator's convolutions with leaky ReLUs, then its output layer: the logits and every layer's
    output (the feature maps feature matching compares)."""
    features = []
    for conv in convs:
        x = F.leaky_relu(conv(x), SLOPE)
        features.append(x)
    x = post(x)
    features.append(x)
    return x.flatten(1), features


class ResolutionDiscriminator(nn.Module):
    """STFT magnitude `[B, 1, frames, bins]` read by 2-D convolutions that stride along frequency."""

    def __init__(self, n_fft: int, hop: int, win: int, channels: int):
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.register_buffer("window", torch.hann_window(win), persistent=False)
        c = channels
        self.convs = nn.ModuleList([
            weight_norm(nn.Conv2d(1, c, (3, 9), padding=(1, 4))),
            *(weight_norm(nn.Conv2d(c, c, (3, 9), stride=(1, 2), padding=(1, 4))) for _ in range(3)),
            weight_norm(nn.Conv2d(c, c, (3, 3), padding=(1, 1))),
        ])
        self.post = weight_norm(nn.Conv2d(c, 1, (3, 3), padding=(1, 1)))

    def forward(self, wave: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        # log(1 + |S|) keeps quiet and loud bins on a comparable scale for the convolutions
        x = torch.log1p(stft_magnitude(wave, self.n_fft, self.hop, self.window))[:, None]
        return run_stack(self.convs, self.post, x.to(self.post.bias.dtype))


class MultiPeriodDiscriminator(nn.Module):
    def __init__(self, periods: Sequence[int] = PERIODS, channels: int = 32):
        super().__init__()
        self.discriminators = nn.ModuleList(PeriodDiscriminator(p, channels) for p in periods)

    def forward(self, wave: torch.Tensor) -> Output:
        outs = [d(wave) for d in self.discriminators]
        return [o[0] for o in outs], [o[1] for o in outs]


class MultiResolutionDiscriminator(nn.Module):
    def __init__(self, resolutions: Sequence[tuple[int, int, int]] = DEFAULT_RESOLUTIONS, channels: int = 32):
        super().__init__()
        self.discriminators = nn.ModuleList(ResolutionDiscriminator(*r, channels) for r in resolutions)

    def forward(self, wave: torch.Tensor) -> Output:
        outs = [d(wave) for d in self.discriminators]
        return [o[0] for o in outs], [o[1] for o in outs]


class VocoderCritic(nn.Module):
    """Both discriminators; their outputs are concatenated (period ones first)."""

    def __init__(self, channels: int = 32, periods: Sequence[int] = PERIODS,
                 resolutions: Sequence[tuple[int, int, int]] = DEFAULT_RESOLUTIONS):
        super().__init__()
        self.mpd = MultiPeriodDiscriminator(periods, channels)
        self.mrd = MultiResolutionDiscriminator(resolutions, channels)

    def forward(self, wave: torch.Tensor) -> Output:
        logits_p, features_p = self.mpd(wave)
        logits_r, features_r = self.mrd(wave)
        return logits_p + logits_r, features_p + features_r

"""The ConvNeXt-V2 block of F5-TTS's text encoder.

Unlike the speech block's ConvNeXtBlock (Vocos style) it has a global response normalisation after the
activation instead of a layer scale, and masks nothing inside: F5-TTS zeroes the text padding between
blocks, so the normalisation's norm over time sees what the convolution made of the padding, and ours must.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class GlobalResponseNorm(nn.Module):
    """Each channel scaled by its L2 norm over time relative to the mean of those norms over channels."""

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.gamma = nn.Parameter(torch.zeros(1, 1, channels))
        self.beta = nn.Parameter(torch.zeros(1, 1, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`x` `[B, T, C]`."""
        energy = torch.linalg.vector_norm(x, ord=2, dim=1, keepdim=True)
        relative = energy / (energy.mean(dim=-1, keepdim=True) + self.eps)
        return x + self.gamma * (x * relative) + self.beta


class ConvNeXtV2Block(nn.Module):
    """Depthwise conv (kernel 7), LayerNorm, pointwise up, GELU, GRN, pointwise down, residual."""

    def __init__(self, dim: int, inner: int, kernel: int = 7):
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel, padding=kernel // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, inner)
        self.grn = GlobalResponseNorm(inner)
        self.pwconv2 = nn.Linear(inner, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`x` `[B, T, dim]`."""
        y = self.dwconv(x.transpose(1, 2)).transpose(1, 2)
        return x + self.pwconv2(self.grn(F.gelu(self.pwconv1(self.norm(y)))))

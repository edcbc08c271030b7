"""SPADE decoder G of LivePortrait."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import SpadeResBlock
from .config import GeneratorConfig


class SpadeGenerator(nn.Module):
    """Warped features (B, 256, 64, 64) -> image (B, 3, 512, 512) in [0, 1].

    A 3x3 convolution to 512 channels, six SPADE residual blocks at 64x64, nearest x2, a block to 256 channels,
    nearest x2, a block to 64 channels, leaky ReLU, a 3x3 convolution to 12 channels, pixel shuffle x2, sigmoid.
    Every SPADE modulation is conditioned on the decoder input itself.
    """

    def __init__(self, cfg: GeneratorConfig = GeneratorConfig()):
        super().__init__()
        self.cfg = cfg
        c, hid = cfg.in_channels, cfg.modulation_hidden
        self.stem = nn.Conv2d(c, 2 * c, kernel_size=3, padding=1)
        self.middle = nn.ModuleList(SpadeResBlock(2 * c, 2 * c, c, hid) for _ in range(cfg.num_middle_blocks))
        self.up1 = SpadeResBlock(2 * c, c, c, hid)
        self.up2 = SpadeResBlock(c, cfg.out_channels, c, hid)
        self.to_rgb = nn.Conv2d(cfg.out_channels, 3 * cfg.upscale ** 2, kernel_size=3, padding=1)

    def forward(self, feature: torch.Tensor) -> torch.Tensor:
        x = self.stem(feature)
        for block in self.middle:
            x = block(x, feature)
        x = self.up1(F.interpolate(x, scale_factor=2.0, mode="nearest"), feature)
        x = self.up2(F.interpolate(x, scale_factor=2.0, mode="nearest"), feature)
        x = self.to_rgb(F.leaky_relu(x, 0.2))
        if self.cfg.upscale > 1:
            x = F.pixel_shuffle(x, self.cfg.upscale)
        return torch.sigmoid(x)

"""Appearance feature extractor F of LivePortrait."""
from __future__ import annotations

import torch
from torch import nn

from .blocks import ConvBnAct2d, DownBlock2d, ResBlock3d
from .config import AppearanceConfig


class AppearanceFeatureExtractor(nn.Module):
    """Image (B, 3, 256, 256) in [0, 1] -> feature volume (B, 32, 16, 64, 64).

    A 2-D encoder (3x3 conv-bn-relu at full size, two conv-bn-relu + average-pool stages, a 1x1 convolution to
    512 channels) whose output channels are read as 32 channels x 16 depth slices, refined by 3-D residual blocks.
    """

    def __init__(self, cfg: AppearanceConfig = AppearanceConfig()):
        super().__init__()
        if cfg.max_channels != cfg.volume_channels * cfg.volume_depth:
            raise ValueError("max_channels must equal volume_channels * volume_depth")
        self.cfg = cfg
        self.stem = ConvBnAct2d(cfg.image_channels, cfg.base_channels)
        widths = [min(cfg.max_channels, cfg.base_channels * 2 ** i) for i in range(cfg.num_down + 1)]
        self.down = nn.ModuleList(DownBlock2d(widths[i], widths[i + 1]) for i in range(cfg.num_down))
        self.to_volume = nn.Conv2d(widths[-1], cfg.max_channels, kernel_size=1)
        self.volume_blocks = nn.Sequential(*(ResBlock3d(cfg.volume_channels) for _ in range(cfg.num_res_blocks)))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = self.stem(image)
        for block in self.down:
            x = block(x)
        x = self.to_volume(x)
        b, _, h, w = x.shape
        volume = x.reshape(b, self.cfg.volume_channels, self.cfg.volume_depth, h, w)
        return self.volume_blocks(volume)

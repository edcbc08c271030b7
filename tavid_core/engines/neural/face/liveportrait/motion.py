"""Motion extractor M of LivePortrait: a ConvNeXt-V2 tiny backbone with seven linear heads."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import MotionConfig


class ChannelsFirstLayerNorm(nn.Module):
    """Layer norm over the channel axis of an (N, C, H, W) tensor (eps 1e-6)."""

    def __init__(self, ch: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(ch))
        self.bias = nn.Parameter(torch.zeros(ch))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=1, keepdim=True)
        var = (x - mean).square().mean(dim=1, keepdim=True)
        x = (x - mean) / torch.sqrt(var + self.eps)
        return x * self.weight[:, None, None] + self.bias[:, None, None]


class GlobalResponseNorm(nn.Module):
    """ConvNeXt-V2 GRN on channels-last input: x + gamma * (x * n) + beta, n = ||x||_HW / mean_C ||x||_HW."""

    def __init__(self, ch: int):
        super().__init__()
        # Shapes follow the published checkpoints: (1, 1, 1, C), broadcast over N, H, W.
        self.gamma = nn.Parameter(torch.zeros(1, 1, 1, ch))
        self.beta = nn.Parameter(torch.zeros(1, 1, 1, ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        norm = torch.linalg.vector_norm(x, ord=2, dim=(1, 2), keepdim=True)
        rel = norm / (norm.mean(dim=-1, keepdim=True) + 1e-6)
        return x + self.gamma * (x * rel) + self.beta


class ConvNeXtBlock(nn.Module):
    """Depthwise 7x7 conv, channels-last layer norm, 4x MLP with GELU and GRN, residual."""

    def __init__(self, dim: int):
        super().__init__()
        self.depthwise = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.expand = nn.Linear(dim, 4 * dim)
        self.grn = GlobalResponseNorm(4 * dim)
        self.project = nn.Linear(4 * dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.depthwise(x).permute(0, 2, 3, 1)
        h = self.project(self.grn(F.gelu(self.expand(self.norm(h)))))
        return x + h.permute(0, 3, 1, 2)


class Downsample(nn.Module):
    """Between stages: channels-first layer norm, then a 2x2 stride-2 convolution."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.norm = ChannelsFirstLayerNorm(in_ch)
        self.conv = nn.Conv2d(in_ch, out_ch, kernel_size=2, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.norm(x))


class Stem(nn.Module):
    """4x4 stride-4 patch convolution, then channels-first layer norm."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, kernel_size=4, stride=4)
        self.norm = ChannelsFirstLayerNorm(out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.conv(x))


class MotionExtractor(nn.Module):
    """Image (B, 3, 256, 256) in [0, 1] -> raw head outputs.

    Returns a dict: 'kp' (B, K, 3) canonical keypoints, 'exp' (B, K, 3) expression offsets, 'scale' (B, 1),
    't' (B, 3) translation, and 'pitch' / 'yaw' / 'roll' (B, num_bins) pose-bin logits (see keypoints.bins_to_degrees).
    """

    def __init__(self, cfg: MotionConfig = MotionConfig()):
        super().__init__()
        self.cfg = cfg
        dims = cfg.dims
        self.stem = Stem(cfg.image_channels, dims[0])
        self.downsample = nn.ModuleList(Downsample(dims[i], dims[i + 1]) for i in range(len(dims) - 1))
        self.stages = nn.ModuleList(
            nn.Sequential(*(ConvNeXtBlock(dims[i]) for _ in range(cfg.depths[i]))) for i in range(len(dims)))
        self.head_norm = nn.LayerNorm(dims[-1], eps=1e-6)
        width = dims[-1]
        self.head_kp = nn.Linear(width, 3 * cfg.num_kp)
        self.head_scale = nn.Linear(width, 1)
        self.head_pitch = nn.Linear(width, cfg.num_bins)
        self.head_yaw = nn.Linear(width, cfg.num_bins)
        self.head_roll = nn.Linear(width, cfg.num_bins)
        self.head_t = nn.Linear(width, 3)
        self.head_exp = nn.Linear(width, 3 * cfg.num_kp)

    def features(self, image: torch.Tensor) -> torch.Tensor:
        x = self.stages[0](self.stem(image))
        for down, stage in zip(self.downsample, self.stages[1:]):
            x = stage(down(x))
        return self.head_norm(x.mean(dim=(-2, -1)))

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        z = self.features(image)
        b, k = z.shape[0], self.cfg.num_kp
        return {
            "kp": self.head_kp(z).reshape(b, k, 3),
            "exp": self.head_exp(z).reshape(b, k, 3),
            "scale": self.head_scale(z),
            "t": self.head_t(z),
            "pitch": self.head_pitch(z),
            "yaw": self.head_yaw(z),
            "roll": self.head_roll(z),
        }

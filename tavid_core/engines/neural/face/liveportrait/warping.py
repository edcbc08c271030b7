"""Warping module W of LivePortrait: dense motion from implicit keypoints, occlusion, feature warping."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import ConvBnAct2d, Hourglass3d
from .config import DenseMotionConfig, WarpingConfig


def identity_grid(depth: int, height: int, width: int, like: torch.Tensor) -> torch.Tensor:
    """(D, H, W, 3) grid of (x, y, z) in [-1, 1]; the first and last samples sit exactly on -1 and +1.

    Note that the grid is sampled with grid_sample(align_corners=False) although its end points follow the
    align_corners=True convention; the published networks were trained this way, so it is kept.
    """
    def axis(n: int) -> torch.Tensor:
        return 2 * (torch.arange(n, dtype=like.dtype, device=like.device) / (n - 1)) - 1

    z, y, x = torch.meshgrid(axis(depth), axis(height), axis(width), indexing="ij")
    return torch.stack([x, y, z], dim=-1)


class DenseMotion(nn.Module):
    """Predicts, from source and driving keypoints, a backward flow over the volume and an occlusion map.

    Each keypoint k proposes the translation flow p -> p - x_d[k] + x_s[k]; a 22-way (21 keypoints + identity)
    soft mask from an hourglass picks among them per voxel. The hourglass sees, per proposal, the source volume
    (compressed to 4 channels) warped by that proposal and the difference of driving and source Gaussians.
    """

    def __init__(self, cfg: DenseMotionConfig, num_kp: int, feature_channels: int, estimate_occlusion: bool):
        super().__init__()
        self.cfg = cfg
        self.num_kp = num_kp
        in_ch = (num_kp + 1) * (cfg.compressed_channels + 1)
        self.hourglass = Hourglass3d(in_ch, cfg.base_channels, cfg.num_blocks, cfg.max_channels)
        self.mask_head = nn.Conv3d(self.hourglass.out_channels, num_kp + 1, kernel_size=7, padding=3)
        self.compress = nn.Conv3d(feature_channels, cfg.compressed_channels, kernel_size=1)
        self.compress_bn = nn.BatchNorm3d(cfg.compressed_channels)
        self.occlusion_head = (nn.Conv2d(self.hourglass.out_channels * cfg.volume_depth, 1, kernel_size=7, padding=3)
                               if estimate_occlusion else None)

    def _gaussians(self, grid: torch.Tensor, kp: torch.Tensor) -> torch.Tensor:
        # grid (D, H, W, 3), kp (B, K, 3) -> (B, K, D, H, W)
        diff = grid[None, None] - kp[:, :, None, None, None, :]
        return torch.exp(-0.5 * diff.square().sum(-1) / self.cfg.kp_variance)

    def forward(self, feature: torch.Tensor, kp_driving: torch.Tensor, kp_source: torch.Tensor
                ) -> dict[str, torch.Tensor]:
        b, _, d, h, w = feature.shape
        k1 = self.num_kp + 1
        small = F.relu(self.compress_bn(self.compress(feature)))                       # (B, c, D, H, W)
        grid = identity_grid(d, h, w, kp_source)                                       # (D, H, W, 3)

        per_kp = (grid[None, None] - kp_driving[:, :, None, None, None, :]
                  + kp_source[:, :, None, None, None, :])                               # (B, K, D, H, W, 3)
        proposals = torch.cat([grid.expand(b, 1, d, h, w, 3), per_kp], dim=1)          # (B, K+1, D, H, W, 3)

        c = small.shape[1]
        repeated = small[:, None].expand(b, k1, c, d, h, w).reshape(b * k1, c, d, h, w)
        warped = F.grid_sample(repeated, proposals.reshape(b * k1, d, h, w, 3), align_corners=False)
        warped = warped.reshape(b, k1, c, d, h, w)

        heat = self._gaussians(grid, kp_driving) - self._gaussians(grid, kp_source)    # (B, K, D, H, W)
        heat = torch.cat([heat.new_zeros(b, 1, d, h, w), heat], dim=1)[:, :, None]       # (B, K+1, 1, D, H, W)

        hourglass_in = torch.cat([heat, warped], dim=2).reshape(b, k1 * (c + 1), d, h, w)
        pred = self.hourglass(hourglass_in)                                            # (B, 137, D, H, W)

        mask = torch.softmax(self.mask_head(pred), dim=1)                              # (B, K+1, D, H, W)
        deformation = (proposals * mask[..., None]).sum(dim=1)                         # (B, D, H, W, 3)
        out = {"mask": mask, "deformation": deformation}
        if self.occlusion_head is not None:
            out["occlusion_map"] = torch.sigmoid(self.occlusion_head(pred.reshape(b, -1, h, w)))
        return out


class WarpingNetwork(nn.Module):
    """(feature volume (B, 32, 16, 64, 64), driving kp (B, 21, 3), source kp (B, 21, 3)) -> dict with

    'out' (B, 256, 64, 64) warped features times occlusion, 'occlusion_map' (B, 1, 64, 64) and
    'deformation' (B, 16, 64, 64, 3) sampling grid.
    """

    def __init__(self, cfg: WarpingConfig = WarpingConfig()):
        super().__init__()
        self.cfg = cfg
        self.dense_motion = DenseMotion(cfg.dense_motion, cfg.num_kp, cfg.volume_channels, cfg.estimate_occlusion)
        ch = cfg.out_channels
        self.fuse = ConvBnAct2d(cfg.max_channels, ch, leaky=True)
        self.project = nn.Conv2d(ch, ch, kernel_size=1)

    def forward(self, feature: torch.Tensor, kp_driving: torch.Tensor, kp_source: torch.Tensor
                ) -> dict[str, torch.Tensor]:
        motion = self.dense_motion(feature, kp_driving, kp_source)
        deformation = motion["deformation"]
        warped = F.grid_sample(feature, deformation, align_corners=False)
        b, c, d, h, w = warped.shape
        out = self.project(self.fuse(warped.reshape(b, c * d, h, w)))
        occlusion = motion.get("occlusion_map")
        if occlusion is not None:
            out = out * occlusion
        return {"out": out, "occlusion_map": occlusion, "deformation": deformation}

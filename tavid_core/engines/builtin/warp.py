"""Thin-plate-spline image warping in torch, batched over frames.

For every frame the spline maps output positions back to source positions, fitted exactly through the
control points (where each rig point should appear -> where it is in the photo). It is evaluated on a
coarse grid, upsampled to a dense sampling map and applied with `grid_sample`, so the whole face and
its surroundings bend smoothly with no seams, and fixed anchors keep the background still.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def _kernel(r2: torch.Tensor) -> torch.Tensor:
    """The thin-plate radial basis U(r) = r^2 log r^2 (0 at r = 0)."""
    return r2 * torch.log(r2.clamp_min(1e-12))


class ThinPlateWarp(torch.nn.Module):
    """Warps one image of `size` x `size` pixels; `step` is the spacing of the coarse evaluation grid."""

    def __init__(self, size: int, step: int = 6, regularization: float = 1e-4):
        super().__init__()
        self.size = size
        self.coarse = max(8, -(-size // step))
        self.regularization = regularization
        centres = (torch.arange(self.coarse, dtype=torch.float32) + 0.5) / self.coarse * 2 - 1
        gy, gx = torch.meshgrid(centres, centres, indexing="ij")
        self.register_buffer("grid", torch.stack([gx, gy], dim=-1).reshape(-1, 2), persistent=False)

    def to_unit(self, points: torch.Tensor) -> torch.Tensor:
        """Pixel coordinates (pixel i has its centre at i) to grid_sample's -1..1 (align_corners=False)."""
        return (points + 0.5) / self.size * 2 - 1

    def sampling_map(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """[B, size, size, 2] map for grid_sample, from source [N, 2] and target [B, N, 2] pixel positions."""
        src, dst = self.to_unit(source), self.to_unit(target)
        b, n, _ = dst.shape
        r2 = ((dst[:, :, None, :] - dst[:, None, :, :]) ** 2).sum(-1)
        k = _kernel(r2) + self.regularization * torch.eye(n, device=dst.device, dtype=dst.dtype)
        p = torch.cat([torch.ones(b, n, 1, device=dst.device, dtype=dst.dtype), dst], dim=-1)
        system = torch.zeros(b, n + 3, n + 3, device=dst.device, dtype=dst.dtype)
        system[:, :n, :n], system[:, :n, n:], system[:, n:, :n] = k, p, p.transpose(1, 2)
        rhs = torch.zeros(b, n + 3, 2, device=dst.device, dtype=dst.dtype)
        rhs[:, :n] = src
        coef = torch.linalg.solve(system.double(), rhs.double()).to(dst.dtype)  # the spline system is ill-conditioned in fp32
        w, affine = coef[:, :n], coef[:, n:]

        q = self.grid.to(dst.dtype)
        u = _kernel(((q[None, :, None, :] - dst[:, None, :, :]) ** 2).sum(-1))        # [B, G, N]
        mapped = affine[:, :1] + q[None] @ affine[:, 1:] + u @ w                       # [B, G, 2]
        mapped = mapped.reshape(b, self.coarse, self.coarse, 2).permute(0, 3, 1, 2)
        dense = F.interpolate(mapped, size=(self.size, self.size), mode="bilinear", align_corners=False)
        return dense.permute(0, 2, 3, 1)

    def forward(self, image: torch.Tensor, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """image [3, size, size] float -> [B, 3, size, size] with source points moved to each frame's targets."""
        grid = self.sampling_map(source, target)
        return F.grid_sample(image[None].expand(grid.shape[0], -1, -1, -1), grid, mode="bilinear",
                             padding_mode="border", align_corners=False)

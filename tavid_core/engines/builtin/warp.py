"""Thin-plate-spline image warping, batched over frames: the spline in torch, its upsampling in OpenCV on the
CPU (torch elsewhere).

For every frame a spline is fitted exactly through the control points, from where each rig point
should appear to where it is in the photo, so the map samples the photo directly (an opening mouth
only squeezes the narrow gap between the photo's lips, which stays well behaved on a coarse grid).
Only the region around the head moves; the spline is evaluated there on a coarse grid, and on a finer
one around the mouth and chin where points move most against each other. Both are upsampled, the
fine one laid over the coarse with a soft edge (the same function, so no seam), and the displacement
fades to zero at the region's edge, beyond which the picture is the photo itself.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F

Box = tuple[int, int, int, int]   # x0, y0, x1, y1 in pixels, end exclusive
_KERNEL_FRAMES = 2                # frames whose spline is evaluated together
_FEATHER = 0.12                   # share of a box's half-size over which its contribution fades out


def _kernel(r2: torch.Tensor) -> torch.Tensor:
    """The thin-plate radial basis U(r) = r^2 log r^2 (0 at r = 0)."""
    return r2 * torch.log(r2.clamp_min(1e-12))


def _ramp(n: int) -> torch.Tensor:
    """1 in the middle, falling smoothly to 0 at both ends of `n` samples."""
    u = ((1.0 - torch.abs(torch.linspace(-1.0, 1.0, n))) / _FEATHER).clamp(0, 1)
    return u * u * (3 - 2 * u)


def _window(rows: int, cols: int) -> torch.Tensor:
    """[rows, cols]: 1 inside, fading to 0 at all four edges."""
    return _ramp(rows)[:, None] * _ramp(cols)[None]


class _Grid:
    """Nodes spread over a box, each in the middle of an equal cell of its pixels, and how to upsample values
    on them: bilinearly between node centres, each outer node's value held out to the box's edge (the
    sampling of OpenCV's resize and of torch's interpolate without align_corners, so either serves)."""

    def __init__(self, box: Box, step: int):
        x0, y0, x1, y1 = box
        self.box = box
        self.shape = (max(4, -(-(y1 - y0) // step) + 1), max(4, -(-(x1 - x0) // step) + 1))
        gy, gx = ((torch.arange(n) + 0.5) * ((hi - lo) / n) + (lo - 0.5)
                  for lo, hi, n in ((y0, y1, self.shape[0]), (x0, x1, self.shape[1])))
        self.nodes = torch.stack(torch.meshgrid(gx, gy, indexing="xy"), dim=-1).reshape(-1, 2)  # [G, 2] (x, y)

    def upsample(self, values: torch.Tensor) -> torch.Tensor:
        """[B, G, C] node values -> [B, h, w, C] over the box's pixels, channels-last (as OpenCV's remap reads
        its map). On the CPU OpenCV's resize does it, 15x quicker than torch there."""
        x0, y0, x1, y1 = self.box
        grid = values.reshape(len(values), *self.shape, -1)
        resize = upsample_opencv if grid.device.type == "cpu" else upsample_torch
        return resize(grid, y1 - y0, x1 - x0)


def upsample_opencv(grid: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """[B, gh, gw, C] -> [B, height, width, C], bilinear between cell centres (CPU tensors)."""
    return torch.from_numpy(np.stack([cv2.resize(g, (width, height), interpolation=cv2.INTER_LINEAR)
                                      for g in grid.numpy()]))


def upsample_torch(grid: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The same on any device."""
    dense = F.interpolate(grid.permute(0, 3, 1, 2), size=(height, width), mode="bilinear", align_corners=False)
    return dense.permute(0, 2, 3, 1)


class ThinPlateWarp(torch.nn.Module):
    """Warps one `size` x `size` image whose moving control points rest at `source` [N, 2] and whose
    `fixed` points [A, 2] never move (pixels). Only the pixels inside `box` move; `detail` (inside `box`)
    gets the finer grid."""

    def __init__(self, size: int, source, fixed, box: Box, detail: Box, step: int = 16, detail_step: int = 4,
                 regularization: float = 1e-4):
        super().__init__()
        self.size, self.regularization = size, regularization
        self.box, self.detail = tuple(map(int, box)), tuple(map(int, detail))
        self._coarse, self._fine = _Grid(self.box, step), _Grid(self.detail, detail_step)
        self.register_buffer("fixed", torch.as_tensor(fixed, dtype=torch.float32), persistent=False)
        self.register_buffer("source", torch.cat([torch.as_tensor(source, dtype=torch.float32), self.fixed]),
                             persistent=False)
        self.register_buffer("nodes", torch.cat([self._coarse.nodes, self._fine.nodes]) / size, persistent=False)
        self.register_buffer("fade", _window(*self._coarse.shape).reshape(1, -1, 1), persistent=False)
        x0, y0, x1, y1 = self.box
        ys, xs = torch.arange(y0, y1, dtype=torch.float32), torch.arange(x0, x1, dtype=torch.float32)
        pixels = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)
        self.register_buffer("pixels", pixels, persistent=False)   # [h, w, 2] the box's pixels (x, y)
        fine_h, fine_w = self.detail[3] - self.detail[1], self.detail[2] - self.detail[0]
        self.register_buffer("detail_fade", _window(fine_h, fine_w)[None, :, :, None], persistent=False)

    def _displacements(self, moving: torch.Tensor) -> torch.Tensor:
        """[B, G, 2] how far (pixels) the photo is sampled from each node, for the moving points' targets
        [B, N, 2] (pixels)."""
        target = torch.cat([moving, self.fixed.expand(len(moving), -1, -1)], dim=1)
        b, n, _ = target.shape
        t = target.double() / self.size
        k = _kernel(torch.cdist(t, t) ** 2) + self.regularization * torch.eye(n, dtype=t.dtype, device=t.device)
        p = torch.cat([torch.ones(b, n, 1, dtype=t.dtype, device=t.device), t], dim=-1)
        system = torch.zeros(b, n + 3, n + 3, dtype=t.dtype, device=t.device)
        system[:, :n, :n], system[:, :n, n:], system[:, n:, :n] = k, p, p.transpose(1, 2)
        rhs = torch.zeros(b, n + 3, 2, dtype=t.dtype, device=t.device)
        rhs[:, :n] = (self.source - target).double()
        coef = torch.linalg.solve(system, rhs).to(target.dtype)  # the spline system is ill-conditioned in fp32
        w, affine = coef[:, :n], coef[:, n:]
        q, tt = self.nodes, target / self.size
        out = affine[:, :1] + q[None] @ affine[:, 1:]
        # U(|q - t|) @ w, a few frames at a time and in place: the [G, N] kernel then stays in cache
        qq = (q * q).sum(-1)[:, None]
        for i in range(0, b, _KERNEL_FRAMES):
            chunk = tt[i:i + _KERNEL_FRAMES]
            r2 = torch.baddbmm(qq + (chunk * chunk).sum(-1)[:, None, :], q.expand(len(chunk), -1, -1),
                               chunk.transpose(1, 2), alpha=-2).clamp_(min=1e-12)
            out[i:i + _KERNEL_FRAMES].baddbmm_(r2.log().mul_(r2), w[i:i + _KERNEL_FRAMES])
        return out

    def source_pixels(self, target: torch.Tensor) -> torch.Tensor:
        """[B, h, w, 2] the image pixel (x, y) each pixel of the box samples: an OpenCV remap map."""
        d = self._displacements(target)
        g = len(self._coarse.nodes)
        dense = self._coarse.upsample(d[:, :g] * self.fade)
        fine = self._fine.upsample(d[:, g:])
        bx0, by0 = self.box[:2]
        x0, y0, x1, y1 = self.detail
        region = dense[:, y0 - by0:y1 - by0, x0 - bx0:x1 - bx0]
        region += (fine - region) * self.detail_fade
        return dense.add_(self.pixels)

    def sampling_map(self, target: torch.Tensor) -> torch.Tensor:
        """The same in grid_sample's -1..1 over the whole image (align_corners=False)."""
        return (self.source_pixels(target) + 0.5) * (2.0 / self.size) - 1

    def forward(self, image: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """image [3, size, size] -> the box region [B, 3, h, w] with the moving points brought to each
        frame's targets [B, N, 2] (pixels). Bilinear sampling never leaves the range of the image's values."""
        grid = self.sampling_map(target)
        return F.grid_sample(image[None].expand(grid.shape[0], -1, -1, -1), grid, mode="bilinear",
                             padding_mode="border", align_corners=False)

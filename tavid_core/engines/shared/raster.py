"""Small rasterisation helpers for painting face parts: anti-aliased coverage between two curves, lid/lip
curves and blending."""
from __future__ import annotations

import numpy as np

_SUPERSAMPLE = 4


def band_coverage(top: np.ndarray, bottom: np.ndarray, x0: int, y0: int, width: int, height: int) -> np.ndarray:
    """Fraction [height, width] of each pixel (pixel centres at integer coordinates) between the curve
    `top` and the curve `bottom` (each [P, 2] from one end to the other, as `edge_y` reads them), exact
    along y and supersampled along x."""
    s = _SUPERSAMPLE
    xs = (x0 + np.arange(width)[:, None] + ((np.arange(s) + 0.5) / s - 0.5)[None]).reshape(-1).astype(np.float32)
    lo = max(top[:, 0].min(), bottom[:, 0].min())
    hi = min(top[:, 0].max(), bottom[:, 0].max())
    upper, lower = edge_y(top, xs), edge_y(bottom, xs)
    lower = np.where((xs >= lo) & (xs <= hi), np.maximum(lower, upper), upper)  # nothing beyond the ends
    ys = (y0 + np.arange(height, dtype=np.float32))[:, None]
    covered = np.clip(np.minimum(lower, ys + 0.5) - np.maximum(upper, ys - 0.5), 0, 1)
    return covered.reshape(height, width, s).mean(axis=2)


def edge_y(points: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The y of the curve through `points` [P, 2] at each x (linear between points, flat beyond)."""
    order = np.argsort(points[:, 0])
    return np.interp(x, points[order, 0], points[order, 1])


def bounding_box(points: np.ndarray, width: int, height: int) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) of the pixels `points` [P, 2] can touch, a pixel of margin, clipped to the frame;
    None when nothing of it lies inside."""
    x0, y0 = max(int(np.floor(points[:, 0].min())) - 1, 0), max(int(np.floor(points[:, 1].min())) - 1, 0)
    x1, y1 = min(int(np.ceil(points[:, 0].max())) + 2, width), min(int(np.ceil(points[:, 1].max())) + 2, height)
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def blend(frame: np.ndarray, x0: int, y0: int, color: np.ndarray, alpha: np.ndarray) -> None:
    """Lay `color` [h, w, 3] (float RGB 0..1) with coverage `alpha` [h, w, 1] over the frame at (x0, y0), in
    place; the frame is float RGB 0..1 or uint8."""
    h, w = alpha.shape[:2]
    region = frame[y0:y0 + h, x0:x0 + w]
    if frame.dtype == np.uint8:
        mixed = region * (1 - alpha) + (color * 255.0) * alpha
        region[:] = np.clip(mixed + 0.5, 0, 255).astype(np.uint8)
    else:
        region[:] = region * (1 - alpha) + color * alpha


def smooth_curve(points: np.ndarray, samples_per_segment: int = 4) -> np.ndarray:
    """A Catmull-Rom curve through `points` [P, 2] in their order, [(P - 1) * samples + 1, 2]: lip and lid
    contours drawn through landmarks without the corners of a polygon."""
    p = np.asarray(points, np.float32)
    if len(p) < 3:
        return p
    padded = np.concatenate([2 * p[:1] - p[1:2], p, 2 * p[-1:] - p[-2:-1]])
    t = (np.arange(samples_per_segment, dtype=np.float32) / samples_per_segment)[:, None]
    out = []
    for i in range(1, len(padded) - 2):
        a, b, c, d = padded[i - 1], padded[i], padded[i + 1], padded[i + 2]
        out.append(0.5 * (2 * b + (c - a) * t + (2 * a - 5 * b + 4 * c - d) * t ** 2 + (3 * b - a - 3 * c + d) * t ** 3))
    out.append(p[-1:])
    return np.concatenate(out)

"""Small rasterisation helpers for painting face parts: anti-aliased polygon coverage and lid/lip curves."""
from __future__ import annotations

import numpy as np

_SUPERSAMPLE = 4


def polygon_coverage(polygon: np.ndarray, x0: int, y0: int, width: int, height: int) -> np.ndarray:
    """Fraction [height, width] of each pixel (pixel centres at integer coordinates) inside `polygon`
    [P, 2], from a supersampled even-odd test."""
    s = _SUPERSAMPLE
    offsets = (np.arange(s) + 0.5) / s - 0.5
    xs = (x0 + np.arange(width)[:, None] + offsets[None]).reshape(-1)
    ys = (y0 + np.arange(height)[:, None] + offsets[None]).reshape(-1)
    px, py = np.meshgrid(xs, ys)
    inside = np.zeros(px.shape, bool)
    for (ax, ay), (bx, by) in zip(polygon, np.roll(polygon, -1, axis=0)):
        crosses = (ay > py) != (by > py)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_at = ax + (py - ay) * (bx - ax) / (by - ay)
        inside ^= crosses & (px < x_at)
    return inside.reshape(height, s, width, s).mean(axis=(1, 3))


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

"""Painting closing eyelids: skin drawn down from the upper lid over the eye, with a darker lash line."""
from __future__ import annotations

import numpy as np

from ..shared.raster import band_coverage, blend, bounding_box, edge_y


def eyelid_color(image: np.ndarray, eye: np.ndarray, brow: np.ndarray) -> np.ndarray:
    """The skin colour between an eye's upper lid and its brow (median of a small patch), float RGB."""
    lid = eye[[1, 2]].mean(axis=0)
    above = lid + 0.35 * (brow.mean(axis=0) - lid)
    r = max(2, int(0.12 * np.linalg.norm(eye[3] - eye[0])))
    x, y = int(round(above[0])), int(round(above[1]))
    patch = image[max(y - r, 0):y + r + 1, max(x - r, 0):x + r + 1].reshape(-1, 3)
    return np.median(patch, axis=0).astype(np.float32) if len(patch) else np.full(3, 0.6, np.float32)


def paint_eyelid(frame: np.ndarray, eye: np.ndarray, closed: float, color: np.ndarray) -> None:
    """Cover the top `closed` (0..1) share of the eye opening `eye` [6, 2] (dlib order, the eye as it is
    open in this frame) of a float RGB or uint8 frame in place with lid skin."""
    if closed < 0.1:
        return
    box = bounding_box(eye, frame.shape[1], frame.shape[0])
    if box is None:
        return
    x0, y0, x1, y1 = box
    inside = band_coverage(eye[[0, 1, 2, 3]], eye[[0, 5, 4, 3]], x0, y0, x1 - x0, y1 - y0)
    xs = np.arange(x0, x1, dtype=np.float32)
    ys = np.arange(y0, y1, dtype=np.float32)[:, None]
    top, bottom = edge_y(eye[[0, 1, 2, 3]], xs)[None], edge_y(eye[[0, 5, 4, 3]], xs)[None]
    # the lid edge travels a little past the lower lid so a full blink leaves no sliver
    edge = top + min(closed, 1.0) * 1.1 * (bottom - top)
    cover = np.clip(edge - ys + 0.5, 0, 1)
    # the lashes ride on the lid's edge and rest on the lower lid once it gets there
    lash_y = np.minimum(edge, bottom - 0.7)
    lash = np.clip(1 - np.abs(ys - lash_y) / 1.2, 0, 1) * min(1.0, (closed - 0.1) / 0.4)
    depth = np.clip((edge - ys) / np.maximum(bottom - top, 1.0), 0, 1)
    skin = color * (0.92 + 0.08 * depth)[..., None]
    paint = skin * (1 - 0.55 * lash[..., None])
    alpha = (inside * np.maximum(cover, lash * 0.8) * min(1.0, closed * 1.5))[..., None]
    blend(frame, x0, y0, paint, alpha)

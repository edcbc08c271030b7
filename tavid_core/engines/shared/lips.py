"""Closing the mouth of a reference photo, once, before it is animated.

A portrait often smiles with parted lips. Animating it as-is would leave teeth showing whenever the
person should be silent. So each column of the mouth is remapped so the upper lip comes down and the
lower lip up to meet on a seam, skipping the teeth entirely; the rest of the face is untouched. The
inner lips are where MediaPipe's face mesh puts them; dlib's points, which tend to sit on the teeth, are
first widened to where teeth and cavity really end.
"""
from __future__ import annotations

import numpy as np

from .raster import edge_y

# extra points after dlib's 68: inner lip half way between each corner and its neighbour
# (upper left, lower left, upper right, lower right)
LIP_QUARTERS = (68, 69, 70, 71)
N_LIP_POINTS = 72
INNER_UPPER = (60, 68, 61, 62, 63, 70, 64)  # inner lip contours, corner to corner
INNER_LOWER = (60, 69, 67, 66, 65, 71, 64)
OUTER_UPPER = (48, 49, 50, 51, 52, 53, 54)
OUTER_LOWER = (48, 59, 58, 57, 56, 55, 54)
_PAIRS = ((61, 67), (62, 66), (63, 65), (68, 69), (70, 71))
_TEETH_ABOVE_LIP = 0.05  # how much brighter than the lips teeth are, at least (0..1 levels)
_OUTER_OF = {61: 50, 62: 51, 63: 52, 68: 49, 70: 53, 67: 58, 66: 57, 65: 56, 69: 59, 71: 55}


# the lip quarters as mesh vertices: the middle of each pair (analysis/face_points.py has the contours)
_MESH_QUARTERS = ((191, 80), (95, 88), (310, 415), (318, 324))


def with_lip_quarters(landmarks: np.ndarray, mesh: np.ndarray | None = None) -> np.ndarray:
    """dlib's 68 points plus the four inner-lip quarter points: on the mesh's inner lip contour when
    its points [478, >=2] are given, else half way between dlib's corner and next inner point."""
    lm = np.asarray(landmarks, np.float32)
    if mesh is not None:
        m = np.asarray(mesh, np.float32)[:, :2]
        quarters = np.stack([(m[a] + m[b]) / 2 for a, b in _MESH_QUARTERS])
    else:
        quarters = np.stack([(lm[60] + lm[61]) / 2, (lm[60] + lm[67]) / 2, (lm[63] + lm[64]) / 2,
                             (lm[64] + lm[65]) / 2])
    return np.concatenate([lm[:68], quarters])


def fit_lips_to_teeth(image: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """Widen the inner-lip opening to the teeth or the dark cavity between the outer lips, column by
    column. Teeth are bright, about as red as green, and brighter than the lip at both ends of the
    column (in a grey photo only that last test tells teeth from a lit lower lip). `image` float RGB;
    points [72, 2]."""
    lm = lm.copy()
    h, w = image.shape[:2]
    for upper, lower in _PAIRS:
        x = int(round((lm[upper, 0] + lm[lower, 0]) / 2))
        top, bottom = int(np.ceil(lm[_OUTER_OF[upper], 1])) + 1, int(np.floor(lm[_OUTER_OF[lower], 1]))
        top, bottom = max(top, 0), min(bottom, h)
        if not (0 <= x < w) or bottom - top < 4:
            continue
        column = image[top:bottom, x]
        red, green = column[:, 0], column[:, 1]
        brightness = column.mean(axis=1)
        lip = max(brightness[:2].mean(), brightness[-2:].mean())
        teeth = ((red - green) < 0.12 * red) & (red > 0.6) & (brightness > lip + _TEETH_ABOVE_LIP)
        mouthy = teeth | (column.max(axis=1) < 0.2)
        rows = np.nonzero(mouthy)[0] + top
        if len(rows):
            lm[upper, 1] = min(lm[upper, 1], rows[0] - 0.5)
            lm[lower, 1] = max(lm[lower, 1], rows[-1] + 0.5)
    return lm


def lip_colour(pixels: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Median colour (float RGB) of the lips, sampled between the outer and inner contours of `points`
    (dlib's layout, pixels) of a float RGB picture."""
    h, w = pixels.shape[:2]
    samples = []
    for outer, inner in ((50, 61), (51, 62), (52, 63), (56, 65), (57, 66), (58, 67)):
        for t in (0.35, 0.5, 0.65):
            x, y = points[outer] + t * (points[inner] - points[outer])
            samples.append(pixels[int(np.clip(round(y), 0, h - 1)), int(np.clip(round(x), 0, w - 1))])
    return np.median(np.asarray(samples, np.float32), axis=0)


def _curve(lm: np.ndarray, idx: tuple[int, ...], xs: np.ndarray) -> np.ndarray:
    return edge_y(lm[list(idx)], xs)


def open_lip_points(image: np.ndarray, landmarks: np.ndarray, mesh: np.ndarray | None = None) -> np.ndarray:
    """The photo's 72 lip-aware points [72, 2] before its mouth is closed: the mesh's inner lips, or
    dlib's widened to the teeth."""
    points = with_lip_quarters(landmarks, mesh)
    return points if mesh is not None else fit_lips_to_teeth(image, points)


def _opened_to(points: np.ndarray, other: np.ndarray) -> np.ndarray:
    """`points` [72, 2] with their inner lips moved apart to take in those of `other` [72, 2] too."""
    points = points.copy()
    for idx, wider in ((INNER_UPPER, np.minimum), (INNER_LOWER, np.maximum)):
        inner = [i for i in idx if i not in (60, 64)]
        points[inner, 1] = wider(points[inner, 1], edge_y(other[list(idx)], points[inner, 0]))
    return points


def close_photo_mouth(image: np.ndarray, landmarks: np.ndarray, mesh: np.ndarray | None = None,
                      dlib: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(image, points) with the lips together. `image` float RGB [H, W, 3], `landmarks` dlib's layout
    [68, 2], `mesh` the face mesh's points [478, >=2] when MediaPipe marked the face and `dlib` dlib's own 68
    points then, whose opening is closed too; returned points are [72, 2] (with the lip quarters)."""
    from scipy.ndimage import map_coordinates

    lm = open_lip_points(image, landmarks, mesh)
    if mesh is not None and dlib is not None:
        # the mesh can put a smile's inner lips on the teeth, most of all in a grey photo, where closing would
        # then leave a band of teeth under the seam; dlib's fitted to the teeth reach past them there
        lm = _opened_to(lm, open_lip_points(image, dlib))
    h, w = image.shape[:2]
    x0, x1 = int(np.floor(lm[60, 0])), int(np.ceil(lm[64, 0])) + 1
    xs = np.arange(max(x0, 0), min(x1, w), dtype=np.float32)
    upper, lower = _curve(lm, INNER_UPPER, xs), _curve(lm, INNER_LOWER, xs)
    gap = lower - upper
    if len(xs) == 0 or gap.max() < 0.75:
        return image, lm
    seam = (upper + lower) / 2
    # each column: [top, seam] shows the photo's [top, upper]; [seam, bottom] shows [lower, bottom]
    top = upper - 2.0 * np.maximum(upper - _curve(lm, OUTER_UPPER, xs), 1.0)
    bottom = lower + 2.0 * np.maximum(_curve(lm, OUTER_LOWER, xs) - lower, 1.0)
    y0, y1 = max(int(np.floor(top.min())), 0), min(int(np.ceil(bottom.max())) + 1, h)
    ys = np.arange(y0, y1, dtype=np.float32)[:, None]
    above = top + (ys - top) * (upper - top) / np.maximum(seam - top, 1e-3)
    below = lower + (ys - seam) * (bottom - lower) / np.maximum(bottom - seam, 1e-3)
    source_y = np.where(ys < seam, above, below)
    source_y = np.where((ys < top) | (ys > bottom), ys, source_y)
    source_x = np.broadcast_to(xs[None], source_y.shape)
    closed = image.copy()
    for c in range(3):
        closed[y0:y1, xs.astype(int), c] = map_coordinates(image[..., c], [source_y, source_x], order=1, mode="nearest")

    # points follow the same remap: inner lips onto the seam, outer lips by the inverse of their column's map
    out = lm.copy()
    for i in set(INNER_UPPER + INNER_LOWER) - {60, 64}:
        out[i, 1] = np.interp(lm[i, 0], xs, seam)
    for idx, side in ((OUTER_UPPER[1:-1], "upper"), (OUTER_LOWER[1:-1], "lower")):
        for i in idx:
            x = lm[i, 0]
            t, u, s, lo, b = (np.interp(x, xs, v) for v in (top, upper, seam, lower, bottom))
            y = lm[i, 1]
            out[i, 1] = t + (y - t) * (s - t) / max(u - t, 1e-3) if side == "upper" else s + (y - lo) * (b - s) / max(b - lo, 1e-3)
    return closed, out

"""Painting the inside of an open mouth: a dark cavity, the upper teeth under the upper lip and, when the
mouth opens wide, a hint of lower teeth and tongue. Warping alone would only stretch the lips'
pixels into the gap."""
from __future__ import annotations

import numpy as np

from ..shared.raster import band_coverage, blend, bounding_box, edge_y, smooth_curve

_CAVITY = np.array([0.30, 0.10, 0.10], np.float32)
_THROAT = np.array([0.10, 0.03, 0.035], np.float32)
_TONGUE = np.array([0.62, 0.30, 0.30], np.float32)
_TEETH = np.array([0.88, 0.85, 0.78], np.float32)
_TOOTH_WIDTHS = (0.095, 0.075, 0.065, 0.06, 0.06)  # incisor outwards, in eye-corner distances
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
SKIN_CHROMA = 0.1  # channel spread (max - min, 0..1 levels) of the cheeks in an ordinary colour photo


def colourfulness(pixels: np.ndarray, points: np.ndarray) -> float:
    """How colourful the photo is, 0 (black and white) to 1 (ordinary colour), from the median channel
    spread of the cheeks and nose: the painted mouth takes this much colour, so a grey or faded photo
    does not get a red mouth. `pixels` float RGB 0..1 or uint8, `points` dlib's landmarks."""
    x0, x1 = int(points[2, 0]), int(points[14, 0]) + 1
    y0, y1 = int(points[36:48, 1].max()), int(points[50:53, 1].min())
    patch = np.asarray(pixels[max(y0, 0):max(y1, y0 + 1), max(x0, 0):max(x1, x0 + 1)], np.float32)
    if patch.size == 0:
        return 1.0
    scale = 255.0 if np.asarray(pixels).dtype == np.uint8 else 1.0
    spread = np.median(patch.max(axis=-1) - patch.min(axis=-1)) / scale
    return float(np.clip(spread / SKIN_CHROMA, 0.0, 1.0))


def paint_mouth(frame: np.ndarray, upper: np.ndarray, lower: np.ndarray, unit: float,
                colour: float = 1.0) -> None:
    """Fill the opening between the inner upper and lower lip contours [P, 2] (each from one corner to the
    other, pixels) of a float RGB or uint8 frame [H, W, 3] in place. `unit` is the face's eye-corner distance,
    which sizes the teeth; `colour` is the photo's colourfulness (0 paints in greys)."""
    middle = slice(1, len(upper) - 1)
    opening = float(np.mean(lower[middle, 1] - upper[middle, 1]))
    if opening < 0.6:
        return
    upper, lower = smooth_curve(upper), smooth_curve(lower)
    inner = np.concatenate([upper, lower[-2:0:-1]])
    box = bounding_box(inner, frame.shape[1], frame.shape[0])
    if box is None:
        return
    x0, y0, x1, y1 = box
    alpha = band_coverage(upper, lower, x0, y0, x1 - x0, y1 - y0)
    if alpha.max() <= 0:
        return
    xs = np.arange(x0, x1, dtype=np.float32)
    ys = np.arange(y0, y1, dtype=np.float32)[:, None]
    top, bottom = edge_y(upper, xs)[None], edge_y(lower, xs)[None]
    depth = np.clip((ys - top) / np.maximum(bottom - top, 1e-3), 0, 1)           # 0 at the upper lip, 1 at the lower
    centre_x, half_w = (upper[0, 0] + upper[-1, 0]) / 2, max(abs(upper[-1, 0] - upper[0, 0]) / 2, 1.0)
    side = np.clip(np.abs(xs - centre_x) / half_w, 0, 1)[None]                    # 0 in the middle, 1 at the corners
    shade = (1.0 - 0.55 * side ** 2)[..., None]

    # cavity: darker towards the throat (middle), with a tongue glimpse at the bottom of a wide mouth
    throat = np.exp(-((depth - 0.55) / 0.35) ** 2 - (side / 0.7) ** 2)[..., None]
    color = _CAVITY * (1 - throat) + _THROAT * throat
    tongue_amount = np.clip((opening / unit - 0.18) / 0.2, 0, 0.7)
    tongue = np.clip((depth - 0.65) / 0.35, 0, 1)[..., None] * tongue_amount
    color = color * (1 - tongue) + _TONGUE * tongue

    soft = max(1.0, 0.012 * unit)  # teeth edges blur over about a pixel at 512 px
    upper_teeth_px = min(0.45 * opening, 0.1 * unit)
    fade = np.clip((0.9 - side) / 0.2, 0, 1)  # the teeth recede into shadow towards the corners
    teeth_top = np.clip((upper_teeth_px - (ys - top)) / soft, 0, 1) * fade
    lower_teeth_px = max(0.0, min(0.25 * opening - 0.03 * unit, 0.06 * unit))
    teeth_bottom = np.clip((lower_teeth_px - (bottom - ys)) / soft, 0, 1) * np.clip((0.7 - side) / 0.2, 0, 1)
    teeth = np.clip(teeth_top + 0.85 * teeth_bottom, 0, 1)[..., None]
    # gaps between teeth: thin darker lines at each tooth's edge, outwards from the middle
    edges = np.cumsum(_TOOTH_WIDTHS) * unit
    gap = np.zeros_like(xs)
    for edge in np.concatenate([[0.0], edges]):
        for x in (centre_x - edge, centre_x + edge):
            gap = np.maximum(gap, np.clip(1 - np.abs(xs - x) / soft, 0, 1))
    enamel = _TEETH * (0.78 + 0.22 * np.clip((ys - top) / max(upper_teeth_px, 1.0), 0, 1))[..., None]
    enamel = enamel * (1 - 0.12 * gap[None, :, None])
    color = color * (1 - teeth) + enamel * teeth
    # the lip's inner edge casts a soft shadow into the mouth
    rim = np.exp(-np.minimum(ys - top, bottom - ys).clip(0) / (1.5 * soft))[..., None]
    color = color * shade * (1 - 0.35 * rim)
    grey = color @ _LUMA
    color = grey[..., None] + colour * (color - grey[..., None])

    blend(frame, x0, y0, color, alpha[..., None])

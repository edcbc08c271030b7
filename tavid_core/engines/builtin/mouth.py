"""The inside of an open mouth, laid under the lips.

The warp moves the lips themselves (their texture and thickness kept: the lower lip travels with the
jaw); only the gap between the warped inner lip contours is filled, never the lips. What fills it is
lit as a mouth is: the upper teeth hang under the upper lip (from the photo when it shows them, see
teeth.py), shadowed where the lip overhangs them and receding into the dark towards the corners; the
lower teeth and the tongue rise from the lower lip as the jaw drops, shaded; behind them a cavity that
darkens towards the throat. Its colours come from the photo's own lips, so a grey photo gets a grey
mouth. Every edge is soft, and the lips' inner rims cast a soft shadow inwards.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..shared.lips import lip_colour
from ..shared.raster import band_coverage, bounding_box, edge_y, smooth_curve
from .teeth import TeethTexture

_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
SKIN_CHROMA = 0.1  # channel spread (max - min, 0..1 levels) of the cheeks in an ordinary colour photo
MIN_OPENING_PX = 0.6  # a thinner gap is left to the warp


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


@dataclass(frozen=True, eq=False)
class MouthLook:
    """What one face's open mouth is made of: colours float RGB 0..1 (already as colourful as the photo)
    and the upper teeth."""

    cavity: np.ndarray     # just inside the lips
    throat: np.ndarray     # deep inside
    tongue: np.ndarray
    teeth: TeethTexture    # the upper teeth; the lower ones are drawn from them, smaller and in shade


def _greyed(color: np.ndarray, colour: float) -> np.ndarray:
    grey = float(color @ _LUMA)
    return np.clip(grey + colour * (color - grey), 0, 1).astype(np.float32)


def mouth_look(pixels: np.ndarray, points: np.ndarray, teeth: TeethTexture, colour: float) -> MouthLook:
    """The mouth of a closed-mouth portrait (float RGB) with rig points [N, 2]: the colours of its lips
    darkened into a cavity and a tongue in their hue."""
    lips = lip_colour(pixels, points)
    cavity = lips * np.array([0.38, 0.2, 0.2], np.float32)
    throat = lips * np.array([0.1, 0.04, 0.04], np.float32)
    tongue = lips * np.array([0.78, 0.5, 0.5], np.float32)
    return MouthLook(cavity=_greyed(cavity, colour), throat=_greyed(throat, colour),
                     tongue=_greyed(tongue, colour), teeth=teeth)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def paint_mouth(frame: np.ndarray, upper: np.ndarray, lower: np.ndarray, unit: float, look: MouthLook) -> None:
    """Fill the opening between the inner upper and lower lip contours [P, 2] (each from one corner to the
    other, pixels) of a uint8 or float RGB frame [H, W, 3] in place. `unit` is the face's eye-corner
    distance in this frame, which sizes teeth, tongue and shadows."""
    middle = slice(1, len(upper) - 1)
    opening = float(np.max(lower[middle, 1] - upper[middle, 1]))
    if opening < MIN_OPENING_PX:
        return
    upper, lower = smooth_curve(upper), smooth_curve(lower)
    box = bounding_box(np.concatenate([upper, lower]), frame.shape[1], frame.shape[0])
    if box is None:
        return
    x0, y0, x1, y1 = box
    alpha = band_coverage(upper, lower, x0, y0, x1 - x0, y1 - y0)
    if alpha.max() <= 0:
        return
    xs = np.arange(x0, x1, dtype=np.float32)
    ys = np.arange(y0, y1, dtype=np.float32)[:, None]
    top, bottom = edge_y(upper, xs)[None], edge_y(lower, xs)[None]
    gap = np.maximum(bottom - top, 1e-3)
    below_top, above_bottom = ys - top, bottom - ys
    left, right = (upper[0] + lower[0]) / 2, (upper[-1] + lower[-1]) / 2
    centre_x, half_w = (left[0] + right[0]) / 2, max(abs(right[0] - left[0]) / 2, 1.0)
    side = np.clip(np.abs(xs - centre_x) / half_w, 0, 1)[None]        # 0 in the middle, 1 at the corners
    soft = max(0.8, 0.012 * unit)                                      # about a pixel at 512 px

    # the cavity: lit a little just inside the lips, dark towards the throat and the corners
    inward = np.clip(np.minimum(below_top, above_bottom) / np.maximum(0.5 * gap, 1.0), 0, 1)
    deep = _smoothstep(inward * (1 - side ** 2) * np.clip(gap / (0.18 * unit), 0, 1))[..., None]
    color = look.cavity * (1 - deep) + look.throat * deep
    color = color * (1 - 0.5 * side[..., None] ** 2)

    # tongue: a rounded hump behind the lower teeth, showing once the jaw has dropped; its back in shade
    rise = np.clip(0.4 * gap - 0.035 * unit, 0, 0.3 * gap) * np.sqrt(np.clip(1 - (side / 0.8) ** 2, 0, 1))
    tongue = np.where(rise > 0.5, _smoothstep((rise - above_bottom) / np.maximum(0.4 * rise, 1e-3)), 0.0)
    lit = (0.6 + 0.4 * np.clip(above_bottom / np.maximum(rise, 1e-3), 0, 1)) * (1 - 0.45 * side ** 2)
    color = color * (1 - tongue[..., None]) + look.tongue * (lit * tongue)[..., None]

    # lower teeth: the tips of the middle ones, just above the lower lip once the jaw has dropped well
    lower_h = np.clip(0.12 * gap - 0.02 * unit, 0, 0.035 * unit)
    # the upper teeth's texture upside down: its biting edge at the tips, its body going down behind the lip
    lower_rgb, lower_alpha = look.teeth.sample((xs - centre_x) / (0.8 * unit), 0.085 - (lower_h - above_bottom) / unit)
    # mostly behind the lower lip and in its shade: only a hint of them, warmed by the mouth around them
    lower_alpha = 0.6 * lower_alpha * np.clip(1 - (side / 0.55) ** 2, 0, 1) * (lower_h > 0.5) * (above_bottom < lower_h + 2)
    color = color * (1 - lower_alpha[..., None]) + (lower_rgb * 0.5 + 0.15 * look.tongue) * lower_alpha[..., None]

    # upper teeth from the texture, their tops tucked under the upper lip, receding at the sides
    tex, tex_alpha = look.teeth.sample((xs - centre_x) / unit, below_top / unit)
    recede = np.clip(1 - side ** 2 * 0.75, 0, 1)[..., None]
    if not look.teeth.from_photo:  # a photo's teeth already carry the lip's shadow
        recede = recede * (0.7 + 0.3 * _smoothstep(below_top / (2.5 * soft))[..., None])
    color = color * (1 - tex_alpha[..., None]) + tex * recede * tex_alpha[..., None]

    # the lips' inner rims cast a soft shadow into the mouth
    rim = np.exp(-np.clip(np.minimum(below_top * 1.5, above_bottom), 0, None) / (1.5 * soft))
    color = color * (1 - 0.4 * rim)[..., None]
    color = cv2.GaussianBlur(color.astype(np.float32), (0, 0), 0.4 * soft)
    _blend_under(frame, x0, y0, color, alpha)


def _blend_under(frame: np.ndarray, x0: int, y0: int, color: np.ndarray, alpha: np.ndarray) -> None:
    """Lay `color` into the frame where `alpha` (the opening's coverage) says, its edge softened by half a
    pixel so the lips' rims blend into it rather than cut it."""
    alpha = cv2.GaussianBlur(alpha.astype(np.float32), (0, 0), 0.5) * (alpha > 0)
    h, w = alpha.shape
    region = frame[y0:y0 + h, x0:x0 + w]
    a = alpha[..., None]
    if frame.dtype == np.uint8:
        region[:] = np.clip(region * (1 - a) + color * 255.0 * a + 0.5, 0, 255).astype(np.uint8)
    else:
        region[:] = region * (1 - a) + color * a

"""The upper teeth an open mouth shows: the photo's own when it shows them, else drawn in its light.

A texture in the face's own measure: across, u is the distance from the mouth's middle, down, v the
distance below the upper lip's inner edge, both in eye-corner distances. The renderer hangs it under the
warped upper lip each frame, so the teeth stay with the upper jaw as the lower one drops. Drawn teeth are
a row of incisors, laterals and canines with rounded corners (the scalloped edge is what reads as teeth),
in a warm white as bright as the photo's skin allows, tinted by the photo's light.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..shared.lips import INNER_LOWER, INNER_UPPER, lip_colour
from ..shared.raster import edge_y, smooth_curve

_U_REACH, _V_LOW, _V_HIGH, _STEP = 0.62, -0.06, 0.22, 0.004   # the texture's extent and resolution (units)
_TOOTH_WIDTHS = (0.085, 0.068, 0.062, 0.06, 0.058)             # central incisor outwards
_TEETH_LONG = 0.095                                            # drawn central incisors, below the lip
_WARM_WHITE = np.array([1.0, 0.965, 0.88], np.float32)
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


@dataclass(frozen=True, eq=False)
class TeethTexture:
    rgb: np.ndarray       # float32 [V, U, 3]
    alpha: np.ndarray     # float32 [V, U], how much of each texel is tooth
    tone: np.ndarray      # float32 [3], their typical colour (the lower teeth take it, shaded)
    from_photo: bool

    def __post_init__(self):
        object.__setattr__(self, "_rgba", np.ascontiguousarray(np.dstack([self.rgb, self.alpha]), np.float32))

    def sample(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(colour [H, W, 3], alpha [H, W]) at u [1 or H, W], v [H, W] (units), bilinear."""
        u, v = np.broadcast_arrays(np.asarray(u, np.float32), np.asarray(v, np.float32))
        map_x = ((u + _U_REACH) / _STEP).astype(np.float32)
        map_y = ((v - _V_LOW) / _STEP).astype(np.float32)
        out = cv2.remap(self._rgba, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        return out[..., :3], out[..., 3]


def _grid() -> tuple[np.ndarray, np.ndarray]:
    u = np.arange(-_U_REACH, _U_REACH + 1e-6, _STEP, dtype=np.float32)[None]
    v = np.arange(_V_LOW, _V_HIGH + 1e-6, _STEP, dtype=np.float32)[:, None]
    return u, v


def drawn_teeth(tone: np.ndarray) -> TeethTexture:
    """Upper teeth drawn in `tone` (float RGB)."""
    u, v = _grid()
    edges = np.concatenate([[0.0], np.cumsum(_TOOTH_WIDTHS)])
    a = np.abs(u)
    tooth = np.clip(np.searchsorted(edges, a[0], side="right") - 1, 0, len(_TOOTH_WIDTHS) - 1)[None]
    lo, width = edges[tooth], np.asarray(_TOOTH_WIDTHS)[tooth]
    across = (a - lo) / width                                         # 0..1 across each tooth
    length = _TEETH_LONG * np.array([1.0, 0.86, 0.92, 0.8, 0.74])[tooth]
    corner = 0.018 * (1 - np.sqrt(np.clip(1 - (2 * across - 1) ** 2, 0, 1)))   # rounded lower corners
    edge = length - corner
    alpha = np.clip((edge - v) / 0.006 + 0.5, 0, 1) * np.clip((_U_REACH - 0.08 - a) / 0.06, 0, 1)
    gap = np.exp(-((np.minimum(across, 1 - across) * width) / 0.004) ** 2)   # the line between two teeth
    bulge = 0.93 + 0.07 * np.sin(np.pi * np.clip(across, 0, 1))            # each tooth catches light in its middle
    tip = np.clip((v - (edge - 0.016)) / 0.016, 0, 1)                      # the translucent biting edge
    light = bulge * (1 - 0.22 * gap) * (1 - 0.18 * tip)
    rgb = tone[None, None] * light[..., None] * (1 - tip[..., None] * np.array([0.04, 0.02, -0.03]))
    return TeethTexture(rgb=rgb.astype(np.float32), alpha=alpha.astype(np.float32), tone=tone.astype(np.float32),
                        from_photo=False)


def teeth_tone(pixels: np.ndarray, points: np.ndarray, colour: float) -> np.ndarray:
    """A tooth colour for this photo: a warm white a little brighter than the cheeks, in the photo's light
    (its skin's cast), as colourful as the photo."""
    x0, x1 = int(points[2, 0]), int(points[14, 0]) + 1
    y0, y1 = int(points[36:48, 1].max()), int(points[50:53, 1].min())
    patch = np.asarray(pixels[max(y0, 0):max(y1, y0 + 1), max(x0, 0):max(x1, x0 + 1)], np.float32).reshape(-1, 3)
    skin = np.median(patch, axis=0) if len(patch) else np.full(3, 0.6, np.float32)
    skin_light = max(float(skin @ _LUMA), 0.05)
    light = float(np.clip(1.1 * skin_light + 0.1, 0.45, 0.92))
    cast = (skin / skin_light) ** 0.45
    color = _WARM_WHITE * cast
    color = color / float(color @ _LUMA) * light
    grey = float(color @ _LUMA)
    return np.clip(grey + colour * (color - grey), 0, 1).astype(np.float32)


_TEETH_ABOVE_LIP = 0.05   # teeth are at least this much brighter than the lips (0..1 levels)
_SHOWS_TEETH = 0.6        # share of the opening's middle columns that must show teeth ...
_MIN_SHOWN = 0.03         # ... at least this high (units)


def photo_teeth(photo: np.ndarray, points: np.ndarray, unit: float, tone: np.ndarray) -> TeethTexture | None:
    """The upper teeth of a photo whose mouth shows them (None when it does not): the pixels below the
    upper lip's inner edge, `points` the photo's open 72 lip-aware points (pixels), `unit` its eye-corner
    distance."""
    upper, lower = smooth_curve(points[list(INNER_UPPER)]), smooth_curve(points[list(INNER_LOWER)])
    left, right = upper[0, 0], upper[-1, 0]
    centre = (left + right) / 2
    u, v = _grid()
    x = centre + u * unit
    top = edge_y(upper, x[0])[None]
    bottom = edge_y(lower, x[0])[None]
    y = top + v * unit
    inside = (x > left) & (x < right) & (y < bottom - 0.5)
    rgb = cv2.remap(photo.astype(np.float32), np.broadcast_to(x, y.shape).astype(np.float32), y.astype(np.float32),
                    cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    lips = float(lip_colour(photo, points) @ _LUMA)
    bright = rgb @ _LUMA
    chroma = rgb.max(axis=-1) - rgb.min(axis=-1)
    tooth_like = inside & (bright > lips + _TEETH_ABOVE_LIP) & (chroma < 0.45 * np.maximum(bright, 1e-3))
    shown = tooth_like[:, np.abs(u[0]) < 0.2].sum(axis=0) * _STEP     # tooth height in each middle column
    if shown.size == 0 or np.mean(shown >= _MIN_SHOWN) < _SHOWS_TEETH:
        return None
    # the teeth go on below what the photo shows: carry each column's lowest tooth row down a little
    alpha = cv2.GaussianBlur(tooth_like.astype(np.float32), (0, 0), 1.0) * (v > -0.02)
    seen = tooth_like.any(axis=0)
    last = np.where(seen, tooth_like.shape[0] - 1 - np.argmax(tooth_like[::-1], axis=0), 0)
    rows = np.arange(len(v))[:, None]
    below = rows > last[None]
    carry = np.clip(1 - (rows - last[None]) * _STEP / 0.02, 0, 1) * seen[None]
    rgb = np.where(below[..., None], rgb[last, np.arange(rgb.shape[1])][None], rgb)
    alpha = np.where(below, alpha[last, np.arange(alpha.shape[1])][None] * carry, alpha)
    teeth_pixels = rgb[tooth_like]
    return TeethTexture(rgb=rgb.astype(np.float32), alpha=alpha.astype(np.float32),
                        tone=np.median(teeth_pixels, axis=0).astype(np.float32), from_photo=True)

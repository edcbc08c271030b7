"""LivePortrait's crop of a photo, and the paste-back of a generated face into the portrait.

The crop follows LivePortrait's convention for a source photo: the face's up direction runs from the mouth
corners' middle to the eyes' middle; the landmarks' box in that rotated frame, made square, times SCALE, moved
up by VY of its side towards the forehead, is cut out rotated upright at the network's render size. Outside the
photo it is filled by mirroring, as the portrait is (shared/portrait.py).

The generated face goes back the same way with a feathered mask: 1 inside, falling linearly to 0 over the
outer FEATHER of the crop's side, with rounded corners, so nothing but the face square changes in the portrait.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from .....media.images import resize
from .landmarks import FaceLandmarks

SCALE = 2.3          # crop side over the landmarks' box side
VY = -0.125          # the crop's centre moved along the face's down direction by this share of its side
FEATHER = 16 / 512   # the mask's ramp: 16 pixels of the 512 px crop
CORNER = 2 * FEATHER  # corner radius of the mask, a share of the side


def crop_transform(landmarks: FaceLandmarks, size: int) -> np.ndarray:
    """2x3 affine from photo pixels to a `size` px crop (pixel centres at whole numbers, as OpenCV's)."""
    eyes, lips = landmarks.eye_centres.mean(0), landmarks.mouth_corners.mean(0)
    down = lips - eyes
    length = float(np.linalg.norm(down))
    down = down / length if length > 1e-3 else np.array([0.0, 1.0])
    right = np.array([down[1], -down[0]])
    frame = np.stack([right, down])                    # rows: the face's right and down directions
    mean = landmarks.points.mean(0)
    rotated = (landmarks.points - mean) @ frame.T
    lo, hi = rotated.min(0), rotated.max(0)
    side = float(max(hi - lo)) * SCALE
    centre = mean + frame.T @ ((lo + hi) / 2) + down * (VY * side)
    s = size / side
    linear = s * frame                                 # photo offsets -> crop offsets (rotated upright)
    offset = np.array([size / 2 - 0.5, size / 2 - 0.5]) - linear @ centre
    return np.concatenate([linear, offset[:, None]], axis=1)


def crop_image(image: np.ndarray, to_crop: np.ndarray, size: int) -> np.ndarray:
    """The `size` px crop (uint8) of a photo. A photo shrunk by more than the crop does is first resized
    with a proper filter, since the affine warp itself only interpolates."""
    scale = float(np.sqrt(abs(np.linalg.det(to_crop[:, :2]))))
    if scale < 1.0:
        h, w = image.shape[:2]
        small_w, small_h = max(1, round(w * scale)), max(1, round(h * scale))
        image = resize(image, small_w, small_h)
        shrink = np.array([[small_w / w, 0, 0.5 * small_w / w - 0.5], [0, small_h / h, 0.5 * small_h / h - 0.5],
                           [0, 0, 1]])
        to_crop = np.concatenate([to_crop, [[0, 0, 1]]]) @ np.linalg.inv(shrink)
    return cv2.warpAffine(image, to_crop[:2], (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


def feather_mask(size: int) -> np.ndarray:
    """[size, size] float32: 1 inside, a linear ramp to 0 (the outermost pixels) over FEATHER * size pixels, with
    rounded corners."""
    ramp, radius = FEATHER * size, CORNER * size
    centre = (size - 1) / 2
    p = np.abs(np.arange(size) - centre)
    inner = centre - radius                            # the edge runs through the outermost pixels' centres
    qx, qy = np.maximum(p[None, :] - inner, 0), np.maximum(p[:, None] - inner, 0)
    outside = np.hypot(qx, qy) + np.minimum(np.maximum(p[None, :], p[:, None]) - inner, 0) - radius
    return np.clip(-outside / ramp, 0, 1).astype(np.float32)   # -outside: the distance inside the edge


def portrait_to_crop(to_crop: np.ndarray, box: tuple[int, int, int], size: int) -> np.ndarray:
    """2x3 affine from portrait pixels (the `size` px square cut at `box` = x0, y0, side of the photo) to the crop."""
    x0, y0, side = box
    k = side / size
    to_photo = np.array([[k, 0, 0.5 * k - 0.5 + x0], [0, k, 0.5 * k - 0.5 + y0], [0, 0, 1]])
    return (np.concatenate([to_crop, [[0, 0, 1]]]) @ to_photo)[:2]


def paste_grid(portrait_to_crop_: np.ndarray, size: int, crop_size: int) -> torch.Tensor:
    """(1, size, size, 2) grid_sample coordinates (align_corners=False) of each portrait pixel in the crop."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    pts = np.stack([xs, ys, np.ones_like(xs)], -1) @ portrait_to_crop_.T
    return torch.from_numpy((2 * pts + 1) / crop_size - 1).float()[None]


def paste(faces: torch.Tensor, grid: torch.Tensor, mask: torch.Tensor, portrait: torch.Tensor) -> torch.Tensor:
    """Generated crops (B, 3, c, c) in 0..1 pasted into the portrait (3, S, S) in 0..1 through the mask (S, S):
    (B, 3, S, S)."""
    placed = F.grid_sample(faces.float(), grid.expand(faces.shape[0], -1, -1, -1), mode="bilinear",
                           padding_mode="zeros", align_corners=False)
    return portrait + mask * (placed - portrait)

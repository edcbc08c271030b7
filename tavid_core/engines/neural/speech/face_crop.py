"""Aligned face crops for the neural face encoder.

A similarity transform (rotation, uniform scale, translation) carries four landmark points (the two
eye centres, the nose tip, the mouth centre) onto fixed positions in a square crop, so the encoder sees
every face at the same place and size whatever the photo's framing. The layout follows the widely used
112x112 ArcFace template, made exactly left-right symmetric so that mirroring a photo mirrors its crop.

Coordinates are pixel indices (pixel centres at integers), as dlib's landmarks and cv2's warps use.
"""
from __future__ import annotations

import cv2
import numpy as np

from ....analysis.faces import face_analyzer
from ....errors import TavidError
from ....media.images import as_uint8_rgb

# Template as fractions of the crop side, x from the image's left: eye centres, nose tip, mouth centre.
# ArcFace puts them at (38.3, 51.6), (73.5, 51.5), (56.0, 71.7) and the corners' middle (56.1, 92.3) in
# 112 px; here both eyes are 17.6 px from the vertical midline and the other points lie on it.
TEMPLATE = np.array([
    [0.5 - 0.1573, 0.4607],   # eye on the image's left (the person's right eye)
    [0.5 + 0.1573, 0.4607],   # eye on the image's right
    [0.5, 0.6405],            # nose tip
    [0.5, 0.8240],            # mouth centre (middle of the two corners)
], dtype=np.float64)
# The eyes count twice in the fit: they fix the crop's rotation and scale, and faces differ more in how
# far the mouth sits below them than in where the eyes are.
WEIGHTS = np.array([2.0, 2.0, 1.0, 1.0])
_MIN_SIZE = 8


def face_template(size: int) -> np.ndarray:
    """The template `[4, 2]` in pixel indices of a `size` crop (eyes, nose tip, mouth centre)."""
    return TEMPLATE * size - 0.5


def alignment_points(landmarks: np.ndarray) -> np.ndarray:
    """The four points matched to the template, from dlib's 68 landmarks `[68, 2]` (x, y)."""
    pts = np.asarray(landmarks, dtype=np.float64)
    if pts.shape != (68, 2) or not np.isfinite(pts).all():
        raise TavidError(f"expected 68 finite (x, y) landmarks, got an array of shape {pts.shape}", where="landmarks")
    return np.stack([pts[36:42].mean(0), pts[42:48].mean(0), pts[30], (pts[48] + pts[54]) / 2])


def similarity_fit(src: np.ndarray, dst: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """The `[2, 3]` similarity transform taking `src` points onto `dst` in weighted least squares.

    With x' = a x - b y + tx, y' = b x + a y + ty the problem is linear in (a, b, tx, ty)."""
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    w = np.sqrt(np.ones(len(src)) if weights is None else np.asarray(weights, np.float64))
    x, y = src[:, 0], src[:, 1]
    one, zero = np.ones_like(x), np.zeros_like(x)
    rows = np.concatenate([np.stack([x, -y, one, zero], 1), np.stack([y, x, zero, one], 1)])
    target = np.concatenate([dst[:, 0], dst[:, 1]])
    ww = np.concatenate([w, w])
    (a, b, tx, ty), *_ = np.linalg.lstsq(rows * ww[:, None], target * ww, rcond=None)
    return np.array([[a, -b, tx], [b, a, ty]])


def alignment_matrix(landmarks: np.ndarray, size: int) -> np.ndarray:
    """The `[2, 3]` matrix from photo pixels to crop pixels for a face with these landmarks."""
    return similarity_fit(alignment_points(landmarks), face_template(size), WEIGHTS)


def transform_points(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """`points` `[N, 2]` carried by a `[2, 3]` affine matrix."""
    pts = np.asarray(points, np.float64)
    return pts @ matrix[:, :2].T + matrix[:, 2]


def aligned_from_landmarks(image: np.ndarray, landmarks: np.ndarray, size: int) -> np.ndarray:
    """The aligned `[size, size, 3]` uint8 crop of a face whose 68 landmarks are already known (training
    on video frames skips detection this way)."""
    if int(size) != size or size < _MIN_SIZE:
        raise TavidError(f"the crop size must be an integer of at least {_MIN_SIZE}, got {size}", where="size")
    size = int(size)
    image = as_uint8_rgb(image)
    landmarks = np.asarray(landmarks, np.float64)
    matrix = alignment_matrix(landmarks, size)
    scale = float(np.hypot(matrix[0, 0], matrix[1, 0]))
    if scale < 1e-6:
        raise TavidError("the landmarks collapse to a point", where="landmarks",
                         fix="Pass the 68 dlib landmarks of a detected face.")
    if scale < 0.5:
        # Bilinear warping samples only 4 pixels per output pixel: shrinking a big face that way aliases.
        # Shrink with area averaging first, to about the crop's scale, and fit again on the smaller copy.
        h, w = image.shape[:2]
        new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
        image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA)
        factor = np.array([new_w / w, new_h / h])
        landmarks = (landmarks + 0.5) * factor - 0.5
        matrix = alignment_matrix(landmarks, size)
    crop = cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return np.ascontiguousarray(crop)


def aligned_face(image: np.ndarray, size: int, *, where: str = "image") -> np.ndarray:
    """The main face of a portrait, detected with dlib and aligned into a `[size, size, 3]` uint8 crop;
    a FaceNotFoundError naming `where` when there is none."""
    image = as_uint8_rgb(image, where)
    face = face_analyzer().analyze(image, where=where)
    return aligned_from_landmarks(image, face.landmarks, size)

"""The one place the LivePortrait engine reads face landmarks: the crop and the photo's own mouth and eye
opening come from here. Today dlib's 68 points (analysis/faces.py); MediaPipe's 478 points can replace
`face_landmarks` without touching the rest (for them: eye corners 33/133 and 362/263, lids 159/145 and 386/374,
mouth corners 61/291, inner lips 13/14).

The ratios are those the lip and eye networks were trained on, measured on LivePortrait's own 203-point
landmarker as a gap over a width: lid gap / eye width per eye, inner-lip gap / mouth width. dlib's lid points sit
a third of the way along the eye, where an elliptic eye is sqrt(1 - 1/9) = 0.94 as open as in the middle, so its
lid gaps are divided by that to read as the middle's.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .....analysis.faces import face_analyzer, mouth_aperture
from .....media.images import as_uint8_rgb
from ....shared.lips import fit_lips_to_teeth, with_lip_quarters

DLIB_LID_THIRDS = float(np.sqrt(1 - 1 / 9))
# dlib 68, 0-based: eye corners and lid points (the person's right eye first: image left), mouth corners
_EYES = ((36, 39, (37, 38), (41, 40)), (42, 45, (43, 44), (47, 46)))
_MOUTH_CORNERS = (48, 54)


@dataclass(frozen=True, eq=False)
class FaceLandmarks:
    points: np.ndarray        # [N, 2] every landmark, photo pixels (the crop box spans them all)
    eye_centres: np.ndarray   # [2, 2] image-left eye, image-right eye
    mouth_corners: np.ndarray  # [2, 2]
    eye_span: float           # outer eye corner to outer eye corner, pixels (the unit of Motion's tx, ty)
    eye_open: tuple[float, float]  # lid gap / eye width, image-left and image-right eye
    lip_open: float           # inner-lip gap / mouth width, 0 for closed lips


def _eye_open(points: np.ndarray, outer: int, inner: int, upper: tuple[int, int], lower: tuple[int, int]) -> float:
    gap = float(np.linalg.norm(points[list(lower)] - points[list(upper)], axis=1).mean())
    return gap / DLIB_LID_THIRDS / max(float(np.linalg.norm(points[inner] - points[outer])), 1e-6)


def face_landmarks(image: np.ndarray, where: str = "face") -> FaceLandmarks:
    """The main face's landmarks in a photo (uint8 RGB), or a FaceNotFoundError that says how to fix it."""
    image = as_uint8_rgb(image, where)
    points = face_analyzer().analyze(image, where=where).landmarks.astype(np.float64)
    lips = fit_lips_to_teeth(image.astype(np.float32) / 255.0, with_lip_quarters(points))  # dlib puts lips on teeth
    return FaceLandmarks(
        points=points,
        eye_centres=np.stack([points[[a, b]].mean(0) for a, b, _, _ in _EYES]),
        mouth_corners=points[list(_MOUTH_CORNERS)],
        eye_span=float(np.linalg.norm(points[45] - points[36])),
        eye_open=tuple(_eye_open(points, *eye) for eye in _EYES),
        lip_open=mouth_aperture(lips))

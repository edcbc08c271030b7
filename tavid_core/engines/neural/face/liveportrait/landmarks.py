"""The one place the LivePortrait engine reads face landmarks: the crop and the photo's own mouth and eye
opening come from here. The points are those the built-in renderer rigs (analysis/face_points.py): MediaPipe's
face mesh in dlib's 68-point layout, dlib's own points where MediaPipe cannot run. The mesh's inner lips are
where the lips are; dlib's, which sit on a smile's teeth, are first widened to them (shared/lips.py).

The ratios are those the lip and eye networks were trained on, measured on LivePortrait's own 203-point
landmarker as a gap over a width: lid gap / eye width per eye, inner-lip gap / mouth width. The layout's lid points
(dlib's, and the mesh vertices that stand for them) sit a third of the way along the eye, where an elliptic eye is
sqrt(1 - 1/9) = 0.94 as open as in the middle, so their lid gaps are divided by that to read as the middle's.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .....analysis.face_points import face_points
from .....analysis.faces import mouth_aperture
from .....media.images import as_uint8_rgb
from ....shared.lips import open_lip_points

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
    marked = face_points(image, where=where)
    points = marked.landmarks.astype(np.float64)
    mesh = None if marked.mesh is None else marked.mesh.points
    lips = open_lip_points(image.astype(np.float32) / 255.0, points, mesh)
    return FaceLandmarks(
        points=points,
        eye_centres=np.stack([points[[a, b]].mean(0) for a, b, _, _ in _EYES]),
        mouth_corners=points[list(_MOUTH_CORNERS)],
        eye_span=float(np.linalg.norm(points[45] - points[36])),
        eye_open=tuple(_eye_open(points, *eye) for eye in _EYES),
        lip_open=mouth_aperture(lips))

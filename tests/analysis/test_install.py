"""The install MediaPipe needs stays clean: in CI this runs in a venv made by `pip install -e ".[test]"` from
nothing, so it checks what a fresh install gets."""
from __future__ import annotations

import importlib.metadata
import re

import pytest

from tavid_core.analysis.face_landmarker import landmarker_unavailable

OPENCV_DISTRIBUTIONS = ("opencv-python", "opencv-python-headless", "opencv-contrib-python",
                        "opencv-contrib-python-headless")


def installed(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def test_mediapipe_comes_with_the_pack_beside_one_opencv():
    """All four OpenCV distributions unpack into one cv2 folder, so two of them break each other; mediapipe
    0.10.30-0.10.31 asks for none (later ones ask for opencv-contrib-python)."""
    if installed("mediapipe") is None:
        pytest.skip("mediapipe has no wheel for this platform (the pack falls back to dlib's points)")
    opencv = {name: installed(name) for name in OPENCV_DISTRIBUTIONS if installed(name)}
    assert list(opencv) == ["opencv-python-headless"], opencv
    wants = [r for r in importlib.metadata.requires("mediapipe") or [] if "extra ==" not in r]
    assert not [r for r in wants if re.match(r"opencv", r, re.IGNORECASE)], wants
    import cv2
    assert cv2.__version__ == re.match(r"\d+\.\d+\.\d+", opencv["opencv-python-headless"]).group(0)
    assert landmarker_unavailable() is None


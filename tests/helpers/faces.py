"""Reading rendered faces back with dlib, as a viewer would judge them."""
from __future__ import annotations

import numpy as np


def frame_apertures(frames: np.ndarray, every: int = 1) -> np.ndarray:
    """dlib mouth aperture of every `every`-th frame (NaN where no face is found)."""
    from tavid_core.analysis.faces import face_analyzer, mouth_aperture
    from tavid_core.errors import FaceNotFoundError
    out = []
    for frame in frames[::every]:
        try:
            out.append(mouth_aperture(face_analyzer().analyze(frame).landmarks))
        except FaceNotFoundError:
            out.append(np.nan)
    return np.array(out)

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


def mouths_closed(frames: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """[T] bool per face (left, right): closed by `tavid eval`'s own test (MediaPipe's inner lips, or its jaw
    shut), which reads small renders better than dlib's 68 points: at 160 px those put a closed mouth's lips a
    pixel apart."""
    from tavid_core.eval.clip import clip_from_arrays
    from tavid_core.eval.face_signals import face_signals
    from tavid_core.eval.mesh_tracking import track_meshes
    from tavid_core.runtime import StandaloneRuntime
    clip = clip_from_arrays(frames, fps, np.zeros(16000, np.float32), 16000)
    tracks = track_meshes(clip, StandaloneRuntime(device="cpu", quiet=True))
    return tuple(face_signals(track, fps).mouth_closed() for track in tracks)

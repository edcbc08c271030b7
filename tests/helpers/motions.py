"""Motions built by hand for tests: still, with chosen channels set."""
from __future__ import annotations

import numpy as np

from tavid_core.types import EXPR_CHANNELS, POSE_CHANNELS, Motion


def neutral_motion(frames: int = 1, **channels) -> Motion:
    """`frames` frames of a still head (scale 1, everything else 0), with the named pose or expression channels
    set to a value or to one value per frame."""
    pose = np.zeros((frames, len(POSE_CHANNELS)), np.float32)
    pose[:, POSE_CHANNELS.index("scale")] = 1.0
    expr = np.zeros((frames, len(EXPR_CHANNELS)), np.float32)
    for name, values in channels.items():
        if name in POSE_CHANNELS:
            pose[:, POSE_CHANNELS.index(name)] = values
        else:
            expr[:, EXPR_CHANNELS.index(name)] = values
    return Motion(fps=25.0, pose=pose, expr=expr, speaking=np.zeros(frames, np.float32))

"""A Motion as one row of numbers per frame, the layout the motion mapper generates and the face model reads:
pose (POSE_CHANNELS), expression (EXPR_CHANNELS, by name), then the latent codes.
"""
from __future__ import annotations

import numpy as np

from ....errors import TavidError
from ....types import EXPR_CHANNELS, POSE_CHANNELS, Motion

JAW = len(POSE_CHANNELS) + EXPR_CHANNELS.index("jaw_open")   # column of jaw_open in the motion vector


def motion_vector(motion: Motion, code_dim: int = 0) -> np.ndarray:
    """A Motion as `[T, 15 + code_dim]` raw values: pose, EXPR_CHANNELS (by name), codes."""
    expr = np.stack([motion.channel(c) for c in EXPR_CHANNELS], axis=1)
    parts = [motion.pose, expr]
    if code_dim:
        if motion.codes is None or motion.codes.shape[1] != code_dim:
            have = "none" if motion.codes is None else f"{motion.codes.shape[1]} per frame"
            raise TavidError(f"the motion mapper needs {code_dim} latent codes per frame, the motion has {have}",
                             where="Motion.codes", fix="Extract the codes with the face model it was made for.")
        parts.append(motion.codes)
    return np.concatenate(parts, axis=1).astype(np.float32)

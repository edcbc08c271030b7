"""A Motion as LivePortrait's driving keypoints, relative to the photo.

For frame i, with the photo's canonical keypoints kp, rotation R_s, expression exp_s, scale s and shift t read
by the motion extractor once:

    x_d,i = s * scale_i * (kp @ R_s @ R(pose_i) + exp_s + E(expr_i)) + t + (tx_i, ty_i, 0) * face
    x_d,i <- x_d,i + S(x_s, x_d,i) - S(x_s, x_s) + rest

- R(pose_i) turns the posed head about the camera's axes (after the photo's own rotation), with Motion's signs
  mapped onto LivePortrait's angles (POSE_SIGNS);
- E(expr_i) are the expression offsets of expressions.py, added to the photo's own expression;
- tx, ty are Motion's fractions of the face size, `face` the face size in keypoint units (2 outer-eye-corner
  distances, as the built-in rig counts it);
- S is the stitching network, taken relative to the photo so that it only corrects what the Motion changes: a
  zero Motion gives the photo's own keypoints exactly (with the public weights S(x_s, x_s) is near zero anyway);
- rest: what the lip and eye networks add to every frame to bring the photo to the rest state the channels
  start from, a closed mouth (a photo with parted lips is closed, so silence is silence) and open eyes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .expressions import term_values
from .keypoints import rotation_matrix, stitch, transform_keypoints
from .retargeting import RetargetingMlp

# LivePortrait's keypoints live in a camera frame with x to the image's right, y down and z away from the camera
# (the expression editor's offsets say so: pursed lips move forward, -z, an opening jaw back, +z), so the face's
# front lies at z < 0, and its rotation R = (Rz(roll) Ry(yaw) Rx(pitch))^T turns that front to the image's left
# for a positive yaw, down for a positive pitch and clockwise for a positive roll. Motion's yaw turns the face to
# the image's right, pitch tilts the chin down, roll is clockwise on screen (types.py): hence the signs.
POSE_SIGNS = {"yaw": -1.0, "pitch": 1.0, "roll": 1.0}


@dataclass(eq=False)
class SourceKeypoints:
    """What the motion extractor read off the photo, and what every frame's keypoints start from."""

    kp: torch.Tensor          # (1, K, 3) canonical keypoints
    exp: torch.Tensor         # (1, K, 3) the photo's expression
    rotation: torch.Tensor    # (1, 3, 3) the photo's head rotation
    scale: torch.Tensor       # (1, 1)
    t: torch.Tensor           # (1, 3)
    x_s: torch.Tensor         # (1, K, 3) the photo's keypoints: where the warp starts from
    rest: torch.Tensor        # (1, K, 3) offsets of the lip and eye networks added to every frame
    basis: torch.Tensor       # (terms, K, 3) expression offsets per term unit (expressions.expression_basis)
    face: float               # the face size (2 outer-eye-corner distances) in keypoint units

    def to(self, device: torch.device) -> "SourceKeypoints":
        moved = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in vars(self).items()}
        return SourceKeypoints(**moved)


def pose_rotation(pose: torch.Tensor) -> torch.Tensor:
    """(T, 6) Motion poses (radians) -> (T, 3, 3) rotations for row-vector keypoints, in LivePortrait's frame."""
    deg = 180.0 / math.pi
    yaw, pitch, roll = (pose[:, i] * deg * POSE_SIGNS[n] for i, n in enumerate(("yaw", "pitch", "roll")))
    return rotation_matrix(pitch, yaw, roll)


def driving_keypoints(src: SourceKeypoints, pose: np.ndarray, expr: np.ndarray,
                      expr_names: tuple[str, ...]) -> torch.Tensor:
    """(T, K, 3) keypoints of T frames of pose [T, 6] and expr [T, C], before stitching."""
    device, dtype = src.kp.device, src.kp.dtype
    pose_t = torch.from_numpy(np.asarray(pose, np.float32)).to(device, dtype)
    terms = torch.from_numpy(term_values(np.asarray(expr, np.float32), expr_names)).to(device, dtype)
    rotation = src.rotation @ pose_rotation(pose_t)
    exp = src.exp + torch.einsum("tn,nkc->tkc", terms, src.basis)
    scale = src.scale * pose_t[:, 5:6]
    shift = torch.cat([pose_t[:, 3:5] * src.face, torch.zeros_like(pose_t[:, :1])], dim=1)
    frames = pose_t.shape[0]
    return transform_keypoints(src.kp.expand(frames, -1, -1), rotation, exp, scale, src.t + shift)


def stitched(stitching: RetargetingMlp, src: SourceKeypoints, x_d: torch.Tensor) -> torch.Tensor:
    """Driving keypoints corrected by the stitching network relative to the photo, plus the rest offsets."""
    x_s = src.x_s.expand(x_d.shape[0], -1, -1)
    at_rest = stitch(stitching, src.x_s, src.x_s) - src.x_s
    return stitch(stitching, x_s, x_d) - at_rest + src.rest

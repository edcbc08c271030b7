"""Implicit-keypoint algebra of LivePortrait: head pose, rotation, keypoint transform, stitching, retargeting.

Conventions (those of the published networks):
- keypoints are (B, 21, 3) row vectors in the [-1, 1] cube of the 64x64x16 feature volume, x right, y down, z in;
- head pose comes as 66 logits per angle; the angle is the softmax expectation over bins, times 3, minus 97.5 deg;
- R = (Rz(roll) @ Ry(yaw) @ Rx(pitch))^T so that rotated points are `kp @ R` (row vectors);
- transformed keypoints: x = scale * (kp @ R + exp) + (tx, ty, 0)  (tz is never applied).
"""
from __future__ import annotations

import math

import torch

from .retargeting import RetargetingMlp, flat_concat

BIN_DEGREES = 3.0
BIN_OFFSET_DEGREES = 97.5


def bins_to_degrees(logits: torch.Tensor) -> torch.Tensor:
    """(B, num_bins) pose logits -> (B, 1) angle in degrees: 3 * E[bin index] - 97.5."""
    prob = torch.softmax(logits, dim=1)
    idx = torch.arange(logits.shape[1], dtype=prob.dtype, device=prob.device)
    return ((prob * idx).sum(dim=1) * BIN_DEGREES - BIN_OFFSET_DEGREES)[:, None]


def bins_to_radians(logits: torch.Tensor) -> torch.Tensor:
    return bins_to_degrees(logits) * (math.pi / 180.0)


def rotation_matrix(pitch: torch.Tensor, yaw: torch.Tensor, roll: torch.Tensor) -> torch.Tensor:
    """Angles in degrees, shape (B,) or (B, 1) -> (B, 3, 3) matrix R for row vectors (points @ R).

    R is the transpose of Rz(roll) @ Ry(yaw) @ Rx(pitch), where Rx, Ry, Rz are the usual right-handed axis
    rotations (Ry(a) = [[cos a, 0, sin a], [0, 1, 0], [-sin a, 0, cos a]]).
    """
    x, y, z = (a.reshape(-1) / 180 * math.pi for a in (pitch, yaw, roll))
    one, zero = torch.ones_like(x), torch.zeros_like(x)
    cx, sx, cy, sy, cz, sz = torch.cos(x), torch.sin(x), torch.cos(y), torch.sin(y), torch.cos(z), torch.sin(z)
    rx = torch.stack([one, zero, zero, zero, cx, -sx, zero, sx, cx], dim=1).reshape(-1, 3, 3)
    ry = torch.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], dim=1).reshape(-1, 3, 3)
    rz = torch.stack([cz, -sz, zero, sz, cz, zero, zero, zero, one], dim=1).reshape(-1, 3, 3)
    return (rz @ ry @ rx).transpose(1, 2)


def transform_keypoints(kp: torch.Tensor, rotation: torch.Tensor, exp: torch.Tensor, scale: torch.Tensor,
                        t: torch.Tensor) -> torch.Tensor:
    """x = scale * (kp @ R + exp) + (tx, ty, 0).

    kp, exp: (B, K, 3); rotation: (B, 3, 3) from rotation_matrix; scale: (B, 1); t: (B, 3) (tz ignored).
    """
    x = (kp @ rotation + exp) * scale.reshape(-1, 1, 1)
    shift = torch.cat([t[:, :2], torch.zeros_like(t[:, 2:3])], dim=1)
    return x + shift[:, None, :]


def decode_motion(raw: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Motion-extractor heads -> dict with pitch/yaw/roll in degrees (B, 1), rotation (B, 3, 3), kp, exp, scale, t."""
    pitch, yaw, roll = (bins_to_degrees(raw[k]) for k in ("pitch", "yaw", "roll"))
    return {"pitch": pitch, "yaw": yaw, "roll": roll, "rotation": rotation_matrix(pitch, yaw, roll),
            "kp": raw["kp"], "exp": raw["exp"], "scale": raw["scale"], "t": raw["t"]}


def source_keypoints(motion: dict[str, torch.Tensor]) -> torch.Tensor:
    """Transformed keypoints x_s of decoded motion (decode_motion output)."""
    return transform_keypoints(motion["kp"], motion["rotation"], motion["exp"], motion["scale"], motion["t"])


def stitch(net: RetargetingMlp, kp_source: torch.Tensor, kp_driving: torch.Tensor) -> torch.Tensor:
    """Driving keypoints corrected by the stitching MLP: x_d + delta[:63], and x, y shifted by delta[63:65]."""
    b, k, _ = kp_source.shape
    delta = net(flat_concat(kp_source, kp_driving))
    offsets = delta[:, : 3 * k].reshape(b, k, 3)
    shift_xy = delta[:, 3 * k: 3 * k + 2].reshape(b, 1, 2)
    shift = torch.cat([shift_xy, torch.zeros_like(shift_xy[..., :1])], dim=-1)
    return kp_driving + offsets + shift


def stitching_delta(net: RetargetingMlp, kp_source: torch.Tensor, kp_driving: torch.Tensor) -> torch.Tensor:
    """Raw (B, 3K + 2) output of the stitching MLP."""
    return net(flat_concat(kp_source, kp_driving))


def retarget_lip(net: RetargetingMlp, kp_source: torch.Tensor, lip_ratios: torch.Tensor) -> torch.Tensor:
    """Keypoint offsets (B, K, 3) that move the source lip opening to a target.

    lip_ratios: (B, 2) = [source lip-open ratio, target lip-open ratio].
    """
    return net(flat_concat(kp_source, lip_ratios)).reshape(kp_source.shape)


def retarget_eye(net: RetargetingMlp, kp_source: torch.Tensor, eye_ratios: torch.Tensor) -> torch.Tensor:
    """Keypoint offsets (B, K, 3) that move the source eye opening to a target.

    eye_ratios: (B, 3) = [source left-eye open ratio, source right-eye open ratio, target eye-open ratio].
    """
    return net(flat_concat(kp_source, eye_ratios)).reshape(kp_source.shape)


def distance_ratio(points: torch.Tensor, a: int, b: int, c: int, d: int, eps: float = 1e-6) -> torch.Tensor:
    """|p[a] - p[b]| / (|p[c] - p[d]| + eps) for landmarks (B, N, 2) -> (B, 1)."""
    num = torch.linalg.vector_norm(points[:, a] - points[:, b], dim=-1, keepdim=True)
    den = torch.linalg.vector_norm(points[:, c] - points[:, d], dim=-1, keepdim=True)
    return num / (den + eps)

"""Motion labels from tracked landmarks: the pose and expression that move a face's rig onto them.

For every frame, bounded least squares finds pose (yaw, pitch, roll, tx, ty, scale) and the expression
channels such that `rig.targets(pose, expr)` lands on dlib's 68 points. The rig itself is the model (no
second copy of its geometry): its Jacobian is taken by finite differences, one rig call per parameter
for all frames at once, and a Levenberg-Marquardt step is solved per frame in one batched call.
Expression moves the 68 points linearly, so only the pose is really nonlinear and a few steps converge.

Gaze moves only the rig's eye centres, which dlib does not mark, so gaze_x and gaze_y stay 0.
"""
from __future__ import annotations

import numpy as np

from ...engines.shared.face_rig import FaceRig
from ...errors import TavidError
from ...types import EXPR_CHANNELS, POSE_CHANNELS, Motion

FIT_EXPR = ("jaw_open", "mouth_wide", "mouth_round", "smile", "brow_raise", "blink_left", "blink_right")
_EXPR_RANGE = {"mouth_wide": (-1.0, 1.0), "brow_raise": (-1.0, 1.0)}  # the rest: 0..1
# yaw, pitch, roll (radians), tx, ty (face sizes), scale: wide enough for any usable frame
_POSE_LOW = np.array([-1.2, -1.0, -1.0, -2.0, -2.0, 0.3])
_POSE_HIGH = np.array([1.2, 1.0, 1.0, 2.0, 2.0, 3.0])
_LOW = np.concatenate([_POSE_LOW, [_EXPR_RANGE.get(c, (0.0, 1.0))[0] for c in FIT_EXPR]])
_HIGH = np.concatenate([_POSE_HIGH, [_EXPR_RANGE.get(c, (0.0, 1.0))[1] for c in FIT_EXPR]])
_STEP = 1e-3          # finite-difference step: every parameter moves points by ~0.01-0.05 px
_PRIOR = 0.005        # pull of the expression toward neutral, outer-eye-corner distances per channel unit:
                      # it only decides between channels that explain the points equally well
_MAX_ITERATIONS = 20  # it converges in 3-5 (the cost then changes by less than _SETTLED)
_SETTLED = 1e-7
# dlib's jaw line lies on an edge without texture and slides along it: it counts half
_WEIGHTS = np.repeat(np.where(np.arange(68) < 17, 0.5, 1.0), 2)


def _expression(params: np.ndarray) -> np.ndarray:
    """[B, len(EXPR_CHANNELS)] from the fitted channels, gaze 0."""
    expr = np.zeros((len(params), len(EXPR_CHANNELS)), np.float32)
    for i, name in enumerate(FIT_EXPR):
        expr[:, EXPR_CHANNELS.index(name)] = params[:, 6 + i]
    return expr


def _points(rig: FaceRig, params: np.ndarray) -> np.ndarray:
    """The rig's 68 dlib points [B, 68, 2] for parameters [B, 13]."""
    return rig.targets(params[:, :6], _expression(params))[:, :68].astype(np.float64)


def _residuals(rig: FaceRig, params: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """[B, 136 + 7]: weighted point errors in pixels, then the expression prior in pixels."""
    error = (_points(rig, params) - landmarks).reshape(len(params), -1) * _WEIGHTS
    return np.concatenate([error, _PRIOR * rig.unit * params[:, 6:]], axis=1)


def _jacobian(rig: FaceRig, params: np.ndarray, base: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """[B, R, P] by forward differences; each column costs one rig call over all frames."""
    columns = []
    for p in range(params.shape[1]):
        moved = params.copy()
        moved[:, p] += _STEP
        columns.append((_residuals(rig, moved, landmarks) - base) / _STEP)
    return np.stack(columns, axis=2)


def _similarity_start(rig: FaceRig, landmarks: np.ndarray) -> np.ndarray:
    """Roll, scale and shift of each frame by Procrustes on the 68 points (yaw, pitch, expression 0)."""
    rest = rig.points[:68].astype(np.float64) - rig.centre
    target = landmarks - landmarks.mean(axis=1, keepdims=True)
    source = rest - rest.mean(axis=0)
    dot = (source[None] * target).sum(axis=(1, 2))
    cross = (source[None, :, 0] * target[..., 1] - source[None, :, 1] * target[..., 0]).sum(axis=1)
    roll = np.arctan2(cross, dot)
    scale = np.hypot(dot, cross) / (source ** 2).sum()
    c, s = np.cos(roll), np.sin(roll)
    mean = rest.mean(axis=0)
    moved_mean = np.stack([c * mean[0] - s * mean[1], s * mean[0] + c * mean[1]], axis=1) * scale[:, None]
    shift = (landmarks.mean(axis=1) - rig.centre - moved_mean) / (2.0 * rig.unit)  # face size as in the rig
    params = np.zeros((len(landmarks), 6 + len(FIT_EXPR)))
    params[:, 2], params[:, 3:5], params[:, 5] = roll, shift, scale
    return np.clip(params, _LOW, _HIGH)


def _solve(rig: FaceRig, landmarks: np.ndarray, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bounded Levenberg-Marquardt on every frame at once: (parameters, cost per frame). A parameter at a
    bound that the gradient pushes further out is held there for the step (projected steps)."""
    count, size = params.shape
    damping = np.full(count, 1e-3)
    residual = _residuals(rig, params, landmarks)
    cost = (residual ** 2).sum(axis=1)
    eye = np.eye(size)
    for _ in range(_MAX_ITERATIONS):
        jac = _jacobian(rig, params, residual, landmarks)
        normal = np.einsum("brp,brq->bpq", jac, jac)
        gradient = np.einsum("brp,br->bp", jac, residual)
        held = ((params <= _LOW + 1e-9) & (gradient > 0)) | ((params >= _HIGH - 1e-9) & (gradient < 0))
        diagonal = np.diagonal(normal, axis1=1, axis2=2)
        system = normal + (damping[:, None] * (diagonal + 1e-6))[:, :, None] * eye
        free = ~held
        system = np.where(free[:, :, None] & free[:, None, :], system, eye)
        step = np.linalg.solve(system, np.where(free, -gradient, 0.0)[..., None])[..., 0]
        trial = np.clip(params + step, _LOW, _HIGH)
        trial_residual = _residuals(rig, trial, landmarks)
        trial_cost = (trial_residual ** 2).sum(axis=1)
        better = trial_cost < cost
        gain = float(np.where(better, cost - trial_cost, 0.0).sum())
        params = np.where(better[:, None], trial, params)
        residual = np.where(better[:, None], trial_residual, residual)
        cost = np.where(better, trial_cost, cost)
        damping = np.clip(np.where(better, damping / 3.0, damping * 4.0), 1e-7, 1e7)
        if gain <= _SETTLED * float(cost.sum()):
            break
    return params, cost


def fit_motion(rig: FaceRig, landmarks: np.ndarray, fps: float, speaking: np.ndarray) -> Motion:
    """Motion labels `[T]` for landmarks `[T, 68, 2]` (pixels of the image the rig was built in).

    Each frame is fitted twice, from its own similarity alignment and warm-started from the previous
    frame's solution, and keeps the better fit, so a frame that its alignment starts badly still gets
    its neighbour's answer as a start."""
    landmarks = np.asarray(landmarks, np.float64)
    if landmarks.ndim != 3 or landmarks.shape[1:] != (68, 2) or len(landmarks) == 0:
        raise TavidError(f"landmarks must be [T, 68, 2], got {landmarks.shape}", where="fit_motion")
    speaking = np.asarray(speaking, np.float32)
    if speaking.shape != (len(landmarks),):
        raise TavidError(f"speaking must be [T={len(landmarks)}], got {speaking.shape}", where="fit_motion")
    params, cost = _solve(rig, landmarks, _similarity_start(rig, landmarks))
    if len(landmarks) > 1:
        warm = np.concatenate([params[:1], params[:-1]])
        again, again_cost = _solve(rig, landmarks, warm)
        params = np.where((again_cost < cost)[:, None], again, params)
    return Motion(fps=fps, pose=params[:, :len(POSE_CHANNELS)], expr=_expression(params), speaking=speaking,
                  expr_names=EXPR_CHANNELS)


def reprojection_error(rig: FaceRig, motion: Motion, landmarks: np.ndarray) -> np.ndarray:
    """Mean distance (pixels) per frame between the rig moved by `motion` and the landmarks `[T, 68, 2]`."""
    points = rig.targets(motion.pose, motion.expr, motion.expr_names)[:, :68]
    return np.linalg.norm(points - np.asarray(landmarks, np.float32), axis=2).mean(axis=1)

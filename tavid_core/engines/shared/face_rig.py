"""A 2.5-D landmark rig: where a reference face's points go for a given pose and expression.

The rig holds a reference's landmarks with the mouth closed (see lips.py: a photo with parted lips
is closed first, so silence really is silence): dlib's 68 points, inner-lip points between corners and
middle, eye centres (for gaze) and forehead points (so hair follows the head). Expression channels move points along fixed displacement bases, in units of the
outer-eye-corner distance; head pose rotates the points about the face centre using a rough
ellipsoidal depth, then shifts and scales them. Everything is vectorised over frames.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...types import EXPR_CHANNELS
from .lips import LIP_QUARTERS, N_LIP_POINTS

# after the 68 dlib points and the 4 lip quarters (lips.py): the eye centres (image-left eye,
# image-right eye) and points above the brows
EYE_CENTRES = (N_LIP_POINTS, N_LIP_POINTS + 1)
FOREHEAD = tuple(range(N_LIP_POINTS + 2, N_LIP_POINTS + 7))
N_POINTS = N_LIP_POINTS + 7


def _bases(lm: np.ndarray, unit: float) -> dict[str, np.ndarray]:
    """Displacement [N_POINTS, 2] per unit of each expression channel."""
    zero = lambda: np.zeros((N_POINTS, 2), np.float32)  # noqa: E731

    jaw = zero()
    drop = 0.4 * unit  # fully open: the lower lip drops 40 % of the eye-corner distance
    jaw[[65, 66, 67], 1] = drop
    jaw[[56, 57, 58], 1] = drop
    jaw[[55, 59], 1] = 0.6 * drop
    jaw[[54, 48, 60, 64], 1] = 0.18 * drop
    jaw[[69, 71], 1] = 0.66 * drop  # a rounded opening, neither a V nor a box
    jaw[[61, 62, 63], 1] = -0.1 * drop
    jaw[[68, 70], 1] = -0.05 * drop
    jaw[[50, 51, 52], 1] = -0.06 * drop
    for idx, share in ((range(6, 11), 0.9), ((5, 11), 0.65), ((4, 12), 0.35), ((3, 13), 0.12)):
        jaw[list(idx), 1] = share * drop

    wide = zero()  # corners out (mouth_wide > 0) or in
    for idx, dx in (((48, 60), -0.13), ((54, 64), 0.13), ((49, 59, 68, 69), -0.07), ((53, 55, 70, 71), 0.07)):
        wide[list(idx), 0] = dx * unit

    rnd = zero()  # pursed lips: corners in, lips thicker
    for idx, dx in (((48, 60), 0.17), ((54, 64), -0.17), ((68, 69), 0.12), ((70, 71), -0.12),
                    ((49, 59, 61, 67), 0.08), ((53, 55, 63, 65), -0.08)):
        rnd[list(idx), 0] = dx * unit
    rnd[[50, 51, 52], 1] = -0.04 * unit
    rnd[[56, 57, 58], 1] = 0.04 * unit

    smile = zero()
    smile[[48, 60], 0], smile[[54, 64], 0] = -0.06 * unit, 0.06 * unit
    smile[[48, 54, 60, 64], 1] = -0.1 * unit
    smile[[49, 53, 59, 55], 1] = -0.04 * unit
    smile[list(LIP_QUARTERS), 1] = -0.06 * unit
    smile[[1, 2, 3], 0], smile[[13, 14, 15], 0] = -0.02 * unit, 0.02 * unit  # cheeks widen a touch
    # and rise, narrowing the eyes from below: a smile shows in the eyes, not only at the mouth's corners
    smile[[2, 3, 13, 14], 1] = -0.03 * unit
    for upper, lower in (((37, 38), (41, 40)), ((43, 44), (47, 46))):
        for u, l in zip(upper, lower):
            smile[l] = -0.25 * (lm[l] - lm[u])

    brow = zero()
    brow[17:27, 1] = -0.13 * unit
    brow[list(FOREHEAD), 1] = -0.05 * unit

    def blink(eye: slice, centre: int, upper, lower):
        # The lids only travel part of the way: a spline cannot fold skin over the eye, and lids that
        # met would make its system singular. The renderer paints the lid over the rest.
        b = zero()
        gaps = []
        for u, l in zip(upper, lower):
            gap = lm[l] - lm[u]
            b[u], b[l] = 0.4 * gap, -0.05 * gap
            gaps.append(gap)
        b[centre] = 0.18 * np.mean(gaps, axis=0)
        return b

    # dlib's 36-41 is the person's right eye (image left), 42-47 the left eye (image right)
    blink_right = blink(slice(36, 42), EYE_CENTRES[0], (37, 38), (41, 40))
    blink_left = blink(slice(42, 48), EYE_CENTRES[1], (43, 44), (47, 46))

    gaze_x, gaze_y = zero(), zero()
    for centre, eye in ((EYE_CENTRES[0], slice(36, 42)), (EYE_CENTRES[1], slice(42, 48))):
        width = np.linalg.norm(lm[eye][3] - lm[eye][0])
        gaze_x[centre, 0] = 0.2 * width
        gaze_y[centre, 1] = 0.08 * width
    return {"jaw_open": jaw, "mouth_wide": wide, "mouth_round": rnd, "smile": smile, "brow_raise": brow,
            "blink_left": blink_left, "blink_right": blink_right, "gaze_x": gaze_x, "gaze_y": gaze_y}


@dataclass(frozen=True, eq=False)
class FaceRig:
    points: np.ndarray      # [M, 2] rest positions in the (closed-mouth) reference, pixels of the face crop
    depth: np.ndarray       # [M] pseudo depth, pixels, towards the camera
    centre: np.ndarray      # [2] rotation centre
    unit: float             # outer-eye-corner distance in pixels
    bases: dict[str, np.ndarray]

    @classmethod
    def from_landmarks(cls, lm: np.ndarray, eye_centres: np.ndarray | None = None) -> "FaceRig":
        """The rig of a closed-mouth face from its 72 points (dlib's 68 and the lip quarters); the eye
        centres (image left, image right) [2, 2] are the irises when known, else the eye outlines' middles."""
        lm = np.asarray(lm, np.float32)
        unit = float(np.linalg.norm(lm[45] - lm[36]))
        eyes = np.stack([lm[36:42].mean(axis=0), lm[42:48].mean(axis=0)]) if eye_centres is None else \
            np.asarray(eye_centres, np.float32).reshape(2, 2)
        brow_line = lm[17:27]
        up = lm[27] - lm[8]
        up /= max(np.linalg.norm(up), 1e-6)
        forehead = np.stack([brow_line[i] + up * 0.55 * unit for i in (0, 2, 5, 7, 9)])
        points = np.concatenate([lm, eyes, forehead]).astype(np.float32)

        centre = np.array([lm[0:17, 0].mean(), (lm[27, 1] + lm[8, 1]) / 2], np.float32)
        rx = max(float(lm[16, 0] - lm[0, 0]) / 2, 1.0)
        ry = max(float(lm[8, 1] - brow_line[:, 1].min()) * 0.75, 1.0)
        rel = (points - centre) / np.array([rx * 1.15, ry * 1.25])
        depth = 0.9 * rx * np.sqrt(np.clip(1 - (rel ** 2).sum(axis=1), 0.05, 1))
        depth[30] += 0.35 * rx        # nose tip
        depth[31:36] += 0.2 * rx
        depth[27:30] += np.array([0.08, 0.15, 0.25]) * rx
        return cls(points=points, depth=depth.astype(np.float32), centre=centre, unit=unit,
                   bases=_bases(points, unit))

    def targets(self, pose: np.ndarray, expr: np.ndarray, expr_names=EXPR_CHANNELS) -> np.ndarray:
        """Point positions [B, M, 2] for B frames of pose [B, 6] and expr [B, K]."""
        pose = np.asarray(pose, np.float32)
        expr = np.asarray(expr, np.float32)
        b = pose.shape[0]
        pts = np.broadcast_to(self.points, (b, *self.points.shape)).copy()
        values = {name: expr[:, expr_names.index(name)] for name in self.bases if name in expr_names}
        openness = 1.0 - np.maximum(values.get("blink_left", 0.0), values.get("blink_right", 0.0))
        for name, v in values.items():
            if name in ("gaze_x", "gaze_y"):
                v = v * openness  # eyes that close take the iris with them
            pts += v[:, None, None] * self.bases[name][None]

        yaw, pitch, roll, tx, ty, scale = (pose[:, i] for i in range(6))
        rel = pts - self.centre
        x, y, z = rel[..., 0], rel[..., 1], np.broadcast_to(self.depth, rel.shape[:2])
        cy, sy = np.cos(yaw)[:, None], np.sin(yaw)[:, None]
        x, z = x * cy + z * sy, -x * sy + z * cy                     # yaw: the nose moves to image right
        cp, sp = np.cos(pitch)[:, None], np.sin(pitch)[:, None]
        y, z = y * cp + z * sp, -y * sp + z * cp                     # pitch: chin down
        cr, sr = np.cos(roll)[:, None], np.sin(roll)[:, None]
        x, y = x * cr - y * sr, x * sr + y * cr                     # roll: clockwise on screen
        face = 2.0 * self.unit
        out = np.stack([x, y], axis=-1) * scale[:, None, None] + self.centre
        out[..., 0] += (tx * face)[:, None]
        out[..., 1] += (ty * face)[:, None]
        return out.astype(np.float32)

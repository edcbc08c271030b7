"""Built-in face model: animates the reference photo itself by landmark-driven warping.

prepare: find the face (dlib), cut a square portrait around it (head, hair, some shoulders, the
original background), and build its landmark rig. render: for each frame, move the rig's points
as the Motion says, warp the portrait with a thin-plate spline that holds the picture's edges still,
and paint the inside of the mouth where the lips part. No sampling happens, so sampler, steps and
cfg do not apply; the seed does not either: the Motion already carries all randomness.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ...faces import face_analyzer
from ...media import as_uint8_rgb, resize
from ...runtime import Runtime
from ...types import Motion
from ..protocols import FaceModel, PreparedFace, SamplerSettings
from .eyelids import eyelid_color, paint_eyelid
from .face_rig import FaceRig
from .lips import INNER_LOWER, INNER_UPPER, close_photo_mouth
from .mouth import paint_mouth
from .warp import ThinPlateWarp

CROP_FACES = 2.5       # portrait side in jaw widths
MIN_CROP_FACES = 1.6   # below this the photo is padded rather than cropped tighter


@dataclass(eq=False)
class WarpFace(PreparedFace):
    size: int
    image: torch.Tensor       # [3, size, size] float 0..1
    rig: FaceRig
    anchors: np.ndarray       # [A, 2] points that never move (edges, and a ring around the head)
    lid_colors: np.ndarray    # [2, 3] skin colour of the image-left and image-right upper eyelid
    crop_box: tuple[int, int, int]  # x0, y0, side in the original photo


def portrait_crop(image: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, int, int, int]:
    """A square portrait around the face: (pixels, x0, y0, side) in the photo's coordinates. Pads by
    mirroring when the face is too close to an edge for a reasonable square."""
    h, w = image.shape[:2]
    jaw = float(np.linalg.norm(landmarks[16] - landmarks[0]))
    cx = float(landmarks[0:17, 0].mean())
    cy = float((landmarks[36:48, 1].mean() + landmarks[8, 1]) / 2 - 0.12 * jaw)
    side = int(round(CROP_FACES * jaw))
    if side > min(h, w):
        side = max(min(h, w), int(round(MIN_CROP_FACES * jaw)))
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    if side <= w:
        x0 = min(max(x0, 0), w - side)
    if side <= h:
        y0 = min(max(y0, 0), h - side)
    pad = max(0, -x0, -y0, x0 + side - w, y0 + side - h)
    if pad:
        image = np.pad(image, ((pad, pad), (pad, pad), (0, 0)), mode="reflect" if pad < min(h, w) else "edge")
    crop = image[y0 + pad:y0 + pad + side, x0 + pad:x0 + pad + side]
    return crop, x0, y0, side


def _anchors(rig: FaceRig, size: int) -> np.ndarray:
    """Fixed points: four per image edge plus a ring around the head beyond which nothing moves."""
    edge = np.linspace(0, size - 1, 5)[:-1]
    last = size - 1
    border = np.concatenate([np.stack([edge, np.zeros(4)], 1), np.stack([np.full(4, last), edge], 1),
                             np.stack([last - edge, np.full(4, last)], 1), np.stack([np.zeros(4), last - edge], 1)])
    radius = 1.35 * float(np.linalg.norm(rig.points - rig.centre, axis=1).max())
    angles = np.linspace(0, 2 * np.pi, 17)[:-1]
    ring = rig.centre + radius * np.stack([np.cos(angles), np.sin(angles)], 1)
    inside = (ring > -0.25 * size).all(1) & (ring < 1.25 * size).all(1)
    return np.concatenate([border, ring[inside]]).astype(np.float32)


class BuiltinFaceRenderer(FaceModel):
    name = "builtin-warp"

    def __init__(self, grid_step: int = 6, batch: int = 16):
        self.grid_step = grid_step
        self.batch = batch
        self._warps: dict[int, ThinPlateWarp] = {}

    def modules(self) -> list[torch.nn.Module]:
        return list(self._warps.values())

    def _warp(self, size: int, runtime: Runtime) -> ThinPlateWarp:
        """The warp module for `size`, on the runtime's device (loaded through the runtime only when it is not)."""
        if size not in self._warps:
            self._warps[size] = ThinPlateWarp(size, self.grid_step)
        warp = self._warps[size]
        if warp.grid.device != runtime.device:
            runtime.load(self)
        return warp

    def prepare(self, image: np.ndarray, *, size: int, runtime: Runtime, where: str = "face") -> WarpFace:
        image = as_uint8_rgb(image, where=where)
        face = face_analyzer().analyze(image, where=where)
        crop, x0, y0, side = portrait_crop(image, face.landmarks)
        portrait = resize(crop, size, size)
        landmarks = (face.landmarks - np.array([x0, y0], np.float32) + 0.5) * (size / side) - 0.5
        pixels, points = close_photo_mouth(portrait.astype(np.float32) / 255.0, landmarks)
        rig = FaceRig.from_landmarks(points)
        lids = np.stack([eyelid_color(pixels, rig.points[36:42], rig.points[17:22]),
                         eyelid_color(pixels, rig.points[42:48], rig.points[22:27])])
        tensor = torch.from_numpy(pixels).permute(2, 0, 1).contiguous()
        return WarpFace(size=size, image=tensor, rig=rig, anchors=_anchors(rig, size), lid_colors=lids,
                        crop_box=(x0, y0, side))

    @torch.inference_mode()
    def render(self, face: WarpFace, motion: Motion, *, runtime: Runtime,
               settings: SamplerSettings = SamplerSettings()) -> np.ndarray:
        warp = self._warp(face.size, runtime)
        device = runtime.device
        image = face.image.to(device)
        source = torch.from_numpy(np.concatenate([face.rig.points, face.anchors])).to(device)
        out = np.empty((motion.num_frames, face.size, face.size, 3), np.uint8)
        for start in range(0, motion.num_frames, self.batch):
            stop = min(start + self.batch, motion.num_frames)
            targets = face.rig.targets(motion.pose[start:stop], motion.expr[start:stop], motion.expr_names)
            anchors = np.broadcast_to(face.anchors, (stop - start, *face.anchors.shape))
            target = torch.from_numpy(np.concatenate([targets, anchors], axis=1)).to(device)
            frames = warp(image, source, target).permute(0, 2, 3, 1).float().cpu().numpy()
            blinks = [motion.expr[start:stop, motion.expr_names.index(c)] for c in ("blink_right", "blink_left")]
            for i, (frame, points) in enumerate(zip(frames, targets)):
                paint_mouth(frame, points[list(INNER_UPPER)], points[list(INNER_LOWER)], face.rig.unit)
                paint_eyelid(frame, points[36:42], float(blinks[0][i]), face.lid_colors[0])
                paint_eyelid(frame, points[42:48], float(blinks[1][i]), face.lid_colors[1])
            out[start:stop] = (np.clip(frames, 0, 1) * 255 + 0.5).astype(np.uint8)
        return out

    def describe(self) -> dict:
        return super().describe() | {"grid_step": self.grid_step}

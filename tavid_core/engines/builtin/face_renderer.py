"""Built-in face model: animates the reference photo itself by landmark-driven warping.

prepare: find the face (dlib) and mark it (MediaPipe's face mesh, dlib's 68 points without it), cut a
square portrait around it (head, hair, some shoulders, the original background), build its landmark rig
and fit the warp to it; keep the photo's teeth when it shows them. render: for each frame, move the rig's
points as the Motion says, warp the region around the head with a thin-plate spline that fades out
before the region's edge (the rest of the portrait is the photo itself), lay the inside of the mouth
into the gap where the lips part (mouth.py) and paint the eyelids when they close. No sampling happens, so
sampler, steps and cfg do not apply; the seed does not either: the Motion already carries all randomness.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from ...runtime import Runtime
from ...types import Motion
from ..protocols import FaceModel, PreparedFace, SamplerSettings
from ..shared.face_rig import FaceRig
from ..shared.lips import INNER_LOWER, INNER_UPPER
from ..shared.portrait import make_portrait
from .eyelids import eyelid_color, paint_eyelid
from .mouth import MouthLook, colourfulness, mouth_look, paint_mouth
from .teeth import drawn_teeth, photo_teeth, teeth_tone
from .warp import Box, ThinPlateWarp


@dataclass(eq=False)
class WarpFace(PreparedFace):
    size: int
    image: torch.Tensor       # [3, size, size] float 0.5..255.5: uint8 levels plus a half, so truncation rounds
    rig: FaceRig
    warp: ThinPlateWarp       # the rig's rest points, and a ring of points around the head that never move
    pixels: np.ndarray        # [size, size, 3] uint8, the portrait every frame starts from
    lid_colors: np.ndarray    # [2, 3] skin colour of the image-left and image-right upper eyelid
    colour: float             # the photo's colourfulness, 0 (black and white) to 1: the mouth follows it
    mouth: MouthLook          # what the inside of the mouth is made of, in the photo's colours and light
    crop_box: tuple[int, int, int]  # x0, y0, side in the original photo
    points_from: str          # "mediapipe" or "dlib": what marked the face


def _anchors(rig: FaceRig, size: int) -> tuple[np.ndarray, Box, Box]:
    """Fixed points on a ring around the head beyond which nothing moves; the box around that ring (the
    only pixels the warp touches); and the box around mouth and chin, where points move the most."""
    radius = 1.35 * float(np.linalg.norm(rig.points - rig.centre, axis=1).max())
    angles = np.linspace(0, 2 * np.pi, 17)[:-1]
    ring = (rig.centre + radius * np.stack([np.cos(angles), np.sin(angles)], 1)).astype(np.float32)
    lo = np.clip(np.floor(rig.centre - radius), 0, size).astype(int)
    hi = np.clip(np.ceil(rig.centre + radius), 0, size).astype(int)
    box = (int(lo[0]), int(lo[1]), int(hi[0]), int(hi[1]))
    mouth, u = rig.points[list(range(48, 68)) + [8]], rig.unit
    margin = 0.12 * (np.array(box[2:]) - np.array(box[:2])) / 2 + 2   # keep clear of the box's fading edge
    d_lo = np.maximum(mouth.min(0) - [0.45 * u, 0.35 * u], np.array(box[:2]) + margin)
    d_hi = np.minimum(mouth.max(0) + [0.45 * u, 0.45 * u], np.array(box[2:]) - margin)
    detail = (int(d_lo[0]), int(d_lo[1]), int(max(d_hi[0], d_lo[0] + 8)), int(max(d_hi[1], d_lo[1] + 8)))
    return ring, box, detail


JAW_EASING = 0.3   # a fully open jaw shows 70 % of the rig's opening: a loud vowel, not a yawn


def softened_jaw(expr: np.ndarray, names) -> np.ndarray:
    """`expr` with its jaw opening eased towards the top: small openings as they are, the widest ones
    (0.4 eye-corner distances in the rig, which on a wide smiling mouth reads as a shout) brought down."""
    if "jaw_open" not in names:
        return expr
    out = np.array(expr, np.float32, copy=True)
    jaw = out[:, list(names).index("jaw_open")]
    jaw -= JAW_EASING * np.clip(jaw, 0, None) ** 2
    return out


def _to_uint8(pixels: np.ndarray) -> np.ndarray:
    return (np.clip(pixels, 0, 1) * 255 + 0.5).astype(np.uint8)


class BuiltinFaceRenderer(FaceModel):
    name = "builtin-warp"
    renders_concurrently = True   # OpenCV's remap and torch's spline fit release Python's lock

    def __init__(self, grid_step: int = 16, batch: int = 16):
        self.grid_step = grid_step
        self.batch = batch

    def modules(self) -> list[torch.nn.Module]:
        return []  # the per-face warps are small and move with each render call

    def prepare(self, image: np.ndarray, *, size: int, runtime: Runtime, where: str = "face") -> WarpFace:
        portrait = make_portrait(image, size, where)
        pixels, rig = portrait.pixels, portrait.rig
        lids = np.stack([eyelid_color(pixels, rig.points[36:42], rig.points[17:22]),
                         eyelid_color(pixels, rig.points[42:48], rig.points[22:27])])
        anchors, box, detail = _anchors(rig, size)
        warp = ThinPlateWarp(size, rig.points, anchors, box, detail, self.grid_step)
        tensor = torch.from_numpy(pixels * 255.0 + 0.5).permute(2, 0, 1).contiguous()
        colour = colourfulness(pixels, rig.points)
        tone = teeth_tone(pixels, rig.points, colour)
        teeth = photo_teeth(portrait.photo, portrait.open_points, rig.unit, tone) or drawn_teeth(tone)
        return WarpFace(size=size, image=tensor, rig=rig, warp=warp, pixels=_to_uint8(pixels), lid_colors=lids,
                        colour=colour, mouth=mouth_look(pixels, rig.points, teeth, colour), crop_box=portrait.crop_box,
                        points_from=portrait.points.source)

    @torch.inference_mode()
    def render(self, face: WarpFace, motion: Motion, *, runtime: Runtime,
               settings: SamplerSettings = SamplerSettings()) -> np.ndarray:
        device = runtime.device
        warp, image = face.warp.to(device), face.image.to(device)
        x0, y0, x1, y1 = warp.box
        out = np.empty((motion.num_frames, face.size, face.size, 3), np.uint8)
        for rows, cols in (((0, y0), (0, face.size)), ((y1, face.size), (0, face.size)),
                           ((y0, y1), (0, x0)), ((y0, y1), (x1, face.size))):  # what lies outside the warped box
            out[:, slice(*rows), slice(*cols)] = face.pixels[slice(*rows), slice(*cols)]
        out_view = torch.from_numpy(out)
        expr = softened_jaw(motion.expr, motion.expr_names)
        blink_channels = [motion.expr_names.index(c) for c in ("blink_right", "blink_left")]
        blinks = [expr[:, c] for c in blink_channels]
        open_expr = expr.copy()
        open_expr[:, blink_channels] = 0.0
        for start in range(0, motion.num_frames, self.batch):
            stop = min(start + self.batch, motion.num_frames)
            targets = face.rig.targets(motion.pose[start:stop], expr[start:stop], motion.expr_names)
            target = torch.from_numpy(targets).to(device)
            # the lids are painted over the eye as it is open: the warp lowers the lid only part of the way,
            # and the painted one covers what it leaves, the upper lashes included, down to the lower lid
            open_eyes = face.rig.targets(motion.pose[start:stop], open_expr[start:stop], motion.expr_names)
            if device.type == "cpu":
                # OpenCV's fixed-point remap samples uint8 straight into the frame, 3x faster than grid_sample
                for i, source in enumerate(warp.source_pixels(target).numpy(), start):
                    out[i, y0:y1, x0:x1] = cv2.remap(face.pixels, source, None, cv2.INTER_LINEAR,
                                                     borderMode=cv2.BORDER_REPLICATE)
            else:  # truncation rounds: the image holds levels plus a half
                out_view[start:stop, y0:y1, x0:x1].copy_(warp(image, target).permute(0, 2, 3, 1))
            for i, (points, eyes) in enumerate(zip(targets, open_eyes), start):
                unit = float(np.linalg.norm(points[45] - points[36]))   # the face's size in this frame
                paint_mouth(out[i], points[list(INNER_UPPER)], points[list(INNER_LOWER)], unit, face.mouth)
                paint_eyelid(out[i], eyes[36:42], float(blinks[0][i]), face.lid_colors[0])
                paint_eyelid(out[i], eyes[42:48], float(blinks[1][i]), face.lid_colors[1])
        return out

    def describe(self) -> dict:
        return super().describe() | {"grid_step": self.grid_step}

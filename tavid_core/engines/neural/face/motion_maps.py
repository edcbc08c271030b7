"""Motion condition maps for the face diffusion model: where the face's parts are in each frame, drawn as
soft line images the denoiser reads next to the latents.

The points come from the built-in renderer's landmark rig (`FaceRig.targets`: the reference's landmarks
moved by the Motion's pose and expression), so the neural face model is driven by exactly the geometry the
built-in renderer warps to, and by ANY Motion (built-in or neural), without rendering a photo.

Channels (MAP_CHANNELS), each 0..1:
    contour  the head's outline: jaw line closed over the forehead points
    eyes     brows and eye outlines; the eye's inside is lit by how open it is (1 - blink), because the rig
             moves the lids only part of the way (the renderer paints the rest)
    mouth    outer lip outline at half intensity, the opening between the inner lips filled at full
             intensity: its lit area grows with jaw_open
    pose     nose bridge and nose base (they swing across the face with yaw and pitch) and the irises (the
             eye centres, moved by gaze; dimmed as the eye closes)

Lines are drawn anti-aliased with OpenCV at sub-pixel precision and blurred a little, so small motions
change the maps smoothly. Widths scale with `size`. The maps are meant to be drawn at the FRAME resolution
(latent size x 8), where a mouth opening spans several pixels, and brought down to the latent grid by the
denoiser's condition encoder (strided convolutions); drawn at the latent resolution they still work but
lose the mouth's detail. Frames are independent: the maps of `motion.window(a, b)` are frames a..b of the
maps of `motion`, so a long video is drawn one window at a time.
"""
from __future__ import annotations

import cv2
import numpy as np

from ....errors import TavidError
from ....types import Motion
from ...shared.face_rig import EYE_CENTRES, FOREHEAD, FaceRig
from ...shared.lips import INNER_LOWER, INNER_UPPER

MAP_CHANNELS = ("contour", "eyes", "mouth", "pose")
_SHIFT = 4                   # OpenCV fixed-point bits: coordinates at 1/16 pixel
_JAW = list(range(0, 17))
_OUTLINE = _JAW + list(FOREHEAD[::-1])          # jaw from the image's left, back over the forehead
_BROWS = (list(range(17, 22)), list(range(22, 27)))
_EYES = (list(range(36, 42)), list(range(42, 48)))   # image-left eye (blink_right), image-right eye (blink_left)
_OUTER_LIPS = list(range(48, 60))
_OPENING = list(INNER_UPPER) + list(INNER_LOWER[::-1][1:-1])
_NOSE = (list(range(27, 31)), list(range(31, 36)))
_IRIS_RADIUS = 0.09          # in outer-eye-corner distances


def _rig_and_side(face, source_size: int | None) -> tuple[FaceRig, int]:
    """The rig and the side (pixels) of the square its points live in."""
    if isinstance(face, FaceRig):
        if source_size is None:
            raise TavidError("a bare FaceRig needs source_size (the side of the image its points are in)",
                             where="motion_maps")
        return face, int(source_size)
    rig, side = getattr(face, "rig", None), getattr(face, "size", None)
    if not isinstance(rig, FaceRig) or not side:
        raise TavidError(f"expected the built-in renderer's prepared face or a FaceRig, got {type(face).__name__}",
                         where="motion_maps", fix="Prepare the reference with the built-in face renderer first.")
    return rig, int(source_size or side)


def frame_points(face, motion: Motion, size: int, *, source_size: int | None = None) -> np.ndarray:
    """The rig's points in every frame `[T, N_POINTS, 2]`, in pixels of a `size` x `size` image (pixel
    centres at integers)."""
    rig, side = _rig_and_side(face, source_size)
    points = rig.targets(motion.pose, motion.expr, motion.expr_names)
    return (points + 0.5) * (size / side) - 0.5


def _fixed(points: np.ndarray) -> np.ndarray:
    return np.round(points * (1 << _SHIFT)).astype(np.int32).reshape(-1, 1, 2)


def _lines(canvas: np.ndarray, points: np.ndarray, closed: bool, value: int, thickness: int) -> None:
    cv2.polylines(canvas, [_fixed(points)], closed, value, thickness, cv2.LINE_AA, _SHIFT)


def _fill(canvas: np.ndarray, points: np.ndarray, value: int) -> None:
    if value > 0:
        cv2.fillPoly(canvas, [_fixed(points)], value, cv2.LINE_AA, _SHIFT)


def _draw_frame(out: np.ndarray, p: np.ndarray, openness: tuple[float, float], unit: float,
                thickness: int) -> None:
    """Draw one frame's maps into `out` [C, size, size] uint8 (zeros)."""
    contour, eyes, mouth, pose = out
    _lines(contour, p[_OUTLINE], True, 255, thickness)
    for brow in _BROWS:
        _lines(eyes, p[brow], False, 255, thickness)
    for eye, open_ in zip(_EYES, openness):
        _fill(eyes, p[eye], int(round(255 * open_)))
        _lines(eyes, p[eye], True, 255, thickness)
    _lines(mouth, p[_OUTER_LIPS], True, 128, thickness)
    _fill(mouth, p[_OPENING], 255)
    _lines(mouth, p[_OPENING], True, 255, thickness)   # a closed mouth still shows its seam
    for nose in _NOSE:
        _lines(pose, p[nose], False, 255, thickness)
    radius = max(unit * _IRIS_RADIUS, 0.75)
    for centre, open_ in zip(EYE_CENTRES, openness):
        if open_ > 0:
            cv2.circle(pose, tuple(int(v) for v in _fixed(p[centre])[0, 0]), int(round(radius * (1 << _SHIFT))),
                       int(round(255 * open_)), -1, cv2.LINE_AA, _SHIFT)


def motion_maps(face, motion: Motion, size: int, *, source_size: int | None = None) -> np.ndarray:
    """Condition maps float32 `[T, len(MAP_CHANNELS), size, size]` in 0..1 for each frame of `motion`.

    `face`: the built-in renderer's prepared face (`BuiltinFaceRenderer.prepare`: its rig and size), or a
    `FaceRig` with `source_size`, the side of the square image its rest points are in pixels of."""
    if size < 8:
        raise TavidError(f"condition maps need at least 8 pixels, got {size}", where="size")
    rig, side = _rig_and_side(face, source_size)
    points = frame_points(rig, motion, size, source_size=side)
    unit = rig.unit * size / side
    thickness = max(1, int(round(size / 128)))
    sigma = max(0.5, size / 256)
    blinks = np.stack([motion.channel("blink_right"), motion.channel("blink_left")], axis=1)
    openness = np.clip(1.0 - blinks, 0.0, 1.0)
    maps = np.zeros((motion.num_frames, len(MAP_CHANNELS), size, size), np.float32)
    canvas = np.zeros((len(MAP_CHANNELS), size, size), np.uint8)
    for t in range(motion.num_frames):
        canvas[:] = 0
        _draw_frame(canvas, points[t], (float(openness[t, 0]), float(openness[t, 1])), unit, thickness)
        for c in range(len(MAP_CHANNELS)):
            maps[t, c] = cv2.GaussianBlur(canvas[c].astype(np.float32) / 255.0, (0, 0), sigma)
    return maps

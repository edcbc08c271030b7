"""A sheet of mouth close-ups: how the built-in renderer opens the mouth of each given face, from closed to
fully open, in one picture (`tavid mouths`). A quick look at a new photo before rendering a long dialogue, and
the README's picture of the mouths."""
from __future__ import annotations

import numpy as np

from ...errors import TavidError
from ...media.sheets import caption_font, save_sheet
from ...runtime import StandaloneRuntime
from ...types import EXPR_CHANNELS, Motion
from .face_renderer import BuiltinFaceRenderer

OPENINGS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)   # jaw_open of the six close-ups
_ABOVE, _BELOW, _SIDE = 0.45, 0.8, 0.8      # the crop around the closed mouth's middle, in eye-corner distances


def mouth_frames(photo: np.ndarray, openings=OPENINGS, size: int = 512, where: str = "face") -> list[np.ndarray]:
    """Close-ups (uint8 RGB, all one size) of the face in `photo` rendered at each jaw opening, the head still."""
    runtime = StandaloneRuntime(device="cpu", quiet=True)
    renderer = BuiltinFaceRenderer()
    face = renderer.prepare(photo, size=size, runtime=runtime, where=where)
    count = len(openings)
    expr = np.zeros((count, len(EXPR_CHANNELS)), np.float32)
    expr[:, EXPR_CHANNELS.index("jaw_open")] = openings
    pose = np.tile(np.array([0, 0, 0, 0, 0, 1], np.float32), (count, 1))
    motion = Motion(fps=25.0, pose=pose, expr=expr, speaking=np.ones(count, np.float32), expr_names=EXPR_CHANNELS)
    frames = renderer.render(face, motion, runtime=runtime)
    centre, unit = face.rig.points[48:68].mean(axis=0), face.rig.unit
    x0, x1 = (int(round(centre[0] + d * unit)) for d in (-_SIDE, _SIDE))
    y0, y1 = (int(round(centre[1] + d * unit)) for d in (-_ABOVE, _BELOW))
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, size), min(y1, size)
    return [frame[y0:y1, x0:x1] for frame in frames]


def mouth_sheet(faces: list[tuple[str, np.ndarray]], output: str, openings=OPENINGS, width: int = 200) -> str:
    """Write one row of close-ups per (label, photo) in `faces`, each `width` pixels wide and captioned with its
    opening, to `output` (PNG or JPEG); returns the path."""
    from PIL import Image, ImageDraw

    if not faces:
        raise TavidError("no faces to show", where="tavid mouths", fix="Give one or more --face images.")
    font = caption_font(14)
    rows = []
    for label, photo in faces:
        crops = mouth_frames(photo, openings, where=label)
        height = round(crops[0].shape[0] * width / crops[0].shape[1])
        row = Image.new("RGB", (width * len(crops), height + 44), "white")
        draw = ImageDraw.Draw(row)
        draw.text((6, 4), label, fill=(20, 20, 20), font=font)
        for i, (crop, opening) in enumerate(zip(crops, openings)):
            row.paste(Image.fromarray(crop).resize((width, height), Image.LANCZOS), (i * width, 22))
            draw.text((i * width + 6, height + 26), f"jaw {opening:.1f}", fill=(60, 60, 60), font=font)
        rows.append(row)
    sheet = Image.new("RGB", (max(r.width for r in rows), sum(r.height for r in rows)), "white")
    top = 0
    for row in rows:
        sheet.paste(row, (0, top))
        top += row.height
    return save_sheet(sheet, output)


"""Putting the two faces into one picture, and a mask of who is speaking.

Layouts take both people's frames for the same time window and return the composed frames:

    side_by_side        A left, B right                                     canvas 2S x S
    stacked             A on top, B below                                   canvas S x 2S
    speaker_follow      one full shot of whoever holds the floor            canvas S x S
    picture_in_picture  whoever holds the floor fills the frame, the other  canvas S x S
                        is an inset of about S/3.2 in the bottom-right corner

Who holds the floor is decided once for the whole clip by `floor_holder` (a cut needs the other person
to have spoken for a moment and the current shot to have lasted a while), because rendering happens
window by window; `compose` and `speaker_mask` take that array's slice for their frames. The mask
carries, over each person's visible region, that person's speaking activity (0..1).
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import TavidError

LAYOUTS = ("side_by_side", "stacked", "speaker_follow", "picture_in_picture")

SPEAKING = 0.5          # activity above which a person counts as speaking
CUT_AFTER_S = 0.3       # the other person must have spoken this long (alone) before a cut ...
MIN_SHOT_S = 1.5        # ... and the current shot must have lasted this long


def canvas_size(layout: str, size: int) -> tuple[int, int]:
    """(width, height) of the composed picture for faces of `size` pixels."""
    check_layout(layout)
    if layout == "side_by_side":
        return 2 * size, size
    if layout == "stacked":
        return size, 2 * size
    return size, size


def check_layout(layout: str) -> None:
    if layout not in LAYOUTS:
        raise TavidError(f"unknown layout {layout!r}", where="layout", fix=f"Choose one of {', '.join(LAYOUTS)}.")


def floor_holder(speaking_a: np.ndarray, speaking_b: np.ndarray, fps: float,
                 cut_after_s: float = CUT_AFTER_S, min_shot_s: float = MIN_SHOT_S) -> np.ndarray:
    """[T] int8, 0 where A holds the floor (is on screen) and 1 where B does, for the whole clip.

    The first shot goes to whoever speaks first (A if nobody speaks). A cut to the other person happens
    on the frame where they have been speaking (activity > 0.5) without the current person for
    `cut_after_s` seconds, provided the current shot has lasted `min_shot_s` seconds; a cut that is due
    but comes too early happens as soon as the shot is long enough, if the other person still speaks.
    While nobody speaks the shot stays.
    """
    a, b = np.asarray(speaking_a, np.float32), np.asarray(speaking_b, np.float32)
    if a.shape != b.shape or a.ndim != 1:
        raise TavidError(f"speaking activities must be two [T] arrays of one length, got {a.shape} and {b.shape}",
                         where="speaking", fix="Pass each person's per-frame activity over the same frames.")
    talking = np.stack([a > SPEAKING, b > SPEAKING])
    need_run = max(1, math.ceil(cut_after_s * fps - 1e-6))
    need_shot = math.ceil(min_shot_s * fps - 1e-6)
    holder = np.zeros(len(a), np.int8)
    first = np.flatnonzero(talking.any(axis=0))
    current = int(not talking[0, first[0]]) if len(first) else 0   # A if both start on the same frame
    shot_start, run = 0, 0
    for t in range(len(a)):
        other = 1 - current
        run = run + 1 if talking[other, t] and not talking[current, t] else 0
        if run >= need_run and t - shot_start >= need_shot:
            current, shot_start, run = other, t, 0
        holder[t] = current
    return holder


def compose(layout: str, frames_a: np.ndarray, frames_b: np.ndarray, holder: np.ndarray | None = None) -> np.ndarray:
    """[T, H, W, 3] frames from each person's [T, S, S, 3] frames (uint8 or float, kept as given).

    `holder` is `floor_holder`'s slice for these frames, needed by speaker_follow and picture_in_picture.
    """
    check_layout(layout)
    if frames_a.shape != frames_b.shape:
        raise TavidError(f"the two faces' frames differ in shape: {frames_a.shape} and {frames_b.shape}",
                         where="compose", fix="Render both faces at the same size and frame count.")
    if layout == "side_by_side":
        return np.concatenate([frames_a, frames_b], axis=2)
    if layout == "stacked":
        return np.concatenate([frames_a, frames_b], axis=1)
    on_a = _check_holder(layout, holder, len(frames_a))[:, None, None, None] == 0
    main = np.where(on_a, frames_a, frames_b)
    if layout == "speaker_follow":
        return main
    top, left, inner, border = _inset_box(frames_a.shape[1])
    light = 235 if np.issubdtype(main.dtype, np.integer) else 235 / 255
    outer = inner + 2 * border
    main[:, top:top + outer, left:left + outer] = light
    inset = _resize_area(np.where(on_a, frames_b, frames_a), inner)
    if np.issubdtype(main.dtype, np.integer):
        inset = np.clip(np.rint(inset), 0, np.iinfo(main.dtype).max)
    main[:, top + border:top + border + inner, left + border:left + border + inner] = inset
    return main


def speaker_mask(layout: str, size: int, speaking_a: np.ndarray, speaking_b: np.ndarray,
                 holder: np.ndarray | None = None) -> np.ndarray:
    """[T, H, W] float32 mask: each person's visible region carries their speaking activity (0..1)."""
    width, height = canvas_size(layout, size)
    a = np.asarray(speaking_a, np.float32)[:, None, None]
    b = np.asarray(speaking_b, np.float32)[:, None, None]
    mask = np.zeros((len(a), height, width), np.float32)
    if layout == "side_by_side":
        mask[:, :, :size], mask[:, :, size:] = a, b
    elif layout == "stacked":
        mask[:, :size], mask[:, size:] = a, b
    else:
        on_a = _check_holder(layout, holder, len(a))[:, None, None] == 0
        mask[:] = np.where(on_a, a, b)
        if layout == "picture_in_picture":
            top, left, inner, border = _inset_box(size)
            mask[:, top:top + inner + 2 * border, left:left + inner + 2 * border] = np.where(on_a, b, a)
    return mask


def _check_holder(layout: str, holder: np.ndarray | None, frames: int) -> np.ndarray:
    if holder is None:
        raise TavidError(f"the {layout} layout needs holder (who is on screen in each frame)", where="holder",
                         fix="Pass floor_holder(speaking_a, speaking_b, fps) sliced to these frames.")
    holder = np.asarray(holder)
    if holder.shape != (frames,):
        raise TavidError(f"holder must be [T={frames}], got {holder.shape}", where="holder",
                         fix="Slice floor_holder's array to the same frames as the faces.")
    return holder


def _inset_box(size: int) -> tuple[int, int, int, int]:
    """(top, left, picture side, border) of the picture-in-picture inset, border included in the box."""
    inner = max(2, 2 * round(size / 6.4))         # about size / 3.2, an even number of pixels
    border = max(1, round(size / 256))
    margin = round(size / 32)
    corner = size - margin - inner - 2 * border
    return corner, corner, inner, border


def _resize_area(frames: np.ndarray, side: int) -> np.ndarray:
    """[T, S, S, C] -> float32 [T, side, side, C], each output pixel the mean of the input pixels it covers
    (Pillow's box filter, on 32-bit float planes so uint8 and float frames are treated alike)."""
    from PIL import Image
    out = np.empty((frames.shape[0], side, side, frames.shape[3]), np.float32)
    for t in range(frames.shape[0]):
        for c in range(frames.shape[3]):
            plane = Image.fromarray(np.ascontiguousarray(frames[t, :, :, c], np.float32))  # mode "F"
            out[t, :, :, c] = np.asarray(plane.resize((side, side), Image.BOX))
    return out

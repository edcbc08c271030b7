"""Putting the two faces into one picture, and a mask of who is speaking.

Layouts take both people's frames for the same time window and return the composed frames; the mask
is 1 over the panel of whoever speaks (weighted by their speaking activity).
"""
from __future__ import annotations

import numpy as np

from .errors import TavidError

LAYOUTS = ("side_by_side",)


def canvas_size(layout: str, size: int) -> tuple[int, int]:
    """(width, height) of the composed picture for faces of `size` pixels."""
    check_layout(layout)
    return 2 * size, size


def check_layout(layout: str) -> None:
    if layout not in LAYOUTS:
        raise TavidError(f"unknown layout {layout!r}", where="layout", fix=f"Choose one of {', '.join(LAYOUTS)}.")


def compose(layout: str, frames_a: np.ndarray, frames_b: np.ndarray) -> np.ndarray:
    """[T, H, W, 3] frames from each person's [T, S, S, 3] frames (A on the left); any dtype."""
    check_layout(layout)
    if frames_a.shape != frames_b.shape:
        raise TavidError(f"the two faces' frames differ in shape: {frames_a.shape} and {frames_b.shape}",
                         where="compose", fix="Render both faces at the same size and frame count.")
    return np.concatenate([frames_a, frames_b], axis=2)


def speaker_mask(layout: str, size: int, speaking_a: np.ndarray, speaking_b: np.ndarray) -> np.ndarray:
    """[T, H, W] float mask: each panel carries its person's speaking activity (0..1)."""
    width, height = canvas_size(layout, size)
    mask = np.zeros((len(speaking_a), height, width), np.float32)
    mask[:, :, :size] = np.asarray(speaking_a, np.float32)[:, None, None]
    mask[:, :, size:] = np.asarray(speaking_b, np.float32)[:, None, None]
    return mask

"""Long sequences in overlapping windows, shared by the motion mapper and the face model: each window
after the first starts `overlap` frames before the previous one ends, gets those frames as its prompt,
and its own version of them is cross-faded into the previous one's."""
from __future__ import annotations

import torch


def windows(frames: int, window: int, overlap: int) -> list[tuple[int, int]]:
    """The `[start, stop)` frame spans that cover `frames`: `window` long, each starting `overlap`
    frames before the previous one ends (the last may be shorter)."""
    spans, start = [], 0
    while True:
        stop = min(start + window, frames)
        spans.append((start, stop))
        if stop >= frames:
            return spans
        start = stop - overlap


def crossfade(previous: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
    """The overlap's frames (dim 0) faded linearly from `previous` to `new`: the first frame is mostly
    the previous window's, the last mostly the new one's, and neither end is taken whole."""
    o = previous.shape[0]
    fade = (torch.arange(1, o + 1, dtype=torch.float32, device=previous.device) / (o + 1))
    fade = fade.view((o,) + (1,) * (previous.dim() - 1))
    return (1 - fade) * previous + fade * new

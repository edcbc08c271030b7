"""Long sequences in overlapping windows, shared by the motion mapper and the face model: each window
after the first starts `overlap` frames before the previous one ends, gets those frames as its prompt,
and its own version of them is cross-faded into the previous one. `windowed` does that bookkeeping; an
engine only says how to make one window."""
from __future__ import annotations

from typing import Callable, Iterator

import torch

from .flow import StepCallback

# make(index, start, stop, prompt, on_step) -> the window's frames [stop - start, ...] on the CPU; `prompt`
# is the previous window's last frames (None for the first window), `on_step(done, total)` its progress
MakeWindow = Callable[[int, int, int, "torch.Tensor | None", StepCallback], torch.Tensor]


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


def prompt_batch(prompt: torch.Tensor | None, shape: tuple[int, ...], device: torch.device | str
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """A window's prompt as a network reads it: values `[1, *shape]` with `prompt` in its first frames and
    zeros after, and the mask `[1, shape[0]]` that is True on those frames."""
    values = torch.zeros((1, *shape), device=device)
    mask = torch.zeros(1, shape[0], dtype=torch.bool, device=device)
    if prompt is not None:
        values[0, :len(prompt)] = prompt.to(device)
        mask[0, :len(prompt)] = True
    return values, mask


def windowed(frames: int, window: int, overlap: int, make: MakeWindow, *, steps: int,
             on_step: StepCallback | None = None) -> Iterator[tuple[int, torch.Tensor]]:
    """(first frame, final frames) for consecutive runs covering 0..frames, made window by window. A
    window's last `overlap` frames are only final after the next window's cross-fade, so each run ends
    where the next window's prompt begins; only one window is held at a time. `steps` per window:
    `on_step(done, total)` counts them over all windows."""
    spans = windows(frames, window, overlap)
    tail: torch.Tensor | None = None    # the previous window's last frames, not yet given out
    for index, (start, stop) in enumerate(spans):
        o = 0 if index == 0 else min(overlap, stop - start)

        def step(done: int, total: int, base: int = index * steps) -> None:
            if on_step is not None:
                on_step(base + done, len(spans) * steps)

        x = make(index, start, stop, tail[:o] if o else None, step)
        if o:
            x[:o] = crossfade(tail[:o], x[:o])
        keep = 0 if index == len(spans) - 1 else min(overlap, stop - start)
        yield start, x[:len(x) - keep]
        tail = x[len(x) - keep:] if keep else None

"""Classifier-free guidance of the face model over its two nested conditions, identity and motion."""
from __future__ import annotations

import math
from typing import Any, Callable

import torch

from ....errors import TavidError
from ..common.flow import tile
from .schedules import DenoiseFn

GUIDANCE_PASSES = ("uncond", "identity", "full")


# fn(x [k*B, ...], t [k*B], passes) -> output; passes is a subset of GUIDANCE_PASSES in that order
BatchedDenoiseFn = Callable[[torch.Tensor, torch.Tensor, tuple[str, ...]], torch.Tensor]


def check_weight(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise TavidError(f"{where} must be a number of at least 0, got {value!r}", where=where,
                         fix="Use 0 for no guidance; 1 to 5 is typical.")
    return float(value)


def guidance_passes(cfg_identity: float, cfg_motion: float) -> tuple[str, ...]:
    """The forward passes `nested_guidance` needs: the full condition always, plus what a non-zero weight uses."""
    wi = check_weight(cfg_identity, "cfg_identity")
    wm = check_weight(cfg_motion, "cfg_motion")
    if wi:
        return GUIDANCE_PASSES
    return ("identity", "full") if wm else ("full",)


def nested_guidance(denoise_batched: BatchedDenoiseFn, cfg_identity: float, cfg_motion: float) -> DenoiseFn:
    """Classifier-free guidance over two nested conditions, identity (the reference face) and motion:

        out = full + w_i * (identity - uncond) + w_m * (full - identity)

    where `uncond` drops both conditions, `identity` keeps only the reference and `full` keeps both.
    Weights are extra guidance: 0 is none, and w_i = w_m = w is ordinary CFG with scale 1 + w (this is
    InstructPix2Pix's two-scale formula with s = 1 + w). The mix is linear, so it applies equally to
    epsilon, v and flow outputs.

    `denoise_batched(x, t, passes)` evaluates the passes in ONE batch: `x` `[k*B, ...]`, `t` `[k*B]`,
    copy-major in the order of `passes` (a subset of GUIDANCE_PASSES). Passes a zero weight does not
    need are left out: both 0 -> ("full",) only, exactly the plain conditional output; w_i = 0 ->
    ("identity", "full"). The mix is computed in float32."""
    passes = guidance_passes(cfg_identity, cfg_motion)
    wi, wm = float(cfg_identity), float(cfg_motion)

    def fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        k = len(passes)
        out = denoise_batched(tile(x, k), tile(t, k), passes)
        if k == 1:
            return out
        part = dict(zip(passes, out.float().chunk(k, dim=0)))
        mixed = part["full"] + wm * (part["full"] - part["identity"])
        if wi:
            mixed = mixed + wi * (part["identity"] - part["uncond"])
        return mixed

    return fn

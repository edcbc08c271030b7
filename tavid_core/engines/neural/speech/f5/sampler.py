"""F5-TTS's sampling: the flow from noise to mel with classifier-free guidance, on F5-TTS's time grid.

The solver is the speech block's (common/flow.py: Euler or midpoint) and the guidance its weighted
guidance: one batched forward of the conditional and the unconditional copy, v = v_cond + w (v_cond -
v_uncond). F5-TTS drops the text and the prompt mel together, so there is one condition, "text". The time
grid is the reference's: uniform, or one of its pruned grids (EPSS) for 5, 6, 7, 10, 12 and 16 steps, then
warped by sway sampling t + s (cos(pi t / 2) - 1 + t), in float32.
"""
from __future__ import annotations

import math
from typing import Mapping

import torch

from ...common.flow import StepCallback, randn, solve, tile, weighted_guidance
from .dit import F5DiT
from .duration import sampled_frames

# the reference's EPSS grids, in 32nds of the way
EPSS_GRIDS = {
    5: (0, 2, 4, 8, 16, 32),
    6: (0, 2, 4, 6, 8, 16, 32),
    7: (0, 2, 4, 6, 8, 16, 24, 32),
    10: (0, 2, 4, 6, 8, 12, 16, 20, 24, 28, 32),
    12: (0, 2, 4, 6, 8, 10, 12, 14, 16, 20, 24, 28, 32),
    16: (0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32),
}


def time_grid(steps: int, sway: float | None = -1.0, use_epss: bool = True) -> torch.Tensor:
    """The `steps + 1` float32 times the solver visits."""
    if use_epss and steps in EPSS_GRIDS:
        t = (1 / 32) * torch.tensor(EPSS_GRIDS[steps], dtype=torch.float32)
    else:
        t = torch.linspace(0, 1, steps + 1, dtype=torch.float32)
    if sway is not None:
        t = t + sway * (torch.cos(math.pi / 2 * t) - 1 + t)
    return t


@torch.no_grad()
def sample(dit: F5DiT, prompt_mel: torch.Tensor, text: torch.Tensor, frames: int, *, generator: torch.Generator,
           steps: int = 32, cfg: float = 2.0, sway: float | None = -1.0, method: str = "euler",
           on_step: StepCallback | None = None, features: bool = False
           ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """The whole mel `[1, D, n_mels]` (prompt frames are the prompt, the rest is new), as CFM.sample makes it.

    `prompt_mel` `[1, Tp, n_mels]` (the log-mel of the prompt audio), `text` `[1, L]` ids of the prompt's
    transcript and the new text together, `frames` the requested length (duration.total_frames). The noise
    `[1, D, n_mels]` is drawn on the CPU from `generator`: `torch.manual_seed(s)` then the reference's
    `torch.randn` gives the same numbers. With `features`, also the hidden features `[1, D, dim]` of one
    forward at t = 1 on the finished mel without guidance: what the network makes of the speech produced."""
    _, tp, m = prompt_mel.shape
    d = sampled_frames(frames, int((text[0] != -1).sum()), tp)
    device = prompt_mel.device
    cond = torch.zeros(1, d, m, device=device)
    cond[:, :tp] = prompt_mel.float()

    def batched(x: torch.Tensor, t: torch.Tensor, drop: Mapping[str, torch.Tensor]) -> torch.Tensor:
        copies = x.shape[0]
        return dit(x, tile(cond, copies), tile(text, copies), t, drop=drop["text"])

    weight = cfg if cfg >= 1e-5 else 0.0
    grid = time_grid(steps, sway)
    mel = solve(weighted_guidance(batched, {"text": weight}), randn((1, d, m), generator, device), steps, method,
                on_step=on_step, grid=grid).float()
    mel[:, :tp] = cond[:, :tp]
    if not features:
        return mel
    _, hidden = dit(mel, cond, text, 1.0, features=True)
    return mel, hidden.float()

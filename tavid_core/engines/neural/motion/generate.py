"""One person's motion sampled by the flow ODE, any length.

Long inputs are generated in windows of `window_frames`: every window after the first gets the previous
window's last `overlap_frames` frames as a prompt (infilling, like the speech DiT's in-context prompt)
and the two versions of the overlap are cross-faded, so only one window's tensors exist at a time.
The window bookkeeping is common/windows.py's, shared with the face model.
"""
from __future__ import annotations

from typing import Callable, Mapping

import torch

from ....errors import TavidError
from ..common.flow import StepCallback, check_ode_method, randn, solve, tile, weighted_guidance
from ..common.windows import prompt_batch, windowed, windows
from .config import DEFAULT_STEPS, DEFAULT_SWAY
from .net import MotionMapperNet

WindowCallback = Callable[[int, int, int, int], None]   # (index, count, start, stop)


@torch.no_grad()
def generate_motion(net: MotionMapperNet, own: torch.Tensor, partner: torch.Tensor, role: int, *,
                    steps: int = DEFAULT_STEPS, method: str = "euler", generator: torch.Generator | None = None,
                    cfg: float = 0.0, sway: float | None = DEFAULT_SWAY, on_step: StepCallback | None = None,
                    on_window: WindowCallback | None = None) -> torch.Tensor:
    """One person's motion `[T, C]` (raw units, float32 on the CPU) for `own` and `partner` features
    `[T, F]` at `net.cfg.fps`, any length.

    Windows of `window_frames` are generated in turn; each after the first has its first `overlap_frames`
    frames given as the prompt (the previous window's last frames) and its own version of them cross-faded
    linearly into the previous one. Only one window's tensors live on the device at a time; the features
    and the result stay on the CPU. Noise comes from `generator` (CPU), one window after the other.
    `cfg` is classifier-free guidance on the speech (0: none). `on_step(done, total)` counts steps over
    all windows; `on_window(index, count, start, stop)` runs before each window."""
    c = net.cfg
    frames = own.shape[0]
    if frames < 1:
        raise TavidError("there are no frames to make motion for", where="speech", fix="Give speech of some length.")
    check_ode_method(method)
    generator = torch.Generator().manual_seed(0) if generator is None else generator
    device = next(net.parameters()).device
    count = len(windows(frames, c.window_frames, c.overlap_frames))
    role_t = torch.tensor([role], device=device)

    def make(index: int, start: int, stop: int, tail: torch.Tensor | None, step: StepCallback) -> torch.Tensor:
        if on_window is not None:
            on_window(index, count, start, stop)
        length = stop - start
        prompt, prompt_mask = prompt_batch(tail, (length, c.motion_width), device)
        own_w, partner_w = own[None, start:stop].to(device), partner[None, start:stop].to(device)

        def batched(x: torch.Tensor, t: torch.Tensor, drop: Mapping[str, torch.Tensor]) -> torch.Tensor:
            k = x.shape[0]
            return net(x, t, tile(own_w, k), tile(partner_w, k), tile(role_t, k), None, tile(prompt, k),
                       tile(prompt_mask, k), drop_speech=drop["speech"])

        x0 = randn((1, length, c.motion_width), generator, device)
        return solve(weighted_guidance(batched, {"speech": cfg}), x0, steps, method, sway=sway,
                     on_step=step)[0].float().cpu()

    runs = windowed(frames, c.window_frames, c.overlap_frames, make, steps=steps, on_step=on_step)
    return net.denormalise(torch.cat([run for _, run in runs]))   # normalised values, on the CPU

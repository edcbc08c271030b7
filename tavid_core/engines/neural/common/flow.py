"""Conditional flow matching, independent of what flows (speech mel here, Motion in the motion mapper).

The path is the optimal-transport one: `x_t = (1 - t) * x0 + t * x1` with `x0 ~ N(0, I)` and data `x1`,
so the network learns the constant velocity `x1 - x0` and sampling integrates it from t = 0 to 1.

All randomness is drawn from a caller's `torch.Generator` on the CPU and then moved to the device, so one
seed gives the same noise on a CPU and a GPU run. Integration is done in float32 even when the network
runs under bfloat16 autocast: the per-step increments are small and would be rounded away otherwise.
"""
from __future__ import annotations

import math
from typing import Callable, Mapping

import torch

from ....errors import TavidError
from ....limits import ODE_METHODS

VelocityFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
# fn(x [N, ...], t [N], drop {condition name -> [N] bool}) -> velocity; the batched form weighted_guidance() calls
DroppableVelocityFn = Callable[[torch.Tensor, torch.Tensor, Mapping[str, torch.Tensor]], torch.Tensor]
StepCallback = Callable[[int, int], None]

TIME_KINDS = ("uniform", "logit_normal")
# sway coefficients that keep the warped time grid monotonic (F5-TTS: s in [-1, 2 / (pi - 2)])
SWAY_RANGE = (-1.0, 2.0 / (math.pi - 2.0))


def randn(shape: tuple[int, ...] | torch.Size, generator: torch.Generator, device: torch.device | str,
          dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Standard normal noise drawn on the CPU from `generator`, then moved (device-independent noise)."""
    return torch.randn(tuple(shape), generator=generator, dtype=torch.float32).to(device=device, dtype=dtype)


def rand(shape: tuple[int, ...] | torch.Size, generator: torch.Generator,
         device: torch.device | str) -> torch.Tensor:
    """Uniform [0, 1) draws on the CPU from `generator`, then moved."""
    return torch.rand(tuple(shape), generator=generator, dtype=torch.float32).to(device)


def sample_times(batch: int, generator: torch.Generator, device: torch.device | str,
                 kind: str = "uniform") -> torch.Tensor:
    """Training times `[batch]` in (0, 1). "logit_normal" (sigmoid of a standard normal, as in SD3)
    spends more training on the middle of the path, where the velocity is hardest to guess."""
    if kind == "uniform":
        return rand((batch,), generator, device)
    if kind == "logit_normal":
        return torch.sigmoid(randn((batch,), generator, device))
    raise TavidError(f"unknown time sampling {kind!r}", where="time_sampling",
                     fix=f"Use one of {', '.join(TIME_KINDS)}.")


def flow_matching_loss(velocity_fn: VelocityFn, x1: torch.Tensor, loss_mask: torch.Tensor,
                       generator: torch.Generator, times: torch.Tensor | None = None,
                       time_kind: str = "uniform") -> torch.Tensor:
    """Mean squared error between `velocity_fn(x_t, t)` and `x1 - x0`, over the frames where `loss_mask`
    `[B, T]` is True only (padding and in-context prompt frames do not count).

    `x1` is `[B, T, ...]`; `times` `[B]` overrides the sampled times (for tests and evaluation)."""
    b = x1.shape[0]
    x1 = x1.float()
    x0 = randn(x1.shape, generator, x1.device)
    t = sample_times(b, generator, x1.device, time_kind) if times is None else times.to(x1.device).float()
    tb = t.view(b, *([1] * (x1.dim() - 1)))
    x_t = (1 - tb) * x0 + tb * x1
    v = velocity_fn(x_t, t).float()
    weight = loss_mask.to(x1.device, torch.float32).view(*loss_mask.shape, *([1] * (x1.dim() - loss_mask.dim())))
    weight = weight.expand_as(x1)
    err = (v - (x1 - x0)).square() * weight
    return err.sum() / weight.sum().clamp(min=1.0)


def sway_times(steps: int, sway: float | None, device: torch.device | str = "cpu") -> torch.Tensor:
    """The `steps + 1` times from 0 to 1 the solver visits. Sway sampling (F5-TTS) warps the uniform grid
    by `t + s * (cos(pi / 2 * t) - 1 + t)`: s < 0 puts more steps early, where the coarse structure of the
    output is decided."""
    t = torch.linspace(0.0, 1.0, steps + 1, dtype=torch.float64)
    if sway is not None and sway != 0:
        t = t + sway * (torch.cos(math.pi / 2 * t) - 1 + t)
    return t.to(device=device, dtype=torch.float32)


def check_ode_method(method: str, where: str = "sampler") -> None:
    if method not in ODE_METHODS:
        raise TavidError(f"unknown ODE method {method!r}", where=where, fix=f"Use one of {', '.join(ODE_METHODS)}.")


def _check_solver(steps: int, method: str, sway: float | None) -> None:
    check_ode_method(method)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise TavidError(f"steps must be a whole number of at least 1, got {steps!r}", where="steps",
                         fix="Use 1 or more steps (16 to 32 is typical).")
    if sway is not None and not SWAY_RANGE[0] <= sway <= SWAY_RANGE[1]:
        raise TavidError(f"sway {sway} is outside [{SWAY_RANGE[0]:g}, {SWAY_RANGE[1]:.3f}]", where="sway",
                         fix="Use a value from -1 (most steps early) to 0 (uniform steps); positive values "
                             "up to 0.876 put more steps late.")


def solve(velocity_fn: VelocityFn, x0: torch.Tensor, steps: int, method: str = "euler",
          sway: float | None = None, on_step: StepCallback | None = None,
          grid: torch.Tensor | None = None) -> torch.Tensor:
    """Integrate dx/dt = velocity_fn(x, t) from t = 0 (`x0`) to t = 1 in `steps` fixed steps.

    "euler" calls the network once a step, "midpoint" twice (second order: far smaller error at equal
    steps, the same cost at half the steps). `on_step(done, steps)` runs after each step, for progress
    bars and interrupt checks (it may raise to stop). `t` is passed to the network as `[B]` float32.
    `grid` (`steps + 1` times from 0 to 1) replaces the uniform or swayed grid: a model trained with its
    own time grid (F5-TTS's pruned grids) is sampled on that grid, to the last bit."""
    _check_solver(steps, method, sway)
    b = x0.shape[0]
    if grid is None:
        grid = sway_times(steps, sway, x0.device)
    elif grid.shape != (steps + 1,):
        raise TavidError(f"a time grid of {tuple(grid.shape)} for {steps} steps", where="steps",
                         fix=f"Give {steps + 1} times from 0 to 1.")
    else:
        grid = grid.to(device=x0.device, dtype=torch.float32)
    x = x0.float()

    def velocity(x_now: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return velocity_fn(x_now.to(x0.dtype), t.expand(b)).float()

    for i in range(steps):
        t, dt = grid[i], grid[i + 1] - grid[i]
        if method == "euler":
            x = x + dt * velocity(x, t)
        else:
            half = x + 0.5 * dt * velocity(x, t)
            x = x + dt * velocity(half, t + 0.5 * dt)
        if on_step is not None:
            on_step(i + 1, steps)
    return x.to(x0.dtype)


def weighted_guidance(velocity_fn: DroppableVelocityFn, weights: Mapping[str, float]) -> VelocityFn:
    """Classifier-free guidance with one weight per condition:

        v = v_full + sum_k w_k * (v_full - v_without_k)

    computed in ONE batched forward: the batch is tiled once for the full pass and once per condition
    whose weight is not 0 (e.g. 3B rows for text and speaker), each copy dropping its condition. With
    every weight 0 it is exactly the plain conditional forward (in its dtype); otherwise the mix is
    float32, so bfloat16 outputs are not rounded twice.

    `velocity_fn(x, t, drop)` gets `x` `[k * B, ...]`, `t` `[k * B]` and `drop` {name: [k * B] bool} for
    every name in `weights`; it must tile its own fixed inputs (conditions, masks) `k = len(x) // B` times
    (`tile` does it)."""
    names = tuple(weights)
    active = [name for name in names if float(weights[name]) != 0.0]

    def fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        b, copies = x.shape[0], 1 + len(active)
        flags = torch.zeros(copies, b, len(names), dtype=torch.bool, device=x.device)
        for copy, name in enumerate(active, start=1):
            flags[copy, :, names.index(name)] = True
        flags = flags.reshape(copies * b, len(names))
        drop = {name: flags[:, j] for j, name in enumerate(names)}
        v = velocity_fn(tile(x, copies), tile(t, copies), drop)
        if not active:
            return v
        parts = v.float().chunk(copies, dim=0)
        full = parts[0]
        out = full.clone()
        for name, without in zip(active, parts[1:]):
            out = out + float(weights[name]) * (full - without)
        return out

    return fn


def tile(x: torch.Tensor | None, copies: int) -> torch.Tensor | None:
    """`x` repeated `copies` times along the batch: `[B, ...]` -> `[copies * B, ...]` (copy-major)."""
    if x is None or copies == 1:
        return x
    return x.repeat(copies, *([1] * (x.dim() - 1)))

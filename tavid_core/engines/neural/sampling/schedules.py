"""The noise schedules of the face diffusion model and the forward process its training uses.

Conventions (the model's training must use the same ones; `noised()` is that forward process):
- "epsilon" / "v_prediction": discrete variance-preserving diffusion with `num_train_timesteps` steps,
  `x_t = sqrt(a_t) x0 + sqrt(1 - a_t) n` (a = alphas_cumprod); the network sees `t` in [0, N-1] and
  predicts `n` ("epsilon") or `sqrt(a_t) n - sqrt(1 - a_t) x0` ("v_prediction").
- "flow": rectified flow as in diffusers / SD3, `x = (1 - s) x0 + s n` with s in [0, 1] (s = 1 is pure
  noise), `t = s * N`, and the network predicts `n - x0`. (The speech side's common/flow.py runs time the other
  way: its t is `1 - s` and its velocity `x0 - n`.)

diffusers (>= 0.32: flow_prediction in DPM-Solver and UniPC, exponential sigmas) is imported inside the
functions that use it, because importing it takes seconds and ComfyUI's start-up must stay fast.
"""
from __future__ import annotations

from typing import Any, Callable

import torch

from ....errors import TavidError
from ....limits import is_whole

PREDICTIONS = ("epsilon", "v_prediction", "flow")
BETA_SCHEDULES = ("scaled_linear", "linear", "squaredcos_cap_v2")
# (beta_start, beta_end) a schedule means when the model config does not say: SD's for scaled_linear,
# DDPM's for linear (the cosine schedule has no range)
_BETA_RANGE = {"scaled_linear": (0.00085, 0.012), "linear": (0.0001, 0.02), "squaredcos_cap_v2": (0.0001, 0.02)}


MAX_STEPS = 1000

DenoiseFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


MIN_DIFFUSERS = (0, 32)  # flow sigmas in DPM-Solver / UniPC, karras & exponential in FlowMatch, fixed exponential


def import_diffusers() -> Any:
    """diffusers, imported on first use; a missing or too old one is the user's to fix."""
    try:
        import diffusers
    except ImportError as exc:
        raise TavidError("the face model's samplers need the diffusers package", where="diffusers",
                         fix="pip install 'diffusers>=0.32'") from exc
    version = tuple(int(part) for part in diffusers.__version__.split(".")[:2] if part.isdigit())
    if version < MIN_DIFFUSERS:
        raise TavidError(f"diffusers {diffusers.__version__} is too old for the face model's samplers",
                         where="diffusers", fix="pip install -U 'diffusers>=0.32'")
    return diffusers


def prediction_kind(prediction: str) -> str:
    if prediction not in PREDICTIONS:
        raise TavidError(f"unknown prediction type {prediction!r}", where="prediction",
                         fix=f"Use one of {', '.join(PREDICTIONS)} (what the model was trained to predict).")
    return "flow" if prediction == "flow" else "diffusion"


def beta_settings(num_train_timesteps: int, beta_schedule: str, beta_start: float | None,
           beta_end: float | None) -> dict[str, Any]:
    if beta_schedule not in BETA_SCHEDULES:
        raise TavidError(f"unknown beta schedule {beta_schedule!r}", where="beta_schedule",
                         fix=f"Use one of {', '.join(BETA_SCHEDULES)}.")
    if not is_whole(num_train_timesteps) or num_train_timesteps < 2:
        raise TavidError(f"num_train_timesteps must be a whole number of at least 2, got {num_train_timesteps!r}",
                         where="num_train_timesteps", fix="Use the value the model was trained with (1000).")
    start, end = _BETA_RANGE[beta_schedule]
    return dict(num_train_timesteps=num_train_timesteps, beta_schedule=beta_schedule,
                beta_start=start if beta_start is None else beta_start,
                beta_end=end if beta_end is None else beta_end)


def noise_schedule(num_train_timesteps: int = 1000, beta_schedule: str = "scaled_linear",
                   beta_start: float | None = None, beta_end: float | None = None) -> torch.Tensor:
    """alphas_cumprod `[N]` float32 of a diffusion schedule, exactly as the diffusers schedulers build it
    (what training and `k_diffusion_model` must share with `sample`)."""
    betas = beta_settings(num_train_timesteps, beta_schedule, beta_start, beta_end)
    return import_diffusers().DDPMScheduler(**betas).alphas_cumprod.float()


def noised(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor, *, prediction: str,
           alphas_cumprod: torch.Tensor | None = None,
           num_train_timesteps: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
    """The forward process the samplers invert: `(x_t, target)` for training at timesteps `t` `[B]`
    (integers in [0, N-1] for epsilon / v with their `alphas_cumprod`; floats in [0, N] for flow)."""
    kind = prediction_kind(prediction)
    view = (-1,) + (1,) * (x0.dim() - 1)
    if kind == "flow":
        s = (t.float() / num_train_timesteps).to(x0.device).view(view)
        return (1 - s) * x0 + s * noise, noise - x0
    if alphas_cumprod is None:
        raise TavidError("a diffusion model needs its alphas_cumprod", where="alphas_cumprod",
                         fix="Pass noise_schedule(...) of the model's schedule.")
    a = alphas_cumprod.to(x0.device)[t.long().to(x0.device)].float().view(view)
    x_t = a.sqrt() * x0 + (1 - a).sqrt() * noise
    return x_t, (noise if prediction == "epsilon" else a.sqrt() * noise - (1 - a).sqrt() * x0)

"""`sample()`: the face model sampled by a diffusers scheduler chosen by ComfyUI's names, so an artist can
swap samplers and schedulers as in ComfyUI (the conventions are schedules.py's).

Scheduler names -> diffusers settings, chosen to match what the same name does in ComfyUI:
- "normal": timestep_spacing="linspace": evenly spaced from the last training step down to step 0,
  both ends included (ComfyUI's normal is linspace(t_max, t_min, steps)).
- "simple": timestep_spacing="trailing": every N/steps-th step counted down from the last one
  (ComfyUI's simple takes every N/steps-th sigma from the top: identical timesteps).
- "sgm_uniform": also "trailing": ComfyUI's sgm_uniform is linspace(t_max, 0, steps + 1)[:-1], which
  equals trailing to within one training step (diffusers rounds to whole steps). "leading" (SD 1.x's
  default) is not offered: it never visits the noisiest step, so it starts from a noise level that pure
  noise does not have.
- "karras" / "exponential": use_karras_sigmas / use_exponential_sigmas (only where a scheduler has them).
For flow models the same names pick sigmas: normal = linspace(1, 1/N, steps), simple = sgm_uniform =
1 - k/steps; dpmpp_2m and unipc offer only their own flow grid (uniform from the top, named "simple").
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ....errors import TavidError
from ....limits import SAMPLERS, SCHEDULERS, is_whole
from ..common.flow import StepCallback, randn
from .guidance import check_weight
from .schedules import MAX_STEPS, DenoiseFn, beta_settings, import_diffusers, prediction_kind

_SPACING = {"normal": "linspace", "simple": "trailing", "sgm_uniform": "trailing"}
_SPACINGS = tuple(_SPACING)
_ALL = _SPACINGS + ("karras", "exponential")
# which schedulers each sampler can run, for diffusion ("diffusion": epsilon or v) and flow models.
# The first one is what "auto" picks: the most accurate on the Gaussian test (tests/engines/neural/sampling/),
# except that karras is preferred to exponential (exponential won there by a little, but a Gaussian has no
# fine detail at low noise, where karras spends its steps and where faces keep their texture).
_SUPPORT: dict[str, dict[str, tuple[str, ...]]] = {
    "ddim": {"diffusion": ("normal", "simple", "sgm_uniform"), "flow": ()},
    "euler": {"diffusion": ("karras", "normal", "simple", "sgm_uniform", "exponential"), "flow": ()},
    "euler_ancestral": {"diffusion": ("simple", "normal", "sgm_uniform"), "flow": ()},
    "dpmpp_2m": {"diffusion": ("karras", "normal", "simple", "sgm_uniform", "exponential"),
                 "flow": ("simple", "sgm_uniform")},
    "unipc": {"diffusion": ("karras", "normal", "simple", "sgm_uniform", "exponential"),
              "flow": ("simple", "sgm_uniform")},
    "flow_euler": {"diffusion": (), "flow": ("simple", "normal", "sgm_uniform", "karras", "exponential")},
}
_AUTO_SAMPLER = {"diffusion": "dpmpp_2m", "flow": "flow_euler"}


@dataclass(frozen=True)
class Sampling:
    """How to sample: names from SAMPLERS / SCHEDULERS ("auto" lets the model's prediction type choose),
    `steps` (1..1000), guidance weights (0 = none; see `nested_guidance`), `seed`, and `eta` (DDIM's
    stochasticity: 0 deterministic, 1 as noisy as DDPM; only ddim has it)."""

    sampler: str = "auto"
    scheduler: str = "auto"
    steps: int = 20
    cfg_identity: float = 0.0
    cfg_motion: float = 0.0
    seed: int = 0
    eta: float = 0.0

    def __post_init__(self) -> None:
        if self.sampler not in SAMPLERS:
            raise TavidError(f"unknown sampler {self.sampler!r}", where="sampler",
                             fix=f"Use one of {', '.join(SAMPLERS)}.")
        if self.scheduler not in SCHEDULERS:
            raise TavidError(f"unknown scheduler {self.scheduler!r}", where="scheduler",
                             fix=f"Use one of {', '.join(SCHEDULERS)}.")
        if not is_whole(self.steps) or not 1 <= self.steps <= MAX_STEPS:
            raise TavidError(f"steps must be a whole number from 1 to {MAX_STEPS}, got {self.steps!r}",
                             where="steps", fix="Use 20 to 30 steps (8 is enough for dpmpp_2m or unipc).")
        check_weight(self.cfg_identity, "cfg_identity")
        check_weight(self.cfg_motion, "cfg_motion")
        if not is_whole(self.seed) or not 0 <= self.seed < 2 ** 64:
            raise TavidError(f"seed must be a whole number from 0 to 2^64 - 1, got {self.seed!r}", where="seed",
                             fix="Use any non-negative whole number.")
        if isinstance(self.eta, bool) or not isinstance(self.eta, (int, float)) or not 0 <= self.eta <= 1:
            raise TavidError(f"eta must be a number from 0 to 1, got {self.eta!r}", where="eta",
                             fix="Use 0 (deterministic DDIM) up to 1 (as noisy as DDPM).")
        if self.eta and self.sampler not in ("auto", "ddim"):
            raise TavidError(f"the {self.sampler} sampler has no eta", where="eta",
                             fix="Set eta to 0, or use the ddim sampler for eta > 0.")
        # combinations no prediction type can run fail here already; the rest in resolve()
        if self.sampler != "auto" and self.scheduler != "auto" and not any(
                self.scheduler in kinds for kinds in _SUPPORT[self.sampler].values()):
            raise _combination_error(self.sampler, self.scheduler, None)

    def generator(self) -> torch.Generator:
        """A fresh CPU generator seeded with `seed` (CPU: the same noise on every device)."""
        return torch.Generator().manual_seed(self.seed)


def _combination_error(sampler: str, scheduler: str, kind: str | None) -> TavidError:
    kinds = [kind] if kind else ["diffusion", "flow"]
    works = sorted({s for k in kinds for s in _SUPPORT[sampler][k]}, key=SCHEDULERS.index)
    others = [name for name, support in _SUPPORT.items() if any(scheduler in support[k] for k in kinds)]
    model = {"flow": " for a flow-matching model", "diffusion": " for a diffusion model", None: ""}[kind]
    fix = f"With {sampler} use {', '.join(works + ['auto'])}"
    if others:
        fix += f"; {scheduler} works with {', '.join(others)}"
    return TavidError(f"the {sampler} sampler cannot use the {scheduler} scheduler{model}", where="scheduler",
                      fix=fix + ".")


def compatible_schedulers(sampler: str, prediction: str = "epsilon") -> tuple[str, ...]:
    """The scheduler names `sampler` can run for a model with this prediction type, the one "auto" picks
    first; empty when the sampler is not for such models (e.g. to grey out choices in a UI)."""
    kind = prediction_kind(prediction)
    if sampler == "auto":
        sampler = _AUTO_SAMPLER[kind]
    if sampler not in _SUPPORT:
        raise TavidError(f"unknown sampler {sampler!r}", where="sampler", fix=f"Use one of {', '.join(SAMPLERS)}.")
    return _SUPPORT[sampler][kind]


def resolve(sampling: Sampling, prediction: str = "epsilon") -> tuple[str, str]:
    """The concrete (sampler, scheduler) `sampling` means for a model with this prediction type:
    "auto" becomes dpmpp_2m (ddim when eta > 0) for epsilon / v models and flow_euler for flow models,
    and an "auto" scheduler the sampler's most accurate one."""
    kind = prediction_kind(prediction)
    sampler = sampling.sampler
    if sampler == "auto":
        sampler = "ddim" if sampling.eta and kind == "diffusion" else _AUTO_SAMPLER[kind]
    supported = _SUPPORT[sampler][kind]
    if not supported:
        fits = [name for name, support in _SUPPORT.items() if support[kind]]
        model = "flow-matching (velocity) models" if kind == "diffusion" else "epsilon / v-prediction models"
        raise TavidError(f"the {sampler} sampler is only for {model}, and this model predicts {prediction}",
                         where="sampler", fix=f"Use one of {', '.join(fits + ['auto'])}.")
    if sampling.eta and sampler != "ddim":
        raise TavidError(f"the {sampler} sampler has no eta", where="eta",
                         fix="Set eta to 0" + (", or use the ddim sampler for eta > 0." if kind == "diffusion"
                                                else " (flow models sample deterministically)."))
    scheduler = supported[0] if sampling.scheduler == "auto" else sampling.scheduler
    if scheduler not in supported:
        raise _combination_error(sampler, scheduler, kind)
    return sampler, scheduler


def scheduler_for(sampling: Sampling, *, prediction: str = "epsilon", num_train_timesteps: int = 1000,
                  beta_schedule: str = "scaled_linear", beta_start: float | None = None,
                  beta_end: float | None = None, device: torch.device | str = "cpu") -> Any:
    """The diffusers scheduler `sampling` names, configured for the model and with its timesteps set."""
    sampler, scheduler = resolve(sampling, prediction)
    if sampling.steps > num_train_timesteps:
        raise TavidError(f"{sampling.steps} steps exceed the model's {num_train_timesteps} training steps",
                         where="steps", fix=f"Use at most {num_train_timesteps} steps.")
    diffusers = import_diffusers()
    betas = beta_settings(num_train_timesteps, beta_schedule, beta_start, beta_end)
    flow = prediction == "flow"
    shapes = {"karras": {"use_karras_sigmas": True}, "exponential": {"use_exponential_sigmas": True}}
    config: dict[str, Any] = dict(shapes.get(scheduler, {"timestep_spacing": _SPACING.get(scheduler, "linspace")}))
    if sampler == "flow_euler":
        sched = diffusers.FlowMatchEulerDiscreteScheduler(num_train_timesteps=num_train_timesteps,
                                                          **shapes.get(scheduler, {}))
        if scheduler in ("simple", "sgm_uniform"):
            grid = torch.linspace(1.0, 0.0, sampling.steps + 1)[:-1].tolist()
            sched.set_timesteps(sigmas=grid, device=device)
        else:
            sched.set_timesteps(sampling.steps, device=device)
        return sched
    if flow:  # dpmpp_2m / unipc on their own flow grid
        config = dict(num_train_timesteps=num_train_timesteps, prediction_type="flow_prediction",
                      use_flow_sigmas=True, flow_shift=1.0)
    else:
        config.update(prediction_type=prediction, **betas)
    if sampler == "ddim":
        # clip_sample would clamp x0 to [-1, 1]: right for pixels, wrong for latents
        sched = diffusers.DDIMScheduler(clip_sample=False, set_alpha_to_one=True, **config)
    elif sampler == "euler":
        sched = diffusers.EulerDiscreteScheduler(**config)
    elif sampler == "euler_ancestral":
        sched = diffusers.EulerAncestralDiscreteScheduler(**config)
    elif sampler == "dpmpp_2m":
        sched = diffusers.DPMSolverMultistepScheduler(algorithm_type="dpmsolver++", solver_order=2, **config)
    else:
        sched = diffusers.UniPCMultistepScheduler(**config)
    sched.set_timesteps(sampling.steps, device=device)
    return sched


def sample(denoise_fn: DenoiseFn, shape: tuple[int, ...] | torch.Size, *, sampling: Sampling,
           prediction: str = "epsilon", num_train_timesteps: int = 1000, beta_schedule: str = "scaled_linear",
           beta_start: float | None = None, beta_end: float | None = None,
           generator: torch.Generator | None = None, device: torch.device | str = "cpu",
           on_step: StepCallback | None = None, init: torch.Tensor | None = None) -> torch.Tensor:
    """Draw samples `shape` (`[B, ...]`) by running the scheduler `sampling` names over `denoise_fn`.

    `denoise_fn(x, t)` gets float32 `x` `[B, ...]` (already scaled for the model) and `t` `[B]` float32,
    the scheduler's timestep, and returns the model's prediction (any float dtype; it is stepped in
    float32). Noise comes from `generator` (a CPU generator; default `sampling.generator()`) and is
    moved to `device`, so a seed gives the same result on every device; the ancestral sampler and ddim
    with eta > 0 draw their per-step noise from it too. `init` replaces the starting noise (standard
    normal, `shape`), e.g. to share noise between windows. `on_step(done, total)` runs after each step
    (progress, interrupts: it may raise). Returns float32 `[B, ...]`."""
    if generator is None:
        generator = sampling.generator()
    elif generator.device.type != "cpu":
        raise ValueError("sample() needs a CPU torch.Generator (same noise on every device)")
    sampler, _ = resolve(sampling, prediction)
    sched = scheduler_for(sampling, prediction=prediction, num_train_timesteps=num_train_timesteps,
                          beta_schedule=beta_schedule, beta_start=beta_start, beta_end=beta_end, device=device)
    if init is not None:
        if tuple(init.shape) != tuple(shape):
            raise ValueError(f"init has shape {tuple(init.shape)}, expected {tuple(shape)}")
        noise = init.to(device=device, dtype=torch.float32)
    else:
        noise = randn(shape, generator, device)
    x = noise * getattr(sched, "init_noise_sigma", 1.0)  # flow: pure noise at sigma 1
    batch = x.shape[0]
    step_kwargs: dict[str, Any] = {}
    if sampler == "ddim":
        step_kwargs = {"eta": float(sampling.eta), "generator": generator}
    elif sampler == "euler_ancestral":
        step_kwargs = {"generator": generator}
    scale = getattr(sched, "scale_model_input", None)
    timesteps = sched.timesteps
    total = len(timesteps)
    for i, t in enumerate(timesteps):
        x_in = scale(x, t) if scale is not None else x
        out = denoise_fn(x_in, t.to(device=device, dtype=torch.float32).expand(batch)).float()
        x = sched.step(out, t, x, return_dict=False, **step_kwargs)[0].float()
        if on_step is not None:
            on_step(i + 1, total)
    return x

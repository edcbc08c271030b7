"""Sampling for the face diffusion model: diffusers schedulers chosen by ComfyUI's names.

`sample()` runs one of SAMPLERS ("ddim", "euler", "euler_ancestral", "dpmpp_2m", "unipc", "flow_euler")
on the noise levels of one of SCHEDULERS ("normal", "karras", "exponential", "sgm_uniform", "simple"),
so an artist can swap them as in ComfyUI. Inside ComfyUI, `sample_with_sigmas()` lets ComfyUI's own
SAMPLER (KSamplerSelect) and SIGMAS (BasicScheduler ...) drive our model instead, through
`k_diffusion_model()`, which speaks the k-diffusion convention those samplers expect.

Conventions (the model's training must use the same ones; `noised()` is that forward process):
- "epsilon" / "v_prediction": discrete variance-preserving diffusion with `num_train_timesteps` steps,
  `x_t = sqrt(a_t) x0 + sqrt(1 - a_t) n` (a = alphas_cumprod); the network sees `t` in [0, N-1] and
  predicts `n` ("epsilon") or `sqrt(a_t) n - sqrt(1 - a_t) x0` ("v_prediction").
- "flow": rectified flow as in diffusers / SD3, `x = (1 - s) x0 + s n` with s in [0, 1] (s = 1 is pure
  noise), `t = s * N`, and the network predicts `n - x0`. (The speech side's flow.py runs time the other
  way: its t is `1 - s` and its velocity `x0 - n`.)

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

diffusers (>= 0.32: flow_prediction in DPM-Solver and UniPC, exponential sigmas) is imported inside the
functions that use it, because importing it takes seconds and ComfyUI's start-up must stay fast.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import torch

from ...errors import TavidError
from ...limits import SAMPLERS, SCHEDULERS
from .flow import StepCallback, randn, tile

PREDICTIONS = ("epsilon", "v_prediction", "flow")
BETA_SCHEDULES = ("scaled_linear", "linear", "squaredcos_cap_v2")
# (beta_start, beta_end) a schedule means when the model config does not say: SD's for scaled_linear,
# DDPM's for linear (the cosine schedule has no range)
_BETA_RANGE = {"scaled_linear": (0.00085, 0.012), "linear": (0.0001, 0.02), "squaredcos_cap_v2": (0.0001, 0.02)}
GUIDANCE_PASSES = ("uncond", "identity", "full")
MAX_STEPS = 1000

DenoiseFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
# fn(x [k*B, ...], t [k*B], passes) -> output; passes is a subset of GUIDANCE_PASSES in that order
BatchedDenoiseFn = Callable[[torch.Tensor, torch.Tensor, tuple[str, ...]], torch.Tensor]

_SPACING = {"normal": "linspace", "simple": "trailing", "sgm_uniform": "trailing"}
_SPACINGS = tuple(_SPACING)
_ALL = _SPACINGS + ("karras", "exponential")
# which schedulers each sampler can run, for diffusion ("diffusion": epsilon or v) and flow models.
# The first one is what "auto" picks: the most accurate on the Gaussian test (tests/test_neural_sampling.py),
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


MIN_DIFFUSERS = (0, 32)  # flow sigmas in DPM-Solver / UniPC, karras & exponential in FlowMatch, fixed exponential


def _diffusers() -> Any:
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


def _kind(prediction: str) -> str:
    if prediction not in PREDICTIONS:
        raise TavidError(f"unknown prediction type {prediction!r}", where="prediction",
                         fix=f"Use one of {', '.join(PREDICTIONS)} (what the model was trained to predict).")
    return "flow" if prediction == "flow" else "diffusion"


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_weight(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise TavidError(f"{where} must be a number of at least 0, got {value!r}", where=where,
                         fix="Use 0 for no guidance; 1 to 5 is typical.")
    return float(value)


@dataclass(frozen=True)
class Sampling:
    """How to sample: names from SAMPLERS / SCHEDULERS ("auto" lets the model's prediction type choose),
    `steps` (1..1000), guidance weights (0 = none; see `guided`), `seed`, and `eta` (DDIM's
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
        if not _whole(self.steps) or not 1 <= self.steps <= MAX_STEPS:
            raise TavidError(f"steps must be a whole number from 1 to {MAX_STEPS}, got {self.steps!r}",
                             where="steps", fix="Use 20 to 30 steps (8 is enough for dpmpp_2m or unipc).")
        _check_weight(self.cfg_identity, "cfg_identity")
        _check_weight(self.cfg_motion, "cfg_motion")
        if not _whole(self.seed) or not 0 <= self.seed < 2 ** 64:
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
    kind = _kind(prediction)
    if sampler == "auto":
        sampler = _AUTO_SAMPLER[kind]
    if sampler not in _SUPPORT:
        raise TavidError(f"unknown sampler {sampler!r}", where="sampler", fix=f"Use one of {', '.join(SAMPLERS)}.")
    return _SUPPORT[sampler][kind]


def resolve(sampling: Sampling, prediction: str = "epsilon") -> tuple[str, str]:
    """The concrete (sampler, scheduler) `sampling` means for a model with this prediction type:
    "auto" becomes dpmpp_2m (ddim when eta > 0) for epsilon / v models and flow_euler for flow models,
    and an "auto" scheduler the sampler's most accurate one."""
    kind = _kind(prediction)
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


def _betas(num_train_timesteps: int, beta_schedule: str, beta_start: float | None,
           beta_end: float | None) -> dict[str, Any]:
    if beta_schedule not in BETA_SCHEDULES:
        raise TavidError(f"unknown beta schedule {beta_schedule!r}", where="beta_schedule",
                         fix=f"Use one of {', '.join(BETA_SCHEDULES)}.")
    if not _whole(num_train_timesteps) or num_train_timesteps < 2:
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
    betas = _betas(num_train_timesteps, beta_schedule, beta_start, beta_end)
    return _diffusers().DDPMScheduler(**betas).alphas_cumprod.float()


def noised(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor, *, prediction: str,
           alphas_cumprod: torch.Tensor | None = None,
           num_train_timesteps: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
    """The forward process the samplers invert: `(x_t, target)` for training at timesteps `t` `[B]`
    (integers in [0, N-1] for epsilon / v with their `alphas_cumprod`; floats in [0, N] for flow)."""
    kind = _kind(prediction)
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


def scheduler_for(sampling: Sampling, *, prediction: str = "epsilon", num_train_timesteps: int = 1000,
                  beta_schedule: str = "scaled_linear", beta_start: float | None = None,
                  beta_end: float | None = None, device: torch.device | str = "cpu") -> Any:
    """The diffusers scheduler `sampling` names, configured for the model and with its timesteps set."""
    sampler, scheduler = resolve(sampling, prediction)
    if sampling.steps > num_train_timesteps:
        raise TavidError(f"{sampling.steps} steps exceed the model's {num_train_timesteps} training steps",
                         where="steps", fix=f"Use at most {num_train_timesteps} steps.")
    diffusers = _diffusers()
    betas = _betas(num_train_timesteps, beta_schedule, beta_start, beta_end)
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


# ----------------------------------------------------------------------------- guidance

def guidance_passes(cfg_identity: float, cfg_motion: float) -> tuple[str, ...]:
    """The forward passes `guided` needs: the full condition always, plus what a non-zero weight uses."""
    wi = _check_weight(cfg_identity, "cfg_identity")
    wm = _check_weight(cfg_motion, "cfg_motion")
    if wi:
        return GUIDANCE_PASSES
    return ("identity", "full") if wm else ("full",)


def guided(denoise_batched: BatchedDenoiseFn, cfg_identity: float, cfg_motion: float) -> DenoiseFn:
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


# ----------------------------------------------------------------------------- ComfyUI SAMPLER / SIGMAS

class _ComfyView:
    """The attribute paths ComfyUI's ancestral samplers read off the model they are given
    (`model.inner_model.inner_model.model_sampling`, `model.inner_model.model_patcher.get_model_object(
    "model_sampling")`), all leading back to the owner's `model_sampling`."""

    def __init__(self, owner: "KDiffusionModel"):
        self._owner = owner

    @property
    def inner_model(self) -> "_ComfyView":
        return self

    @property
    def model_patcher(self) -> "_ComfyView":
        return self

    @property
    def model_sampling(self) -> Any:
        return self._owner.model_sampling

    def get_model_object(self, name: str) -> Any:
        return getattr(self._owner, name)


class KDiffusionModel:
    """Our model as a k-diffusion denoiser: `model(x, sigma [B], **extra) -> denoised x0 estimate`.

    Epsilon / v models: `x = x0 + sigma * n` (sigma^2 = (1 - a) / a); the network sees `x / sqrt(1 +
    sigma^2)` at the (fractional) timestep whose training sigma is `sigma`, interpolated in log sigma.
    Flow models: as in ComfyUI, `x = (1 - sigma) x0 + sigma n` with sigma in [0, 1] and `t = sigma * N`,
    and denoised = x - sigma * v. Extra keyword arguments (ComfyUI passes `seed`, `model_options`) are
    ignored. `model_sampling` (this object by default: sigma_min, sigma_max, sigmas, timestep(), sigma(),
    percent_to_sigma()) is what ComfyUI's samplers inspect; a ComfyUI node may set a comfy model_sampling
    object there (its ancestral samplers switch to rectified-flow formulas only for comfy's CONST)."""

    def __init__(self, denoise_fn: DenoiseFn, prediction: str, alphas_cumprod: torch.Tensor | None = None,
                 num_train_timesteps: int = 1000):
        self.kind = _kind(prediction)
        self.prediction = prediction
        self.denoise_fn = denoise_fn
        if self.kind == "flow":
            n = num_train_timesteps
            self.sigmas = torch.arange(1, n + 1, dtype=torch.float64) / n
        else:
            if alphas_cumprod is None:
                raise TavidError("a diffusion model needs its alphas_cumprod", where="alphas_cumprod",
                                 fix="Pass noise_schedule(...) of the model's schedule.")
            a = alphas_cumprod.detach().double().cpu()
            self.sigmas = ((1 - a) / a).sqrt()
        self.log_sigmas = self.sigmas.log()
        self.num_train_timesteps = len(self.sigmas) if self.kind != "flow" else num_train_timesteps
        self.model_sampling: Any = self
        self.inner_model = _ComfyView(self)

    @property
    def sigma_min(self) -> torch.Tensor:
        return self.sigmas[0].float()

    @property
    def sigma_max(self) -> torch.Tensor:
        return self.sigmas[-1].float()

    def timestep(self, sigma: torch.Tensor) -> torch.Tensor:
        """The model timestep of noise level `sigma` (float, clamped to the trained range)."""
        sigma = torch.as_tensor(sigma, dtype=torch.float64)
        if self.kind == "flow":
            return (sigma * self.num_train_timesteps).float()
        logs = self.log_sigmas.to(sigma.device)
        ls = sigma.clamp(min=1e-30).log()
        hi = torch.searchsorted(logs, ls.contiguous()).clamp(1, len(logs) - 1)
        lo = hi - 1
        w = ((ls - logs[lo]) / (logs[hi] - logs[lo])).clamp(0, 1)
        return (lo + w).float()

    def sigma(self, timestep: torch.Tensor) -> torch.Tensor:
        """The noise level at (fractional) `timestep`."""
        t = torch.as_tensor(timestep, dtype=torch.float64)
        if self.kind == "flow":
            return (t / self.num_train_timesteps).float()
        t = t.clamp(0, len(self.log_sigmas) - 1)
        lo = t.floor().long().clamp(max=len(self.log_sigmas) - 2)
        w = t - lo
        logs = self.log_sigmas.to(t.device)
        return ((1 - w) * logs[lo] + w * logs[lo + 1]).exp().float()

    def percent_to_sigma(self, percent: float) -> float:
        """ComfyUI's percent of the schedule done -> sigma (0 -> the top, 1 -> 0)."""
        if percent <= 0:
            return 1.0 if self.kind == "flow" else 999999999.9
        if percent >= 1:
            return 0.0
        return float(self.sigma(torch.tensor((1 - percent) * (self.num_train_timesteps - 1 if self.kind != "flow"
                                                              else self.num_train_timesteps))))

    def noise_scale(self, sigma: float) -> float:
        """Std of pure noise at `sigma`, for unit-variance data (ComfyUI's full-denoise scaling)."""
        return float(sigma) if self.kind == "flow" else math.sqrt(1.0 + float(sigma) ** 2)

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, **extra: Any) -> torch.Tensor:
        sigma = torch.as_tensor(sigma, device=x.device, dtype=torch.float32)
        if sigma.dim() == 0:
            sigma = sigma.expand(x.shape[0])
        s = sigma.view(-1, *([1] * (x.dim() - 1)))
        t = self.timestep(sigma.double()).to(x.device)
        xf = x.float()
        if self.kind == "flow":
            return (xf - s * self.denoise_fn(x, t).float()).to(x.dtype)
        c_in = (1 + s * s).rsqrt()
        out = self.denoise_fn((xf * c_in).to(x.dtype), t).float()
        if self.prediction == "epsilon":
            return (xf - s * out).to(x.dtype)
        return (xf * c_in * c_in - s * c_in * out).to(x.dtype)


def k_diffusion_model(denoise_fn: DenoiseFn, prediction: str, alphas_cumprod: torch.Tensor | None = None,
                      num_train_timesteps: int = 1000) -> KDiffusionModel:
    """`denoise_fn` (the same one `sample` takes) as the model ComfyUI's / k-diffusion's samplers call.
    `alphas_cumprod` (from `noise_schedule`) is required for epsilon / v models, unused for flow."""
    return KDiffusionModel(denoise_fn, prediction, alphas_cumprod, num_train_timesteps)


def noise_levels(prediction: str, num_train_timesteps: int = 1000, beta_schedule: str = "scaled_linear") -> KDiffusionModel:
    """The schedule part of `k_diffusion_model` (sigma_min, sigma_max, sigmas, timestep(), sigma()): what
    ComfyUI's scheduler nodes read from a model's `model_sampling` to make SIGMAS."""
    alphas = None if _kind(prediction) == "flow" else noise_schedule(num_train_timesteps, beta_schedule)
    return KDiffusionModel(_no_network, prediction, alphas, num_train_timesteps)


def _no_network(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    raise TavidError("this is only a noise schedule; it has no network to denoise with", where="model",
                     fix="Connect it to a scheduler node, not to a sampler.")


# sampler_fn(model, x, sigmas, extra_args=..., callback=..., disable=...) -> x: a k-diffusion sampler,
# e.g. functools.partial(ksampler.sampler_function, **ksampler.extra_options) from ComfyUI's SAMPLER
KSamplerFn = Callable[..., torch.Tensor]


def sample_with_sigmas(denoise_fn: DenoiseFn, shape: tuple[int, ...] | torch.Size, sigmas: torch.Tensor,
                       sampler_fn: KSamplerFn, *, prediction: str = "epsilon",
                       alphas_cumprod: torch.Tensor | None = None, num_train_timesteps: int = 1000,
                       beta_schedule: str = "scaled_linear", beta_start: float | None = None,
                       beta_end: float | None = None, seed: int = 0, generator: torch.Generator | None = None,
                       device: torch.device | str = "cpu", on_step: StepCallback | None = None,
                       init: torch.Tensor | None = None,
                       extra_args: Mapping[str, Any] | None = None) -> torch.Tensor:
    """Sample with a k-diffusion-style `sampler_fn` over the noise levels `sigmas` (descending, usually
    ending in 0: ComfyUI's SIGMAS). Starting noise comes from `generator` (default: CPU, seeded with
    `seed`) scaled to pure noise at `sigmas[0]`; `seed` is also passed in `extra_args` because ComfyUI's
    samplers draw their own per-step noise from it. `on_step(done, total)` runs after each step.
    Without `alphas_cumprod`, the schedule is built from `num_train_timesteps` / `beta_*`."""
    kind = _kind(prediction)
    if kind != "flow" and alphas_cumprod is None:
        alphas_cumprod = noise_schedule(num_train_timesteps, beta_schedule, beta_start, beta_end)
    sigmas = torch.as_tensor(sigmas, dtype=torch.float32)
    if sigmas.dim() != 1 or len(sigmas) < 2 or not torch.isfinite(sigmas).all() or (sigmas < 0).any() \
            or (sigmas[1:] > sigmas[:-1]).any():
        raise TavidError("sigmas must be a descending list of at least 2 noise levels >= 0", where="sigmas",
                         fix="Connect a scheduler node's SIGMAS (e.g. BasicScheduler) unchanged.")
    if kind == "flow" and sigmas[0] > 1:
        raise TavidError(f"a flow model's sigmas lie in [0, 1], got {float(sigmas[0]):.3g}", where="sigmas",
                         fix="Use a scheduler made for flow models (e.g. simple or normal on a flow model).")
    model = k_diffusion_model(denoise_fn, prediction, alphas_cumprod, num_train_timesteps)
    if init is not None:
        if tuple(init.shape) != tuple(shape):
            raise ValueError(f"init has shape {tuple(init.shape)}, expected {tuple(shape)}")
        noise = init.to(device=device, dtype=torch.float32)
    else:
        noise = randn(shape, generator or torch.Generator().manual_seed(seed), device)
    x = noise * model.noise_scale(float(sigmas[0]))
    sigmas = sigmas.to(device)
    total = len(sigmas) - 1

    def callback(info: Mapping[str, Any]) -> None:
        if on_step is not None:
            on_step(int(info["i"]) + 1, total)

    args = {"seed": seed, **(extra_args or {})}
    return sampler_fn(model, x, sigmas, extra_args=args, callback=callback, disable=True).float()

"""Inside ComfyUI, `sample_with_sigmas()` lets ComfyUI's own SAMPLER (KSamplerSelect) and SIGMAS (BasicScheduler
...) drive our model instead of a diffusers scheduler, through `k_diffusion_model()`, which speaks the
k-diffusion convention those samplers expect (denoised output for a noise level sigma). The model's own
conventions are schedules.py's.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Mapping

import torch

from ....errors import TavidError
from ..common.flow import StepCallback, randn
from .schedules import DenoiseFn, noise_schedule, prediction_kind


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
        self.kind = prediction_kind(prediction)
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
    alphas = None if prediction_kind(prediction) == "flow" else noise_schedule(num_train_timesteps, beta_schedule)
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
    kind = prediction_kind(prediction)
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

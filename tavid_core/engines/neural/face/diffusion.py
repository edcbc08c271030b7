"""Training and sampling of the face denoiser, independent of where frames and conditions come from.

Training (`diffusion_loss`): a window of a person's latents is noised at a random timestep (the forward
process of sampling.noised, so training and every scheduler agree); a share of the rows gets its first
`overlap` frames as the prompt, as every window after the first does at sampling; identity and motion are
dropped independently for classifier-free guidance. The loss counts every frame, prompt frames too: the
network learns to reproduce its prompt, so the cross-fade at a join blends two near-equal versions.

Sampling (`WindowSampler`): any number of frames in windows of `window` frames; each window after the first
is prompted with the previous window's last `overlap` latents and its version of them cross-faded in
(common/windows.py). Two anchors keep long videos from drifting: identity (every window sees the same reference
latent, never the previous window's appearance alone) and colour (`anchor_colour`: the per-channel mean
of every window's latents is pulled to that of the first window, which is generated from the reference
alone; the slow drift of a latent's mean is what a colour cast is). Only one window's tensors are on the
device at a time.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator

import torch
import torch.nn.functional as F

from ..common.flow import StepCallback, rand, randn, tile
from ..common.windows import prompt_batch, windowed, windows
from ..sampling.guidance import nested_guidance
from ..sampling.kdiffusion import sample_with_sigmas
from ..sampling.schedulers import Sampling, sample
from ..sampling.schedules import noise_schedule, noised
from .denoiser import FaceDenoiser

DROPS = {"uncond": (True, True), "identity": (False, True), "full": (False, False)}  # (identity, motion)
COLOUR_ANCHOR = 1.0   # share of a window's mean latent drift from the first window that is taken back


@dataclass
class FaceBatch:
    """Training windows: `latents` `[B, T, C, h, w]`, `reference` `[B, C, h, w]`, `maps` `[B, T, 4, 8h, 8w]`,
    `motion` `[B, T, M]` (scaled latents; maps and motion as the sampler draws them)."""

    latents: torch.Tensor
    reference: torch.Tensor
    maps: torch.Tensor
    motion: torch.Tensor

    def to(self, device: torch.device | str) -> "FaceBatch":
        return FaceBatch(*(v.to(device) for v in (self.latents, self.reference, self.maps, self.motion)))


def training_timesteps(net: FaceDenoiser, batch: int, generator: torch.Generator,
                       device: torch.device | str) -> torch.Tensor:
    """Uniform timesteps: whole steps 0..N-1 for a diffusion model, continuous 0..N for a flow model."""
    n = net.cfg.num_train_timesteps
    u = rand((batch,), generator, device)
    return u * n if net.cfg.prediction == "flow" else (u * n).floor().clamp(max=n - 1)


def diffusion_loss(net: FaceDenoiser, batch: FaceBatch, generator: torch.Generator, *, p_prompt: float = 0.5,
                   p_drop_identity: float = 0.1, p_drop_motion: float = 0.1,
                   alphas_cumprod: torch.Tensor | None = None,
                   timesteps: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """Mean squared error of the denoiser's prediction on one batch, and values to log."""
    cfg = net.cfg
    x0 = batch.latents
    b, frames = x0.shape[:2]
    device = x0.device
    if cfg.prediction != "flow" and alphas_cumprod is None:
        alphas_cumprod = noise_schedule(cfg.num_train_timesteps, cfg.beta_schedule)
    t = training_timesteps(net, b, generator, device) if timesteps is None else timesteps.to(device)
    noise = randn(x0.shape, generator, device)
    x_t, target = noised(x0, noise, t, prediction=cfg.prediction, alphas_cumprod=alphas_cumprod,
                         num_train_timesteps=cfg.num_train_timesteps)
    with_prompt = rand((b,), generator, device) < p_prompt
    prompt_mask = with_prompt[:, None] & (torch.arange(frames, device=device)[None] < cfg.overlap)
    drop_identity = rand((b,), generator, device) < p_drop_identity
    drop_motion = rand((b,), generator, device) < p_drop_motion
    out = net(x_t, t, batch.reference, batch.maps, batch.motion, x0, prompt_mask, drop_identity, drop_motion)
    loss = F.mse_loss(out.float(), target.float())
    return loss, {"diffusion": float(loss.detach())}


def anchor_colour(latents: torch.Tensor, anchor: torch.Tensor | None, strength: float = COLOUR_ANCHOR) -> torch.Tensor:
    """`latents` `[T, C, h, w]` with their per-channel mean moved `strength` of the way to `anchor` `[C]`
    (None: unchanged). The mean over the whole window, so motion within it is untouched."""
    if anchor is None or strength == 0:
        return latents
    drift = latents.mean(dim=(0, 2, 3)) - anchor.to(latents.device)
    return latents - strength * drift[None, :, None, None]


@dataclass(frozen=True)
class CustomSampler:
    """ComfyUI's own SAMPLER (a k-diffusion sampler function) and SIGMAS, used instead of a scheduler."""

    sampler_fn: Callable[..., torch.Tensor]
    sigmas: torch.Tensor


# conditions of one window: maps [T, 4, H, W] and motion [T, M], on the CPU
WindowConditions = Callable[[int, int], tuple[torch.Tensor, torch.Tensor]]


class WindowSampler:
    """Generates one person's latents window by window (see the module docstring)."""

    def __init__(self, net: FaceDenoiser, reference: torch.Tensor, *, sampling: Sampling,
                 custom: CustomSampler | None = None, precision: torch.dtype = torch.float32,
                 autocast: Callable[[], Any] | None = None):
        self.net, self.cfg = net, net.cfg
        self.device = next(net.parameters()).device
        self.reference = reference.to(self.device, torch.float32)[None]   # [1, C, h, w]
        self.sampling, self.custom = sampling, custom
        self.autocast = autocast
        self.generator = sampling.generator()
        self.alphas = None if self.cfg.prediction == "flow" else noise_schedule(self.cfg.num_train_timesteps,
                                                                                 self.cfg.beta_schedule)

    def spans(self, frames: int) -> list[tuple[int, int]]:
        return windows(frames, self.cfg.window, self.cfg.overlap)

    def steps_per_window(self) -> int:
        return len(self.custom.sigmas) - 1 if self.custom is not None else self.sampling.steps

    def latents(self, frames: int, conditions: WindowConditions,
                on_step: StepCallback | None = None) -> Iterator[tuple[int, torch.Tensor]]:
        """(first frame, final latents `[n, C, h, w]` on the CPU) for consecutive runs of frames covering
        0..frames. A window's overlap frames are only final after the next window's cross-fade, so each
        run ends where the next window's prompt begins."""
        anchor: list[torch.Tensor] = []     # the first window's mean latent, once it exists

        def make(index: int, start: int, stop: int, tail: torch.Tensor | None, step: StepCallback) -> torch.Tensor:
            x = anchor_colour(self._window(*conditions(start, stop), tail, step), anchor[0] if anchor else None)
            if not anchor:
                anchor.append(x.mean(dim=(0, 2, 3)))
            return x

        yield from windowed(frames, self.cfg.window, self.cfg.overlap, make, steps=self.steps_per_window(),
                            on_step=on_step)

    @torch.no_grad()
    def _window(self, maps: torch.Tensor, motion: torch.Tensor, tail: torch.Tensor | None,
                on_step: StepCallback) -> torch.Tensor:
        cfg, device = self.cfg, self.device
        frames = maps.shape[0]
        h, w = self.reference.shape[-2:]
        shape = (1, frames, cfg.latent_channels, h, w)
        prompt, prompt_mask = prompt_batch(tail, shape[1:], device)
        maps_d, motion_d = maps[None].to(device), motion[None].to(device)

        def batched(x: torch.Tensor, t: torch.Tensor, passes: tuple[str, ...]) -> torch.Tensor:
            k = len(passes)
            drops = torch.tensor([DROPS[p] for p in passes], device=device).repeat_interleave(x.shape[0] // k, 0)
            context = self.autocast() if self.autocast is not None else torch.autocast("cpu", enabled=False)
            with context:
                return self.net(x, t, tile(self.reference, k), tile(maps_d, k), tile(motion_d, k), tile(prompt, k),
                                tile(prompt_mask, k), drops[:, 0], drops[:, 1])

        denoise = nested_guidance(batched, self.sampling.cfg_identity, self.sampling.cfg_motion)
        noise = randn(shape, self.generator, "cpu")
        if self.custom is not None:
            x = sample_with_sigmas(denoise, shape, self.custom.sigmas, self.custom.sampler_fn,
                                   prediction=cfg.prediction, alphas_cumprod=self.alphas,
                                   num_train_timesteps=cfg.num_train_timesteps, seed=self.sampling.seed,
                                   generator=self.generator, device=device, on_step=on_step, init=noise)
        else:
            x = sample(denoise, shape, sampling=self.sampling, prediction=cfg.prediction,
                       num_train_timesteps=cfg.num_train_timesteps, beta_schedule=cfg.beta_schedule,
                       generator=self.generator, device=device, on_step=on_step, init=noise)
        return x[0].float().cpu()

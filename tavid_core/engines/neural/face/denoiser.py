"""The face diffusion model's denoiser: a small video UNet over VAE latents.

One call denoises a window of frames of one person, `x` `[B, T, C, h, w]`, at diffusion timestep `t`.
What steers it (docs/architecture.md has the whole picture):
- identity: the reference photo's latent, concatenated to every frame's input AND attended to: at every
  attention level the spatial attention's keys and values are the frame's own tokens plus the
  reference's tokens at that resolution (a light "reference attention": the face's appearance is
  looked up in the photo instead of being remembered);
- motion: the motion maps (MAP_CHANNELS, drawn at frame resolution) through a strided encoder added to
  the stem, and the per-frame motion vector (pose, expression, codes) added to the time embedding that
  modulates every residual block;
- temporal continuity: `prompt` frames, clean latents of the previous window's last frames, given in
  extra input channels with a flag; temporal attention (rotary positions over the window) lets every
  frame see them.
Both conditions can be dropped per row (`drop_identity`, `drop_motion`) for classifier-free guidance;
the prompt never is (continuity is not something to guide away from).

Layout: levels of `layers_per_level` residual blocks (GroupNorm, FiLM from the frame's embedding), each
followed at attention levels by a spatial and a temporal transformer unit; stride-2 convolutions down,
nearest upsampling and a convolution up, one skip per level. The output convolution starts at zero.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ....errors import TavidError
from ....types import EXPR_CHANNELS
from ..common.configs import SavedConfig, check_preset
from ..common.layers import Attention, FeedForward, TimestepEmbedding, rotary
from ..sampling.schedules import BETA_SCHEDULES, PREDICTIONS
from .motion_maps import MAP_CHANNELS

POSE_WIDTH = 6
VAE_KINDS = ("own", "sd1", "sdxl")


@dataclass(frozen=True)
class FaceDiffusionConfig(SavedConfig):
    """The denoiser's shape and how it was trained. `channels` has one width per level (each level but the
    last halves the latent grid); `attention` says which levels have spatial + temporal attention.
    `window` frames are denoised together, the first `overlap` of them given from the previous window."""

    name: str = "base"
    latent_channels: int = 4
    channels: tuple[int, ...] = (128, 256, 512)
    attention: tuple[bool, ...] = (False, True, True)
    layers_per_level: int = 2
    head_dim: int = 64
    norm_groups: int = 32
    emb_dim: int = 512
    code_dim: int = 0                 # width of Motion.codes it reads (0: none)
    window: int = 16
    overlap: int = 4
    prediction: str = "v_prediction"
    num_train_timesteps: int = 1000
    beta_schedule: str = "scaled_linear"
    vae: str = "own"                  # "own": the checkpoint's FaceVAE; "sd1"/"sdxl": a Stable Diffusion VAE
    train_size: int = 512             # the face size it was trained at (it runs at any multiple of `multiple`)

    def __post_init__(self):
        where = f"face config {self.name}"
        levels = len(self.channels)
        if levels < 1 or len(self.attention) != levels:
            raise TavidError("channels and attention need one entry per level", where=where)
        if any(c <= 0 or c % self.norm_groups or c % self.head_dim for c in self.channels):
            raise TavidError(f"channels {self.channels} must be multiples of norm_groups {self.norm_groups} and "
                             f"head_dim {self.head_dim}", where=where)
        if not 0 <= self.overlap < self.window:
            raise TavidError(f"overlap {self.overlap} must be below the window {self.window}", where=where)
        if self.prediction not in PREDICTIONS or self.beta_schedule not in BETA_SCHEDULES:
            raise TavidError(f"unknown prediction {self.prediction!r} or beta schedule {self.beta_schedule!r}",
                             where=where)
        if self.vae not in VAE_KINDS:
            raise TavidError(f"vae must be one of {', '.join(VAE_KINDS)}, got {self.vae!r}", where=where)

    @property
    def motion_width(self) -> int:
        return POSE_WIDTH + len(EXPR_CHANNELS) + self.code_dim

    @property
    def multiple(self) -> int:
        """Face sizes must be multiples of this: the VAE's 8 times the UNet's halvings."""
        return 8 * 2 ** (len(self.channels) - 1)


def face_config(preset: str, **overrides) -> FaceDiffusionConfig:
    """tiny (tests, 64 px), small (CPU demos, 256 px) or base (512 px on a GPU)."""
    check_preset(preset)
    presets = {
        "tiny": dict(name="tiny", channels=(32, 64), attention=(True, True), layers_per_level=1, head_dim=16,
                     norm_groups=8, emb_dim=64, window=8, overlap=2, train_size=64),
        "small": dict(name="small", channels=(64, 128, 256), head_dim=32, norm_groups=16, emb_dim=256,
                      window=12, overlap=3, train_size=256),
        "base": dict(name="base"),
    }
    return FaceDiffusionConfig(**{**presets[preset], **overrides})


class ResBlock(nn.Module):
    """GroupNorm, SiLU, conv twice, with a per-frame FiLM (scale, shift) from the embedding before the second."""

    def __init__(self, cin: int, cout: int, emb_dim: int, groups: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=1e-6)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.film = nn.Linear(emb_dim, 2 * cout)
        self.norm2 = nn.GroupNorm(groups, cout, eps=1e-6)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.film(F.silu(emb))[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        return self.skip(x) + self.conv2(F.silu(h))


class SpatialUnit(nn.Module):
    """Attention over a frame's tokens and the reference's tokens (identity), then a feed-forward."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.ff_norm = nn.LayerNorm(dim, eps=1e-6)
        self.ff = FeedForward(dim, 2.0)

    def forward(self, x: torch.Tensor, ref: torch.Tensor, ref_keep: torch.Tensor) -> torch.Tensor:
        """`x` `[N, c, h, w]` (N = B*T frames), `ref` `[N, c, h, w]` the reference at this level, `ref_keep`
        `[N]` bool: False drops the reference's tokens from the keys (identity dropped)."""
        n, c, h, w = x.shape
        tokens = x.flatten(2).transpose(1, 2)
        q = self.norm(tokens)
        kv = torch.cat([q, self.norm(ref.flatten(2).transpose(1, 2))], dim=1)
        keep = torch.cat([torch.ones(n, h * w, dtype=torch.bool, device=x.device),
                          ref_keep[:, None].expand(n, h * w)], dim=1)
        tokens = tokens + self.attn(q, context=kv, context_mask=keep)
        tokens = tokens + self.ff(self.ff_norm(tokens))
        return tokens.transpose(1, 2).reshape(n, c, h, w)


class TemporalUnit(nn.Module):
    """Attention along time at every spatial position (rotary positions over the window). Its output
    projection starts at zero, so an untrained unit leaves the frames independent."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.head_dim = dim // heads
        nn.init.zeros_(self.attn.to_out.weight)
        nn.init.zeros_(self.attn.to_out.bias)

    def forward(self, x: torch.Tensor, frames: int) -> torch.Tensor:
        n, c, h, w = x.shape
        b = n // frames
        seq = x.view(b, frames, c, h * w).permute(0, 3, 1, 2).reshape(b * h * w, frames, c)
        seq = seq + self.attn(self.norm(seq), rope=rotary(frames, self.head_dim, x.device))
        return seq.view(b, h * w, frames, c).permute(0, 2, 3, 1).reshape(n, c, h, w)


class Level(nn.Module):
    """`blocks` residual blocks, each followed by a spatial and a temporal unit at attention levels."""

    def __init__(self, cin: int, cout: int, blocks: int, attention: bool, cfg: FaceDiffusionConfig):
        super().__init__()
        heads = cout // cfg.head_dim
        self.res = nn.ModuleList(ResBlock(cin if i == 0 else cout, cout, cfg.emb_dim, cfg.norm_groups)
                                 for i in range(blocks))
        self.spatial = nn.ModuleList(SpatialUnit(cout, heads) for _ in range(blocks)) if attention else None
        self.temporal = nn.ModuleList(TemporalUnit(cout, heads) for _ in range(blocks)) if attention else None

    def forward(self, x, emb, frames: int, ref: torch.Tensor, ref_keep: torch.Tensor):
        for i, res in enumerate(self.res):
            x = res(x, emb)
            if self.spatial is not None:
                x = self.temporal[i](self.spatial[i](x, ref, ref_keep), frames)
        return x


class MapEncoder(nn.Module):
    """Motion maps at frame resolution down to the latent grid (stride-2 convolutions), added to the stem;
    its last convolution starts at zero."""

    def __init__(self, out: int, downsample: int = 8):
        super().__init__()
        layers, c = [nn.Conv2d(len(MAP_CHANNELS), 16, 3, padding=1), nn.SiLU()], 16
        for _ in range(downsample.bit_length() - 1):
            layers += [nn.Conv2d(c, min(2 * c, out), 3, stride=2, padding=1), nn.SiLU()]
            c = min(2 * c, out)
        self.net = nn.Sequential(*layers)
        self.out = nn.Conv2d(c, out, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        return self.out(self.net(maps))


class ReferenceEncoder(nn.Module):
    """The reference latent as features at every level's resolution and width (for reference attention)."""

    def __init__(self, cfg: FaceDiffusionConfig):
        super().__init__()
        ch = cfg.channels
        self.stem = nn.Conv2d(cfg.latent_channels, ch[0], 3, padding=1)
        self.levels = nn.ModuleList()
        for i, c in enumerate(ch):
            cin = ch[max(i - 1, 0)]
            self.levels.append(nn.Sequential(
                nn.Conv2d(cin, c, 3, stride=1 if i == 0 else 2, padding=1), nn.GroupNorm(cfg.norm_groups, c),
                nn.SiLU(), nn.Conv2d(c, c, 3, padding=1)))

    def forward(self, reference: torch.Tensor) -> list[torch.Tensor]:
        h, out = self.stem(reference), []
        for level in self.levels:
            h = level(h)
            out.append(h)
        return out


class FaceDenoiser(nn.Module):
    def __init__(self, cfg: FaceDiffusionConfig):
        super().__init__()
        self.cfg = cfg
        ch, c = cfg.channels, cfg.latent_channels
        self.time = TimestepEmbedding(cfg.emb_dim)
        self.motion = nn.Sequential(nn.Linear(cfg.motion_width, cfg.emb_dim), nn.SiLU(),
                                    nn.Linear(cfg.emb_dim, cfg.emb_dim))
        # noisy latent, prompt latent, prompt flag, reference latent
        self.stem = nn.Conv2d(3 * c + 1, ch[0], 3, padding=1)
        self.maps = MapEncoder(ch[0])
        self.reference = ReferenceEncoder(cfg)
        n = cfg.layers_per_level
        self.down = nn.ModuleList(Level(ch[max(i - 1, 0)], ch[i], n, cfg.attention[i], cfg) for i in range(len(ch)))
        self.downsample = nn.ModuleList(nn.Conv2d(ch[i], ch[i], 3, stride=2, padding=1) for i in range(len(ch) - 1))
        self.mid = Level(ch[-1], ch[-1], 1, True, cfg)
        self.up = nn.ModuleList(Level(2 * ch[i] if i == len(ch) - 1 else ch[i + 1] + ch[i], ch[i], n,
                                      cfg.attention[i], cfg) for i in range(len(ch)))
        self.upsample = nn.ModuleList(nn.Conv2d(ch[i + 1], ch[i + 1], 3, padding=1) for i in range(len(ch) - 1))
        self.out_norm = nn.GroupNorm(cfg.norm_groups, ch[0], eps=1e-6)
        self.out = nn.Conv2d(ch[0], c, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, reference: torch.Tensor, maps: torch.Tensor,
                motion: torch.Tensor, prompt: torch.Tensor | None = None, prompt_mask: torch.Tensor | None = None,
                drop_identity: torch.Tensor | None = None, drop_motion: torch.Tensor | None = None) -> torch.Tensor:
        """`x` `[B, T, C, h, w]` noisy latents at timesteps `t` `[B]` (0..num_train_timesteps); `reference`
        `[B, C, h, w]`; `maps` `[B, T, 4, 8h, 8w]`; `motion` `[B, T, motion_width]`; `prompt` `[B, T, C, h, w]`
        clean latents where `prompt_mask` `[B, T]` is True. Returns the prediction `[B, T, C, h, w]`."""
        b, frames, c, h, w = x.shape
        self._check(x, reference, maps, motion)
        dtype = self.stem.weight.dtype
        keep_id = ~drop_identity if drop_identity is not None else torch.ones(b, dtype=torch.bool, device=x.device)
        keep_mo = ~drop_motion if drop_motion is not None else torch.ones(b, dtype=torch.bool, device=x.device)
        if prompt is None or prompt_mask is None:
            prompt, prompt_mask = torch.zeros_like(x), torch.zeros(b, frames, dtype=torch.bool, device=x.device)
        flag = prompt_mask.to(dtype)[:, :, None, None, None].expand(b, frames, 1, h, w)
        prompt = prompt * flag
        reference = reference * keep_id.to(dtype)[:, None, None, None]
        frame_ref = reference[:, None].expand(b, frames, c, h, w)
        inputs = torch.cat([x.to(dtype), prompt.to(dtype), flag, frame_ref.to(dtype)], dim=2).flatten(0, 1)

        emb = self.time(t.float() / self.cfg.num_train_timesteps)[:, None]
        emb = emb + self.motion(motion.to(dtype) * keep_mo.to(dtype)[:, None, None])
        emb = emb.flatten(0, 1)
        maps = maps.to(dtype) * keep_mo.to(dtype)[:, None, None, None, None]
        hidden = self.stem(inputs) + self.maps(maps.flatten(0, 1))

        refs = [r.repeat_interleave(frames, dim=0) for r in self.reference(reference.to(dtype))]
        ref_keep = keep_id.repeat_interleave(frames)
        skips = []
        for i, level in enumerate(self.down):
            hidden = level(hidden, emb, frames, refs[i], ref_keep)
            skips.append(hidden)
            if i < len(self.downsample):
                hidden = self.downsample[i](hidden)
        hidden = self.mid(hidden, emb, frames, refs[-1], ref_keep)
        for i in reversed(range(len(self.up))):
            if i < len(self.upsample):
                hidden = self.upsample[i](F.interpolate(hidden, scale_factor=2.0, mode="nearest"))
            hidden = self.up[i](torch.cat([hidden, skips[i]], dim=1), emb, frames, refs[i], ref_keep)
        out = self.out(F.silu(self.out_norm(hidden)))
        return out.view(b, frames, c, h, w)

    def _check(self, x, reference, maps, motion) -> None:
        b, frames, c, h, w = x.shape
        cfg = self.cfg
        step = 2 ** (len(cfg.channels) - 1)
        if c != cfg.latent_channels or h % step or w % step:
            raise TavidError(f"latents {tuple(x.shape)} do not fit a denoiser of {cfg.latent_channels} channels "
                             f"and {len(cfg.channels)} levels", where="size",
                             fix=f"Use a face size that is a multiple of {cfg.multiple}.")
        want = {"reference": (b, c, h, w), "maps": (b, frames, len(MAP_CHANNELS), 8 * h, 8 * w),
                "motion": (b, frames, cfg.motion_width)}
        for name, got in (("reference", reference), ("maps", maps), ("motion", motion)):
            if tuple(got.shape) != want[name]:
                raise TavidError(f"{name} has shape {tuple(got.shape)}, expected {want[name]}", where="face denoiser")

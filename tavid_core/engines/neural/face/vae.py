"""The face diffusion model's autoencoder: images <-> latents 8x smaller per side.

Two interchangeable autoencoders with one API (`LatentAutoencoder`):

- `FaceVAE`, our own small KL autoencoder (GroupNorm residual blocks, optional self-attention in the
  middle, through SDPA). Trained with `vae_losses` (L1 reconstruction plus a small KL term; no LPIPS,
  which would need downloaded weights). Presets: tiny (tests), small (CPU demo), base.
- `SDVAE`, a Stable-Diffusion-compatible VAE loaded with `load_sd_vae(path)` from a user's local
  .safetensors file (ComfyUI's models/vae): diffusers' AutoencoderKL built from a configuration shipped
  here (never downloaded), weights in diffusers' key names or the original LDM names that ComfyUI's files
  use ("encoder.down.0.block.0.norm1.weight"), converted by `ldm_to_diffusers` / `diffusers_to_ldm`.

Conventions shared by both:
- images `[B, 3, H, W]` in -1..1, H and W multiples of `downsample` (8: three halvings, for four
  channel levels, as in SD's VAE); latents `[B, C, H/8, W/8]`.
- `encode` returns latents multiplied by `scaling_factor` (so they have roughly unit variance, what the
  diffusion schedules assume): the posterior mean, or a sample of it when given a generator (noise drawn
  on the CPU, so a seed gives the same latents on any device). `decode` takes such scaled latents and
  returns images, not clamped (training compares them raw; callers clamp for display).
- `encode_chunked` / `decode_chunked` walk a long batch (a video's frames, kept on the CPU) through the
  network a few frames at a time, so the frames never all sit on the accelerator.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from typing import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from ....errors import TavidError
from ..common.configs import SavedConfig, check_preset
from ..common.flow import randn
from ..common.inference import autocast
from ..common.layers import Attention

LOGVAR_RANGE = (-30.0, 20.0)   # clamp of the posterior's log-variance: exp() stays finite in float32


# --------------------------------------------------------------------------------------------- config
@dataclass(frozen=True)
class FaceVAEConfig(SavedConfig):
    """Our autoencoder's shape. `channels` has one width per resolution level; every level but the last
    halves the image, so 4 levels give the SD-like factor 8. `scaling_factor` is 1 / (std of the latents),
    measured after training with `latent_scaling_factor` (SD's 0.18215 until then)."""

    name: str = "base"
    channels: tuple[int, ...] = (64, 128, 256, 256)
    latent_channels: int = 4
    layers_per_block: int = 1
    norm_groups: int = 32
    mid_attention: bool = True
    scaling_factor: float = 0.18215
    # weight of the mean KL per latent element against the mean L1 per pixel: small, as in SD's VAE, so
    # the latents stay bounded without blurring the reconstruction
    kl_weight: float = 1e-5

    def __post_init__(self):
        where = f"vae config {self.name}"
        if not self.channels or any(c <= 0 or c % self.norm_groups for c in self.channels):
            raise TavidError(f"channels {self.channels} must be positive multiples of norm_groups {self.norm_groups}",
                             where=where)
        if self.latent_channels < 1 or self.layers_per_block < 1 or self.scaling_factor <= 0:
            raise TavidError("latent_channels and layers_per_block must be at least 1, scaling_factor positive",
                             where=where)

    @property
    def downsample(self) -> int:
        return 2 ** (len(self.channels) - 1)


def vae_config(preset: str) -> FaceVAEConfig:
    """One of the PRESETS. For paper-scale work, load an SD VAE instead (`load_sd_vae`)."""
    check_preset(preset)
    if preset == "tiny":
        return FaceVAEConfig(name="tiny", channels=(16, 32, 32, 32), norm_groups=8, mid_attention=False)
    if preset == "small":
        return FaceVAEConfig(name="small", channels=(32, 64, 128, 128), norm_groups=16)
    return FaceVAEConfig()


# ------------------------------------------------------------------------------------ shared interface
class LatentAutoencoder(nn.Module):
    """What the face diffusion model needs from an autoencoder. Subclasses define `encode_dist`,
    `_decode_unscaled`, `scaling_factor`, `latent_channels` and `downsample`."""

    scaling_factor: float
    latent_channels: int
    downsample: int = 8
    half_safe: bool = True   # False: fp16 overflows inside (SDXL's VAE); decode in float32 instead

    def weights_device(self) -> torch.device:
        """Where the weights are (not a `device` attribute: ComfyUI's ModelPatcher sets that on models)."""
        return next(self.parameters()).device

    def _check(self, images: torch.Tensor, what: str = "images") -> None:
        if images.dim() != 4 or images.shape[1] != 3:
            raise TavidError(f"expected {what} [B, 3, H, W], got {tuple(images.shape)}", where="autoencoder")
        h, w = images.shape[-2:]
        if h % self.downsample or w % self.downsample:
            raise TavidError(f"image size {w}x{h} is not a multiple of {self.downsample}", where="size",
                             fix=f"Use a size divisible by {self.downsample}.")

    def encode_dist(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior (mean, log-variance) `[B, C, H/8, W/8]` each, unscaled."""
        raise NotImplementedError

    def _decode_unscaled(self, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def encode(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Scaled latents: the posterior mean, or a sample when `generator` is given."""
        mean, logvar = self.encode_dist(images)
        if generator is not None:
            mean = mean + torch.exp(0.5 * logvar) * randn(mean.shape, generator, mean.device, mean.dtype)
        return mean * self.scaling_factor

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Images (about -1..1, not clamped) from scaled latents."""
        return self._decode_unscaled(latents / self.scaling_factor)

    def _precision(self, precision: torch.dtype) -> torch.dtype:
        return torch.float32 if precision == torch.float16 and not self.half_safe else precision

    @torch.no_grad()
    def encode_chunked(self, images: torch.Tensor, chunk: int = 8, generator: torch.Generator | None = None,
                       precision: torch.dtype = torch.float32) -> torch.Tensor:
        """`encode` a few images at a time on the network's device; latents come back on the CPU, float32.
        With a generator, the noise of the whole batch is drawn first: the result does not depend on `chunk`."""
        device, precision = self.weights_device(), self._precision(precision)
        out = []
        for start in range(0, images.shape[0], max(1, chunk)):
            part = images[start:start + chunk].to(device, torch.float32)
            with autocast(device, precision):
                mean, logvar = self.encode_dist(part)
            out.append(torch.stack([mean.float().cpu(), logvar.float().cpu()]))
        mean, logvar = torch.cat(out, dim=1) if out else torch.zeros(2, 0, self.latent_channels, 0, 0)
        if generator is not None:
            mean = mean + torch.exp(0.5 * logvar) * randn(mean.shape, generator, "cpu")
        return mean * self.scaling_factor

    @torch.no_grad()
    def decode_chunked(self, latents: torch.Tensor, chunk: int = 8,
                       precision: torch.dtype = torch.float32) -> torch.Tensor:
        """`decode` `chunk` latents at a time on the network's device; images come back on the CPU, float32."""
        device, precision = self.weights_device(), self._precision(precision)
        out = []
        for start in range(0, latents.shape[0], max(1, chunk)):
            with autocast(device, precision):
                out.append(self.decode(latents[start:start + chunk].to(device, torch.float32)).float().cpu())
        return torch.cat(out) if out else torch.zeros(0, 3, 0, 0)


# ---------------------------------------------------------------------------------- our own autoencoder
class ResBlock(nn.Module):
    """norm -> SiLU -> conv, twice, plus a (projected) skip."""

    def __init__(self, cin: int, cout: int, groups: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=1e-6)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2 = nn.GroupNorm(groups, cout, eps=1e-6)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class SpatialAttention(nn.Module):
    """Single-head self-attention over all positions of a (small, 1/8-resolution) feature map: lets the
    latent of one face part see the others (both eyes, the mouth's symmetry)."""

    def __init__(self, channels: int, groups: int):
        super().__init__()
        self.norm = nn.GroupNorm(groups, channels, eps=1e-6)
        self.attn = Attention(channels, heads=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        tokens = self.norm(x).flatten(2).transpose(1, 2)            # [B, HW, C]
        return x + self.attn(tokens).transpose(1, 2).reshape(b, c, h, w)


def _middle(c: int, cfg: FaceVAEConfig) -> nn.Sequential:
    parts = [ResBlock(c, c, cfg.norm_groups)]
    if cfg.mid_attention:
        parts.append(SpatialAttention(c, cfg.norm_groups))
    return nn.Sequential(*parts, ResBlock(c, c, cfg.norm_groups))


class Encoder(nn.Module):
    def __init__(self, cfg: FaceVAEConfig):
        super().__init__()
        ch, g = cfg.channels, cfg.norm_groups
        self.conv_in = nn.Conv2d(3, ch[0], 3, padding=1)
        levels, prev = [], ch[0]
        for i, c in enumerate(ch):
            blocks = [ResBlock(prev if k == 0 else c, c, g) for k in range(cfg.layers_per_block)]
            if i < len(ch) - 1:
                blocks.append(nn.Conv2d(c, c, 3, stride=2, padding=1))   # halve the resolution
            levels.append(nn.Sequential(*blocks))
            prev = c
        self.levels = nn.ModuleList(levels)
        self.mid = _middle(ch[-1], cfg)
        self.norm_out = nn.GroupNorm(g, ch[-1], eps=1e-6)
        self.conv_out = nn.Conv2d(ch[-1], 2 * cfg.latent_channels, 3, padding=1)  # mean and log-variance

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv_in(x)
        for level in self.levels:
            h = level(h)
        return self.conv_out(F.silu(self.norm_out(self.mid(h))))


class Upsample(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Decoder(nn.Module):
    def __init__(self, cfg: FaceVAEConfig):
        super().__init__()
        ch, g = cfg.channels, cfg.norm_groups
        self.conv_in = nn.Conv2d(cfg.latent_channels, ch[-1], 3, padding=1)
        self.mid = _middle(ch[-1], cfg)
        levels, prev = [], ch[-1]
        for i in reversed(range(len(ch))):
            c = ch[i]
            # one block more than the encoder, as in SD's decoder: decoding is the harder direction
            blocks = [ResBlock(prev if k == 0 else c, c, g) for k in range(cfg.layers_per_block + 1)]
            if i > 0:
                blocks.append(Upsample(c))
            levels.append(nn.Sequential(*blocks))
            prev = c
        self.levels = nn.ModuleList(levels)
        self.norm_out = nn.GroupNorm(g, ch[0], eps=1e-6)
        self.conv_out = nn.Conv2d(ch[0], 3, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.mid(self.conv_in(z))
        for level in self.levels:
            h = level(h)
        return self.conv_out(F.silu(self.norm_out(h)))


class FaceVAE(LatentAutoencoder):
    """Our own KL autoencoder (see the module docstring)."""

    def __init__(self, config: FaceVAEConfig = FaceVAEConfig()):
        super().__init__()
        self.config = config
        self.scaling_factor = config.scaling_factor
        self.latent_channels = config.latent_channels
        self.downsample = config.downsample
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)

    def encode_dist(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self._check(images)
        mean, logvar = self.encoder(images).chunk(2, dim=1)
        return mean, logvar.clamp(*LOGVAR_RANGE)

    def _decode_unscaled(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)


def vae_losses(vae: LatentAutoencoder, images: torch.Tensor, generator: torch.Generator,
               kl_weight: float | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """The loss for one batch of images in -1..1 (a TrainTask's `loss`): mean L1 of the reconstruction
    from a posterior sample, plus `kl_weight` (default: the config's) times the mean KL divergence from a
    standard normal per latent element. Returns (loss, values to log)."""
    if kl_weight is None:
        kl_weight = getattr(getattr(vae, "config", None), "kl_weight", 1e-5)
    mean, logvar = vae.encode_dist(images)
    z = mean + torch.exp(0.5 * logvar) * randn(mean.shape, generator, mean.device, mean.dtype)
    recon = vae._decode_unscaled(z)
    l1 = (recon.float() - images.float()).abs().mean()
    kl = 0.5 * (mean.float().square() + logvar.float().exp() - 1.0 - logvar.float()).mean()
    loss = l1 + kl_weight * kl
    return loss, {"recon_l1": float(l1.detach()), "kl": float(kl.detach())}


@torch.no_grad()
def latent_scaling_factor(vae: LatentAutoencoder, images: torch.Tensor, chunk: int = 8) -> float:
    """1 / std of the unscaled posterior means over `images`: the `scaling_factor` that gives the
    diffusion model unit-variance latents (how SD's 0.18215 was found). Set it after training."""
    latents = vae.encode_chunked(images, chunk) / vae.scaling_factor
    return float(1.0 / latents.std().clamp(min=1e-8))


# ----------------------------------------------------------------------------- Stable Diffusion's VAE
# diffusers.AutoencoderKL settings of the SD VAE family (facts of the published models, shipped here so
# nothing is downloaded). SD 1.x and SDXL VAEs have identical shapes; only the latent scaling differs.
_SD_COMMON = dict(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 4,
                  up_block_types=("UpDecoderBlock2D",) * 4, block_out_channels=(128, 256, 512, 512),
                  layers_per_block=2, act_fn="silu", latent_channels=4, norm_num_groups=32)
SD_VAE_CONFIGS: dict[str, dict] = {
    "sd1": {**_SD_COMMON, "sample_size": 512, "scaling_factor": 0.18215},
    "sdxl": {**_SD_COMMON, "sample_size": 1024, "scaling_factor": 0.13025},
}
SD_KINDS = ("auto", "sd1", "sdxl")
_SD_LEVELS = len(_SD_COMMON["block_out_channels"])
# prefixes under which a VAE's tensors sit inside a whole model file (an SD checkpoint holds its VAE
# under "first_stage_model."): such a file is read for its VAE only
_CONTAINER_PREFIXES = ("first_stage_model.", "vae.")
# diffusers' older attention names (files saved before diffusers 0.14) -> the current ones
_OLD_ATTENTION = {".query.": ".to_q.", ".key.": ".to_k.", ".value.": ".to_v.", ".proj_attn.": ".to_out.0."}


def _flip(level: str) -> str:
    """LDM numbers decoder levels by resolution (0 = full size); diffusers in the order they run."""
    return str(_SD_LEVELS - 1 - int(level))


# Each rule: (LDM pattern, diffusers pattern) over a key's middle; both directions are read from this one
# table, so the two conversions cannot drift apart. {i}/{j} are numbers; {d} a decoder level to flip.
_RULES = (
    ("{s}.norm_out.", "{s}.conv_norm_out."),
    ("{s}.mid.block_1.", "{s}.mid_block.resnets.0."),
    ("{s}.mid.block_2.", "{s}.mid_block.resnets.1."),
    ("{s}.mid.attn_1.norm.", "{s}.mid_block.attentions.0.group_norm."),
    ("{s}.mid.attn_1.q.", "{s}.mid_block.attentions.0.to_q."),
    ("{s}.mid.attn_1.k.", "{s}.mid_block.attentions.0.to_k."),
    ("{s}.mid.attn_1.v.", "{s}.mid_block.attentions.0.to_v."),
    ("{s}.mid.attn_1.proj_out.", "{s}.mid_block.attentions.0.to_out.0."),
    ("encoder.down.{i}.block.{j}.", "encoder.down_blocks.{i}.resnets.{j}."),
    ("encoder.down.{i}.downsample.conv.", "encoder.down_blocks.{i}.downsamplers.0.conv."),
    ("decoder.up.{d}.block.{j}.", "decoder.up_blocks.{d}.resnets.{j}."),
    ("decoder.up.{d}.upsample.conv.", "decoder.up_blocks.{d}.upsamplers.0.conv."),
)
_SHORTCUT = (".nin_shortcut.", ".conv_shortcut.")   # a resnet's 1x1 skip projection
_ATTN_PROJECTIONS = ("to_q", "to_k", "to_v", "to_out")   # 1x1 convs in LDM, linear layers in diffusers


def _pattern(template: str) -> re.Pattern:
    text = re.escape(template)
    for name, group in (("s", r"(?P<s>encoder|decoder)"), ("i", r"(?P<i>\d+)"), ("j", r"(?P<j>\d+)"),
                        ("d", r"(?P<d>\d+)")):
        text = text.replace(re.escape("{" + name + "}"), group)
    return re.compile("^" + text)


_COMPILED = tuple((_pattern(ldm), ldm, _pattern(diff), diff) for ldm, diff in _RULES)


def _convert(key: str, to_diffusers: bool) -> str:
    for ldm_re, ldm, diff_re, diff in _COMPILED:
        source, target = (ldm_re, diff) if to_diffusers else (diff_re, ldm)
        m = source.match(key)
        if m:
            values = m.groupdict()
            if "d" in values:
                values["d"] = _flip(values["d"])
            key = target.format(**values) + key[m.end():]
            break
    old, new = _SHORTCUT if to_diffusers else _SHORTCUT[::-1]
    return key.replace(old, new)


def _is_attention_projection(diffusers_key: str) -> bool:
    return ".mid_block.attentions." in diffusers_key and diffusers_key.endswith(".weight") and any(
        f".{p}" in diffusers_key for p in _ATTN_PROJECTIONS)


def ldm_to_diffusers(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A VAE state dict in the original (LDM/ComfyUI) key names -> diffusers' names and shapes (the
    attention projections are 1x1 convolutions there, linear layers here)."""
    out = {}
    for key, tensor in state.items():
        new = _convert(key, to_diffusers=True)
        if _is_attention_projection(new) and tensor.dim() == 4:
            tensor = tensor[:, :, 0, 0]
        out[new] = tensor
    return out


def diffusers_to_ldm(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The inverse of `ldm_to_diffusers`: what ComfyUI's models/vae files hold."""
    out = {}
    for key, tensor in state.items():
        if _is_attention_projection(key) and tensor.dim() == 2:
            tensor = tensor[:, :, None, None]
        out[_convert(key, to_diffusers=False)] = tensor
    return out


def sd_kind_from_name(path: str) -> str:
    """"sdxl" when the file's name says so (sdxl_vae.safetensors, sdxl-vae-fp16-fix, ..._xl_...), else "sd1"."""
    stem = os.path.splitext(os.path.basename(path))[0].lower()
    return "sdxl" if re.search(r"sdxl|(^|[^a-z])xl([^a-z]|$)", stem) else "sd1"


class SDVAE(LatentAutoencoder):
    """A Stable-Diffusion VAE (diffusers' AutoencoderKL) behind our autoencoder API."""

    def __init__(self, model: nn.Module, kind: str, source: str = ""):
        super().__init__()
        self.model = model
        self.kind = kind
        self.source = source
        self.scaling_factor = SD_VAE_CONFIGS[kind]["scaling_factor"]
        self.latent_channels = SD_VAE_CONFIGS[kind]["latent_channels"]
        self.downsample = 2 ** (_SD_LEVELS - 1)
        self.half_safe = kind != "sdxl"   # SDXL's VAE overflows in fp16 (diffusers upcasts it too)

    def encode_dist(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self._check(images)
        moments = self.model.quant_conv(self.model.encoder(images))
        mean, logvar = moments.chunk(2, dim=1)
        return mean, logvar.clamp(*LOGVAR_RANGE)

    def _decode_unscaled(self, z: torch.Tensor) -> torch.Tensor:
        return self.model.decoder(self.model.post_quant_conv(z))


def _sd_model(kind: str):
    from diffusers import AutoencoderKL
    with torch.device("meta"):   # no random initialisation of 84M parameters that are replaced at once
        return AutoencoderKL(**SD_VAE_CONFIGS[kind])


def sd_vae_shapes(kind: str = "sd1", key_format: str = "diffusers") -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape of the shipped SD VAE configuration, in "diffusers" or "ldm" key names."""
    state = {k: torch.empty(v.shape, device="meta") for k, v in _sd_model(kind).state_dict().items()}
    if key_format == "ldm":
        state = diffusers_to_ldm(state)
    return {k: tuple(v.shape) for k, v in state.items()}


def _key_format(keys: list[str], name: str) -> str:
    if any(k.startswith("encoder.down_blocks.") for k in keys):
        return "diffusers"
    if any(k.startswith("encoder.down.") for k in keys):
        return "ldm"
    sample = ", ".join(sorted(keys)[:3]) or "no tensors"
    raise TavidError(f"this is not a Stable Diffusion VAE: its tensors ({sample}, ...) have neither the "
                     "original names (encoder.down.0.block.0...) nor diffusers' (encoder.down_blocks.0.resnets.0...)",
                     where=name, fix="Pick an SD 1.x or SDXL VAE file (ComfyUI's models/vae), or use TAVID's own "
                     "autoencoder.")


def load_sd_vae(path: str, kind: str = "auto", device: torch.device | str = "cpu") -> SDVAE:
    """An SD 1.x or SDXL VAE from a local .safetensors file, in either key format (a whole SD checkpoint
    works too: its VAE is read, nothing else).

    `kind`: "sd1" (scaling 0.18215), "sdxl" (0.13025), or "auto". The two families have identical tensor
    shapes, so the weights cannot tell them apart: "auto" reads the file's name ("sdxl" or a separate
    "xl" in it means SDXL) and otherwise takes SD 1.x. Pass the kind when the name does not say it: the
    wrong one gives latents of the wrong scale (washed-out or over-saturated results)."""
    from safetensors import safe_open

    from ....checkpoints import CheckpointInfo, check_shapes, inspect_checkpoint

    name = os.path.basename(path)
    if kind not in SD_KINDS:
        raise TavidError(f"unknown VAE kind {kind!r}", where="vae kind", fix=f"Use one of {', '.join(SD_KINDS)}.")
    kind = sd_kind_from_name(path) if kind == "auto" else kind
    info = inspect_checkpoint(path)   # header read with limits first: pickles and damaged files are refused here
    prefix = next((p for p in _CONTAINER_PREFIXES if any(k.startswith(p + "encoder.") for k in info.shapes)), "")
    shapes = {k[len(prefix):]: s for k, s in info.shapes.items() if k.startswith(prefix)}
    key_format = _key_format(list(shapes), name)
    file_names = {k: k for k in shapes}   # our name of a tensor -> its name in the file (less the prefix)
    if key_format == "diffusers":   # older diffusers files name the attention projections differently
        file_names = {}
        for key in list(shapes):
            current = key
            for old, new in _OLD_ATTENTION.items():
                current = current.replace(old, new)
            file_names[current] = key
        shapes = {current: shapes[key] for current, key in file_names.items()}
    else:
        for key, shape in list(shapes.items()):   # some converters store the attention projections as linear
            if len(shape) == 2 and _is_attention_projection(_convert(key, to_diffusers=True)):
                shapes[key] = (*shape, 1, 1)
    conv_out = shapes.get("encoder.conv_out.weight")
    if conv_out is not None and conv_out[0] != 2 * SD_VAE_CONFIGS[kind]["latent_channels"]:
        raise TavidError(f"this VAE has {conv_out[0] // 2} latent channels; TAVID reads SD 1.x and SDXL VAEs "
                         "(4 channels), not those of SD3, Flux or video models", where=name,
                         fix="Pick an SD 1.x or SDXL VAE.")
    expected = sd_vae_shapes(kind, key_format)
    check_shapes(expected, CheckpointInfo(path=path, blocks={}, other=0, config={}, metadata={}, shapes=shapes),
                 by="an SD 1.x/SDXL VAE")

    state = {}
    with safe_open(path, framework="pt") as f:
        for key in expected:
            state[key] = f.get_tensor(prefix + file_names[key]).to(torch.float32)   # fp16/bf16 files too
    if key_format == "ldm":
        state = ldm_to_diffusers(state)
    model = _sd_model(kind)
    model.load_state_dict(state, strict=True, assign=True)   # takes the file's tensors in place of the meta ones
    model = model.to(device).eval().requires_grad_(False)
    if not all(torch.isfinite(p).all() for p in model.parameters()):
        raise TavidError("the VAE's weights contain NaN or infinite values", where=name,
                         fix="Download the file again.")
    return SDVAE(model, kind, source=path)


def psnr(images: torch.Tensor, reference: torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB of images in -1..1 (peak-to-peak 2)."""
    mse = float((images.float().clamp(-1, 1) - reference.float()).square().mean())
    return 10.0 * math.log10(4.0 / max(mse, 1e-12))

"""Building blocks shared by the neural networks (speech DiT, text and voice encoders, vocoder, motion
mapper, face denoiser). Sequences are `[B, T, D]`; a `mask` is `[B, T]` bool, True where a frame is real.

Attention goes through `scaled_dot_product_attention`, so it uses flash or memory-efficient kernels
where the device has them. Its projections are named `to_q`, `to_k`, `to_v`, `to_out`: the names LoRA
adapters target.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

LORA_TARGETS = ("to_q", "to_k", "to_v", "to_out")


def masked(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """`x` with padded frames zeroed, so convolutions do not smear padding into real frames."""
    return x if mask is None else x * mask.unsqueeze(-1).to(x.dtype)


class ConvNeXtBlock(nn.Module):
    """ConvNeXt over time (as in Vocos and F5-TTS's text encoder): depthwise conv, norm, pointwise MLP,
    layer scale, residual."""

    def __init__(self, dim: int, intermediate: int, kernel: int = 7, layer_scale: float = 1e-6):
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel, padding=kernel // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, intermediate)
        self.pwconv2 = nn.Linear(intermediate, dim)
        self.gamma = nn.Parameter(torch.full((dim,), layer_scale))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        y = self.dwconv(masked(x, mask).transpose(1, 2)).transpose(1, 2)
        y = self.pwconv2(F.gelu(self.pwconv1(self.norm(y))))
        return masked(x + self.gamma * y, mask)


class ConvPositionEmbedding(nn.Module):
    """Two grouped convolutions that add a sense of local position to a sequence (F5-TTS style)."""

    def __init__(self, dim: int, kernel: int = 31, groups: int = 16):
        super().__init__()
        groups = math.gcd(dim, groups)
        self.conv1 = nn.Conv1d(dim, dim, kernel, padding=kernel // 2, groups=groups)
        self.conv2 = nn.Conv1d(dim, dim, kernel, padding=kernel // 2, groups=groups)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        # padding is zeroed before each convolution: what the first makes of it (its bias, smear from real
        # frames) would otherwise leak back into the last real frames through the second
        y = F.mish(self.conv1(masked(x, mask).transpose(1, 2))).transpose(1, 2)
        y = F.mish(self.conv2(masked(y, mask).transpose(1, 2))).transpose(1, 2)
        return masked(x + y, mask)


class TimestepEmbedding(nn.Module):
    """A flow or diffusion time in 0..1 (`[B]`) as a `[B, dim]` vector: sinusoids, then an MLP.

    The sinusoids are cosines then sines with frequencies from 1 down towards 1/10000 (DiT's). F5-TTS
    was trained on the other common layout: `sines_first`, with the last frequency exactly 1/10000
    (`endpoint`, spacing 1 / (half - 1)); each layout is computed in its own operation order, so both
    give their reference's numbers to the last bit."""

    def __init__(self, dim: int, freq_dim: int = 256, *, sines_first: bool = False, endpoint: bool = False):
        super().__init__()
        self.freq_dim = freq_dim
        self.sines_first = sines_first
        self.endpoint = endpoint
        self.mlp = nn.Sequential(nn.Linear(freq_dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.freq_dim // 2
        steps = torch.arange(half, device=t.device, dtype=torch.float32)
        if self.endpoint:
            freqs = torch.exp(steps * -(math.log(10000.0) / (half - 1)))
        else:
            freqs = torch.exp(-math.log(10000.0) * steps / half)
        angles = 1000.0 * t.float()[:, None] * freqs[None]
        parts = [angles.sin(), angles.cos()] if self.sines_first else [angles.cos(), angles.sin()]
        return self.mlp(torch.cat(parts, dim=-1).to(self.mlp[0].weight.dtype))


def rotary(length: int, head_dim: int, device, base: float = 10000.0) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin `[length, head_dim]` of rotary position embeddings."""
    inv = 1.0 / base ** (torch.arange(0, head_dim, 2, device=device, dtype=torch.float32) / head_dim)
    angles = torch.arange(length, device=device, dtype=torch.float32)[:, None] * inv[None]
    angles = torch.cat([angles, angles], dim=-1)
    return angles.cos(), angles.sin()


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate `x` `[B, H, T, Dh]` by position."""
    a, b = x.chunk(2, dim=-1)
    turned = torch.cat([-b, a], dim=-1)
    return (x.float() * cos + turned.float() * sin).to(x.dtype)


class Attention(nn.Module):
    """Multi-head self-attention (or cross-attention with `context`), rotary positions optional."""

    def __init__(self, dim: int, heads: int, context_dim: int | None = None, dropout: float = 0.0):
        super().__init__()
        self.heads = heads
        self.dropout = dropout
        self.to_q = nn.Linear(dim, dim)
        self.to_k = nn.Linear(context_dim or dim, dim)
        self.to_v = nn.Linear(context_dim or dim, dim)
        self.to_out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, context: torch.Tensor | None = None,
                context_mask: torch.Tensor | None = None,
                rope: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        b, t, d = x.shape
        source = x if context is None else context
        keys_mask = mask if context is None else context_mask

        def heads(y: torch.Tensor) -> torch.Tensor:
            return y.view(b, -1, self.heads, d // self.heads).transpose(1, 2)

        q, k, v = heads(self.to_q(x)), heads(self.to_k(source)), heads(self.to_v(source))
        if rope is not None and context is None:
            q, k = apply_rotary(q, *rope), apply_rotary(k, *rope)
        attn_mask = None if keys_mask is None else keys_mask[:, None, None, :]
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask,
                                           dropout_p=self.dropout if self.training else 0.0)
        y = self.to_out(y.transpose(1, 2).reshape(b, t, d))
        return masked(y, mask)


class FeedForward(nn.Module):
    def __init__(self, dim: int, mult: float = 2.0, dropout: float = 0.0):
        super().__init__()
        inner = int(dim * mult)
        self.net = nn.Sequential(nn.Linear(dim, inner), nn.GELU(approximate="tanh"), nn.Dropout(dropout),
                                 nn.Linear(inner, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class DiTBlock(nn.Module):
    """A transformer block whose norms are modulated by a conditioning vector (adaLN-Zero, as in DiT):
    each block starts as the identity, which keeps deep stacks stable early in training."""

    def __init__(self, dim: int, heads: int, ff_mult: float = 2.0, dropout: float = 0.0):
        super().__init__()
        self.modulation = nn.Linear(dim, 6 * dim)
        nn.init.zeros_(self.modulation.weight)
        nn.init.zeros_(self.modulation.bias)
        self.attn_norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(dim, heads, dropout=dropout)
        self.ff_norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.ff = FeedForward(dim, ff_mult, dropout)

    def forward(self, x: torch.Tensor, cond: torch.Tensor, mask: torch.Tensor | None = None,
                rope: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """`x` `[B, T, D]`, `cond` `[B, D]` (time and speaker)."""
        shift_a, scale_a, gate_a, shift_f, scale_f, gate_f = self.modulation(F.silu(cond))[:, None].chunk(6, dim=-1)
        h = self.attn_norm(x) * (1 + scale_a) + shift_a
        x = x + gate_a * self.attn(h, mask=mask, rope=rope)
        h = self.ff_norm(x) * (1 + scale_f) + shift_f
        return masked(x + gate_f * self.ff(h), mask)


class FinalAdaNorm(nn.Module):
    """The last norm of a DiT, modulated like its blocks, before the output projection."""

    def __init__(self, dim: int):
        super().__init__()
        self.modulation = nn.Linear(dim, 2 * dim)
        nn.init.zeros_(self.modulation.weight)
        nn.init.zeros_(self.modulation.bias)
        self.norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        shift, scale = self.modulation(F.silu(cond))[:, None].chunk(2, dim=-1)
        return self.norm(x) * (1 + scale) + shift


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())

"""F5-TTS's text encoder: token ids laid over the mel frames, with sinusoidal positions and ConvNeXt-V2 blocks.

The ids are cut or padded with the filler to the number of mel frames, so every frame has a text vector
(the network learns the alignment). Ids arrive as vocabulary indices with -1 for batch padding; everything
is shifted by one, so row 0 of the table is the filler.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .convnext_v2 import ConvNeXtV2Block


def text_positions(frames: int, dim: int, device=None, base: float = 10000.0) -> torch.Tensor:
    """`[frames, dim]` sinusoids added to the token embeddings: cosines in the first half, sines in the second."""
    inv = 1.0 / (base ** (torch.arange(0, dim, 2, device=device)[: dim // 2].float() / dim))
    angles = torch.arange(frames, device=device, dtype=torch.float32)[:, None] * inv[None]
    return torch.cat([angles.cos(), angles.sin()], dim=-1)


class F5TextEmbedding(nn.Module):
    def __init__(self, vocab_size: int, dim: int, layers: int = 4, mult: int = 2):
        super().__init__()
        self.dim = dim
        self.embed = nn.Embedding(vocab_size + 1, dim)
        self.blocks = nn.ModuleList(ConvNeXtV2Block(dim, dim * mult) for _ in range(layers))

    def forward(self, ids: torch.Tensor, frames: int, drop: torch.Tensor | None = None) -> torch.Tensor:
        """`ids` `[B, L]` (vocabulary indices, -1 = padding) -> `[B, frames, dim]`.

        `drop` `[B]` bool: those rows lose their text for the unguided pass of classifier-free guidance.
        Their tokens all become the filler, but the padding mask stays the one of the real text (as in the
        reference), so the positions of real tokens keep the filler's embedding plus their position."""
        tokens = ids.long()[:, :frames] + 1
        if tokens.shape[1] < frames:
            tokens = F.pad(tokens, (0, frames - tokens.shape[1]), value=0)
        filler = (tokens == 0).unsqueeze(-1)
        if drop is not None:
            tokens = torch.where(drop.to(tokens.device)[:, None], torch.zeros_like(tokens), tokens)
        h = self.embed(tokens) + text_positions(frames, self.dim, tokens.device).to(self.embed.weight.dtype)
        h = h.masked_fill(filler, 0.0)
        for block in self.blocks:
            h = block(h).masked_fill(filler, 0.0)
        return h

"""The public F5-TTS v1 diffusion transformer, built from the speech block's DiT pieces.

Per mel frame the input is the noisy mel, the prompt mel (zeros where speech is to be made) and the text
encoder's vector; per utterance the flow time modulates every block (adaLN-Zero). DiTBlock, FinalAdaNorm,
ConvPositionEmbedding and TimestepEmbedding compute what the reference's blocks do once the weights are
laid out for them (keymap.py). Unlike our SpeechDiT there is no speaker vector, the text encoder lives
inside, and dropping the text for guidance keeps the filler tokens' embedding (F5TextEmbedding).
"""
from __future__ import annotations

import torch
from torch import nn

from ...common.layers import ConvPositionEmbedding, DiTBlock, FinalAdaNorm, TimestepEmbedding, rotary
from .config import F5_V1_BASE, F5DiTConfig
from .text_embedding import F5TextEmbedding


class F5DiT(nn.Module):
    def __init__(self, cfg: F5DiTConfig = F5_V1_BASE):
        super().__init__()
        self.cfg = cfg
        self.time = TimestepEmbedding(cfg.dim, sines_first=True, endpoint=True)
        self.text = F5TextEmbedding(cfg.vocab_size, cfg.text_dim, cfg.conv_layers, cfg.conv_mult)
        self.input = nn.Linear(2 * cfg.n_mels + cfg.text_dim, cfg.dim)
        self.conv_pos = ConvPositionEmbedding(cfg.dim, cfg.conv_pos_kernel, cfg.conv_pos_groups)
        self.blocks = nn.ModuleList(DiTBlock(cfg.dim, cfg.heads, cfg.ff_mult) for _ in range(cfg.depth))
        self.final_norm = FinalAdaNorm(cfg.dim)
        self.output = nn.Linear(cfg.dim, cfg.n_mels)

    def forward(self, x: torch.Tensor, cond: torch.Tensor, text: torch.Tensor, t: torch.Tensor | float,
                drop: torch.Tensor | bool | None = None, features: bool = False
                ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Velocity `[B, T, n_mels]` for the noisy mel `x` `[B, T, n_mels]` at time `t` (`[B]` or a number).

        `cond` `[B, T, n_mels]` is the prompt mel, zero where speech is generated; `text` `[B, L]` token ids
        (-1 = padding). `drop` (`[B]` bool or one bool) removes the prompt mel and the text of those rows:
        the unconditional pass of classifier-free guidance. With `features` also returns the output of block
        `cfg.feature_layer` `[B, T, dim]`. Every row is taken as T frames long (no padding mask)."""
        b, frames, _ = x.shape
        if isinstance(drop, bool):
            drop = torch.full((b,), drop, dtype=torch.bool, device=x.device)
        t = torch.as_tensor(t, device=x.device, dtype=torch.float32)
        t = t.expand(b) if t.dim() == 0 else t
        text_emb = self.text(text, frames, drop)
        if drop is not None:
            cond = torch.where(drop[:, None, None], torch.zeros_like(cond), cond)
        h = self.conv_pos(self.input(torch.cat([x, cond, text_emb.to(x.dtype)], dim=-1)))
        c = self.time(t)
        rope = rotary(frames, self.cfg.head_dim, x.device)
        hidden = None
        for i, block in enumerate(self.blocks):
            h = block(h, c, None, rope)
            if i == self.cfg.feature_layer:
                hidden = h
        v = self.output(self.final_norm(h, c))
        return (v, hidden) if features else v

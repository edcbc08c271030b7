"""The motion mapper's network: a transformer over time that reads one person's features, the partner's and
the role, and predicts the flow-matching velocity of that person's motion vector.

Motion vector per frame (C = 15 + code_dim): pose (POSE_CHANNELS), expr (EXPR_CHANNELS), then codes.
The flow runs on normalised values `(value - offset) / scale`, fixed per channel and stored as buffers
(so a checkpoint carries the normalisation it was trained with):

    yaw, pitch, roll             offset 0, scale 0.1 rad (natural head motion is a few hundredths of a radian)
    tx, ty                       offset 0, scale 0.02 (fraction of the face size)
    scale                        offset 1, scale 0.02
    expr in 0..1 (jaw_open, mouth_round, smile, blinks)    offset 0.5, scale 0.5: the range becomes -1..1
    expr in -1..1 (mouth_wide, brow_raise, gaze_x, gaze_y) offset 0, scale 0.5
    codes                        offset 0, scale 1 (the face model's codes are expected near unit scale)
"""
from __future__ import annotations

import torch
from torch import nn

from ....errors import TavidError
from ....types import EXPR_CHANNELS
from ..common.layers import ConvPositionEmbedding, DiTBlock, FinalAdaNorm, TimestepEmbedding, masked, rotary
from .config import INPUT_NAMES, UNIT_EXPR, MotionMapperConfig


def normalisation(cfg: MotionMapperConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed per-channel offset and scale of the motion vector (see the module docstring)."""
    offset = [0.0, 0.0, 0.0, 0.0, 0.0, 1.0]
    scale = [0.1, 0.1, 0.1, 0.02, 0.02, 0.02]
    for name in EXPR_CHANNELS:
        offset.append(0.5 if name in UNIT_EXPR else 0.0)
        scale.append(0.5)
    offset += [0.0] * cfg.code_dim
    scale += [1.0] * cfg.code_dim
    return torch.tensor(offset), torch.tensor(scale)


# -------------------------------------------------------------------------------------------- network
class MotionMapperNet(nn.Module):
    """Velocity of the flow for one person's (normalised) motion at every frame.

    Per frame it reads the noisy motion, the prompt motion and where it is given (the overlap taken from
    the previous window), the person's own speech features and the partner's; per utterance the flow
    time and the role, which modulate every block (adaLN-Zero). Positions are rotary (relative), so a
    window means the same wherever it lies in a long conversation."""

    def __init__(self, cfg: MotionMapperConfig):
        super().__init__()
        self.cfg = cfg
        c, f = cfg.motion_width, cfg.feature_width
        self.hidden_norm = nn.LayerNorm(cfg.hidden_dim, elementwise_affine=False) if cfg.hidden_dim else None
        self.input = nn.Linear(2 * c + 1 + 2 * f, cfg.dim)
        self.role = nn.Embedding(2, cfg.dim)
        self.conv_pos = ConvPositionEmbedding(cfg.dim, cfg.conv_pos_kernel)
        self.time = TimestepEmbedding(cfg.dim)
        self.blocks = nn.ModuleList(DiTBlock(cfg.dim, cfg.heads, cfg.ff_mult, cfg.dropout) for _ in range(cfg.depth))
        self.final_norm = FinalAdaNorm(cfg.dim)
        self.output = nn.Linear(cfg.dim, c)
        offset, scale = normalisation(cfg)
        self.register_buffer("motion_offset", offset)
        self.register_buffer("motion_scale", scale)

    def normalise(self, motion: torch.Tensor) -> torch.Tensor:
        return (motion.float() - self.motion_offset) / self.motion_scale

    def denormalise(self, x: torch.Tensor) -> torch.Tensor:
        return x.float() * self.motion_scale + self.motion_offset

    def _speech(self, features: torch.Tensor) -> torch.Tensor:
        """Hidden features brought to unit scale (a DiT's residual stream can be large); zero rows (silence,
        built-in speech) stay zero."""
        if self.hidden_norm is None:
            return features
        named, hidden = features[..., :len(INPUT_NAMES)], features[..., len(INPUT_NAMES):]
        return torch.cat([named, self.hidden_norm(hidden.float()).to(named.dtype)], dim=-1)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor | float, own: torch.Tensor, partner: torch.Tensor,
                role: torch.Tensor, mask: torch.Tensor | None = None, prompt: torch.Tensor | None = None,
                prompt_mask: torch.Tensor | None = None, drop_speech: torch.Tensor | None = None) -> torch.Tensor:
        """`x_t` `[B, T, C]` normalised noisy motion; `t` `[B]` or a number; `own`, `partner` `[B, T, F]`
        input features; `role` `[B]` 0 (A) or 1 (B); `mask` `[B, T]` True on real frames; `prompt`
        `[B, T, C]` normalised motion given where `prompt_mask` `[B, T]` is True; `drop_speech` `[B]`
        zeroes both people's features of those rows (the unconditional pass of guidance). Returns the
        velocity `[B, T, C]`."""
        b, frames, c = x_t.shape
        if own.shape[-1] != self.cfg.feature_width or partner.shape != own.shape or own.shape[:2] != (b, frames):
            raise TavidError(f"speech features of shape {tuple(own.shape)} and {tuple(partner.shape)} do not fit "
                             f"{frames} frames of {self.cfg.feature_width} features", where="motion mapper input")
        if prompt is None:
            prompt = torch.zeros_like(x_t)
            prompt_mask = torch.zeros(b, frames, dtype=torch.bool, device=x_t.device)
        given = prompt_mask.to(x_t.dtype).unsqueeze(-1)
        own, partner = self._speech(own.to(x_t.dtype)), self._speech(partner.to(x_t.dtype))
        if drop_speech is not None:
            keep = (~drop_speech).to(x_t.dtype)[:, None, None]
            own, partner = own * keep, partner * keep
        t = torch.as_tensor(t, device=x_t.device, dtype=torch.float32)
        t = t.expand(b) if t.dim() == 0 else t
        role_emb = self.role(role.to(x_t.device).long())

        h = self.input(torch.cat([x_t, prompt.to(x_t.dtype) * given, given, own, partner], dim=-1))
        h = self.conv_pos(h + role_emb[:, None], mask)
        cond = self.time(t) + role_emb
        rope = rotary(frames, self.cfg.dim // self.cfg.heads, x_t.device)
        for block in self.blocks:
            h = block(h, cond, mask, rope)
        return masked(self.output(self.final_norm(h, cond)), mask)

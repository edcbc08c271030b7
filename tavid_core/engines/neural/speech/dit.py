"""The speech generator's network: a diffusion transformer over mel frames (in the manner of F5-TTS),
trained with conditional flow matching to fill a masked span of a mel given the rest of it (the prompt),
the text and a speaker embedding.

There is no explicit text-to-frame alignment: the text encoder's output is laid at the start of the
frame sequence and zero-padded to its length, and attention learns where each token is spoken. The
transcript covers the prompt and the new speech together, so the prompt also shows the network the pace.
"""
from __future__ import annotations

from typing import Callable, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from ....errors import TavidError
from ..common.flow import StepCallback, flow_matching_loss, rand, randn, solve, tile, weighted_guidance
from ..common.layers import ConvPositionEmbedding, DiTBlock, FinalAdaNorm, TimestepEmbedding, masked, rotary
from .config import SpeechDiTConfig


class SpeechDiT(nn.Module):
    """Velocity of the flow at time `t` for every mel frame.

    Inputs per frame: the noisy mel `x`, the prompt mel `cond` (zeros where speech is to be generated)
    and the text features; per utterance: the time `t` and the speaker embedding, which modulate every
    block's norms (adaLN-Zero)."""

    def __init__(self, cfg: SpeechDiTConfig, n_mels: int):
        super().__init__()
        self.cfg = cfg
        self.n_mels = n_mels
        self.input = nn.Linear(2 * n_mels + cfg.text_dim, cfg.dim)
        self.conv_pos = ConvPositionEmbedding(cfg.dim, cfg.conv_pos_kernel)
        self.time = TimestepEmbedding(cfg.dim)
        self.speaker = nn.Linear(cfg.speaker_dim, cfg.dim)
        self.blocks = nn.ModuleList(DiTBlock(cfg.dim, cfg.heads, cfg.ff_mult, cfg.dropout) for _ in range(cfg.depth))
        self.final_norm = FinalAdaNorm(cfg.dim)
        self.output = nn.Linear(cfg.dim, n_mels)

    def forward(self, x: torch.Tensor, cond: torch.Tensor, text: torch.Tensor, speaker: torch.Tensor,
                t: torch.Tensor | float, mask: torch.Tensor | None = None,
                drop_text: torch.Tensor | None = None, drop_speaker: torch.Tensor | None = None,
                return_features: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """`x`, `cond` `[B, T, M]`; `text` `[B, L, text_dim]` with L <= T (zero-padded to T here);
        `speaker` `[B, speaker_dim]`; `t` `[B]` or a number; `mask` `[B, T]` True on real frames.

        `drop_text` `[B]` zeroes the text and the prompt mel of those rows, `drop_speaker` their speaker
        vector: the unconditional passes of classifier-free guidance (and of its training).
        Returns the velocity `[B, T, M]`, and with `return_features` also the output of block
        `cfg.feature_layer` `[B, T, dim]`."""
        b, frames, _ = x.shape
        text = self._pad_text(text, frames)
        if drop_text is not None:
            keep = (~drop_text).to(x.dtype)[:, None, None]
            text, cond = text * keep.to(text.dtype), cond * keep
        if drop_speaker is not None:
            speaker = speaker * (~drop_speaker).to(speaker.dtype)[:, None]
        t = torch.as_tensor(t, device=x.device, dtype=torch.float32)
        t = t.expand(b) if t.dim() == 0 else t

        h = self.input(torch.cat([x, cond, text.to(x.dtype)], dim=-1))
        h = self.conv_pos(h, mask)
        c = self.time(t) + self.speaker(speaker)
        rope = rotary(frames, self.cfg.dim // self.cfg.heads, x.device)
        features = None
        for i, block in enumerate(self.blocks):
            h = block(h, c, mask, rope)
            if i == self.cfg.feature_layer:
                features = h
        v = masked(self.output(self.final_norm(h, c)), mask)
        return (v, features) if return_features else v

    def _pad_text(self, text: torch.Tensor, frames: int) -> torch.Tensor:
        length = text.shape[1]
        if length > frames:
            raise TavidError(f"{length} text tokens do not fit in {frames} mel frames", where="text",
                             fix="Give the speech more frames (a longer duration) or a shorter text.")
        return F.pad(text, (0, 0, 0, frames - length)) if length < frames else text


def infill_mask(lengths: torch.Tensor, generator: torch.Generator,
                fraction: tuple[float, float] = (0.7, 1.0), frames: int | None = None) -> torch.Tensor:
    """`[B, T]` bool, True on one random contiguous span per row (the frames to generate), covering a
    fraction in `fraction` of that row's `lengths`; the rest of the row is the prompt. T is
    `max(lengths)` unless `frames` is given. Drawn on the CPU from `generator` (device-independent)."""
    device = lengths.device
    lengths = lengths.to("cpu", torch.long)
    b = lengths.shape[0]
    frames = int(lengths.max()) if frames is None else frames
    lo, hi = fraction
    frac = lo + (hi - lo) * rand((b,), generator, "cpu")
    span = (frac * lengths).long().clamp(min=1)
    span = torch.minimum(span, lengths)
    start = (rand((b,), generator, "cpu") * (lengths - span + 1)).long()
    pos = torch.arange(frames)[None]
    return ((pos >= start[:, None]) & (pos < (start + span)[:, None])).to(device)


def drop_flags(batch: int, generator: torch.Generator, device: torch.device | str, p_text: float,
               p_speaker: float, p_both: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Which rows lose their text (and prompt), their speaker, or both, for classifier-free guidance
    training. The three cases are disjoint, so each probability is what it says."""
    if min(p_text, p_speaker, p_both) < 0 or p_text + p_speaker + p_both > 1:
        raise TavidError(f"condition dropout probabilities {p_text}, {p_speaker}, {p_both} are not valid",
                         where="p_drop", fix="Use probabilities of at least 0 that add up to at most 1.")
    u = rand((batch,), generator, device)
    both = u < p_both
    text_only = (u >= p_both) & (u < p_both + p_text)
    speaker_only = (u >= p_both + p_text) & (u < p_both + p_text + p_speaker)
    return both | text_only, both | speaker_only


def training_loss(dit: SpeechDiT, mel: torch.Tensor, mask: torch.Tensor, text: torch.Tensor,
                  speaker: torch.Tensor, generator: torch.Generator, p_drop_text: float = 0.2,
                  p_drop_speaker: float = 0.2, p_drop_both: float = 0.1,
                  time_kind: str = "uniform") -> torch.Tensor:
    """Flow-matching loss of infilling: a random span of 70-100 % of each utterance is generated, the
    rest is given as the prompt (`cond`); the loss counts the span's frames only.

    `mel` `[B, T, M]` (log-mel), `mask` `[B, T]` real frames, `text` `[B, L, text_dim]` the transcript of
    the whole utterance, `speaker` `[B, speaker_dim]`. F5-TTS drops the text and prompt together for its
    unconditional pass; the speaker is dropped separately so its guidance weight can be set on its own."""
    mask = mask.bool()
    span = infill_mask(mask.sum(1), generator, frames=mel.shape[1]).to(mel.device) & mask
    cond = mel * (~span & mask).unsqueeze(-1).to(mel.dtype)
    drop_text, drop_speaker = drop_flags(mel.shape[0], generator, mel.device, p_drop_text, p_drop_speaker,
                                         p_drop_both)

    def velocity(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return dit(x_t, cond, text, speaker, t, mask, drop_text=drop_text, drop_speaker=drop_speaker)

    return flow_matching_loss(velocity, mel, span, generator, time_kind=time_kind)


def guided_velocity(dit: SpeechDiT, cond: torch.Tensor, text: torch.Tensor, speaker: torch.Tensor,
                    mask: torch.Tensor | None, cfg_text: float, cfg_speaker: float
                    ) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The DiT's velocity with classifier-free guidance on text and speaker (weights 0 = none), the
    conditional and unconditional passes batched into one forward."""

    def batched(x: torch.Tensor, t: torch.Tensor, drop: Mapping[str, torch.Tensor]) -> torch.Tensor:
        copies = x.shape[0] // cond.shape[0]
        return dit(x, tile(cond, copies), tile(text, copies), tile(speaker, copies), t, tile(mask, copies),
                   drop_text=drop["text"], drop_speaker=drop["speaker"])

    return weighted_guidance(batched, {"text": cfg_text, "speaker": cfg_speaker})


@torch.no_grad()
def generate(dit: SpeechDiT, prompt_mel: torch.Tensor | None, total_frames: int, text: torch.Tensor,
             speaker: torch.Tensor, steps: int = 32, method: str = "euler", cfg_text: float = 2.0,
             cfg_speaker: float = 0.0, generator: torch.Generator | None = None, sway: float | None = -1.0,
             on_step: StepCallback | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Speak `text` after `prompt_mel`: returns the NEW mel `[B, total_frames - Tp, M]` and its features
    `[B, total_frames - Tp, dim]` (float32).

    `prompt_mel` `[B, Tp, M]` (or None) is the in-context prompt (the speaker's previous turn); `text`
    `[B, L, text_dim]` is the transcript of the prompt and the new speech together; `speaker`
    `[B, speaker_dim]`. The noise is drawn on the CPU from `generator`, so a seed gives the same speech on
    any device.

    The features come from one extra forward at t = 1 on the finished mel (prompt + generated) without
    guidance: they then describe the speech that was produced, not a noisy intermediate of the sampler,
    and they are what the network sees of clean speech, whatever sampler, steps or guidance were used."""
    device = text.device
    b = text.shape[0]
    m = dit.n_mels
    tp = 0 if prompt_mel is None else prompt_mel.shape[1]
    if total_frames <= tp:
        raise TavidError(f"total_frames {total_frames} leaves no room after the {tp}-frame prompt",
                         where="duration", fix="Ask for more frames than the prompt has.")
    if generator is None:
        generator = torch.Generator().manual_seed(0)
    cond = torch.zeros(b, total_frames, m, device=device)
    if prompt_mel is not None:
        cond[:, :tp] = prompt_mel.to(device, torch.float32)
    x0 = randn((b, total_frames, m), generator, device)
    mel = solve(guided_velocity(dit, cond, text, speaker, None, cfg_text, cfg_speaker), x0, steps, method,
                sway=sway, on_step=on_step).float()
    if tp:
        mel = torch.cat([cond[:, :tp], mel[:, tp:]], dim=1)
    t_end = torch.ones(b, device=device)
    _, features = dit(mel, cond, text, speaker, t_end, None, return_features=True)
    return mel[:, tp:], features[:, tp:].float()

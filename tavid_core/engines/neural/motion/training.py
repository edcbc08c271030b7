"""Training the motion mapper: batches of conversation windows, the flow-matching loss and the sync, smoothness
and listening-mouth losses.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from ....types import Motion, Speech
from ..common.flow import flow_matching_loss, rand
from ..common.motion_vector import JAW, motion_vector
from .config import ENERGY, SPEAKING, MotionMapperConfig
from .features import resample_frames, speech_inputs
from .net import MotionMapperNet

MIN_SYNC_FRAMES = 8     # a row needs this many speaking frames for its correlation to mean anything


# --------------------------------------------------------------------------------------------- losses
@dataclass
class MotionBatch:
    """Training examples: `motion` `[B, T, C]` raw values at the config's fps, `own` / `partner`
    `[B, T, F]` input features, `role` `[B]`, `mask` `[B, T]` True on real frames."""

    motion: torch.Tensor
    own: torch.Tensor
    partner: torch.Tensor
    role: torch.Tensor
    mask: torch.Tensor

    def to(self, device: torch.device | str) -> "MotionBatch":
        return MotionBatch(*(v.to(device) for v in (self.motion, self.own, self.partner, self.role, self.mask)))


Example = tuple[np.ndarray, np.ndarray, np.ndarray, int]   # motion [T, C], own [T, F], partner [T, F], role


def conversation_examples(speech: Speech, motions: Sequence[Motion], cfg: MotionMapperConfig) -> list[Example]:
    """Both people of one conversation as training examples, their motion resampled to `cfg.fps`."""
    frames = speech.num_frames(cfg.fps)
    inputs = speech_inputs(speech, cfg, frames)
    return [(resample_frames(motion_vector(m, cfg.code_dim), m.fps, frames, cfg.fps),
             inputs[p], inputs[1 - p], p) for p, m in enumerate(motions)]


def random_batch(examples: Sequence[Example], size: int, frames: int, generator: torch.Generator) -> MotionBatch:
    """`size` random crops of up to `frames` frames from random `examples` (shorter ones padded and masked)."""
    picks = (rand((size,), generator, "cpu") * len(examples)).long().tolist()
    starts = rand((size,), generator, "cpu").tolist()
    width_c, width_f = examples[0][0].shape[1], examples[0][1].shape[1]
    motion = np.zeros((size, frames, width_c), np.float32)
    own, partner = np.zeros((size, frames, width_f), np.float32), np.zeros((size, frames, width_f), np.float32)
    mask, role = np.zeros((size, frames), bool), np.zeros(size, np.int64)
    for i, (pick, u) in enumerate(zip(picks, starts)):
        m, a, b, r = examples[pick]
        n = min(frames, len(m))
        s = int(u * (len(m) - n + 1))
        motion[i, :n], own[i, :n], partner[i, :n], mask[i, :n], role[i] = m[s:s + n], a[s:s + n], b[s:s + n], True, r
    return MotionBatch(*(torch.from_numpy(v) for v in (motion, own, partner, role, mask)))


def _masked_mean(values: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
    w = where.to(values.dtype)
    return (values * w).sum() / w.sum().clamp(min=1.0)


def sync_loss(jaw: torch.Tensor, energy: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
    """1 - the Pearson correlation between `jaw` and `energy` `[B, T]` over the frames `where` is True,
    averaged over the rows with at least MIN_SYNC_FRAMES of them (0 when no row has)."""
    w = where.float()
    n = w.sum(1)
    rows = n >= MIN_SYNC_FRAMES
    if not rows.any():
        return jaw.sum() * 0.0
    n = n.clamp(min=1.0)
    dj = (jaw - (jaw * w).sum(1, keepdim=True) / n[:, None]) * w
    de = (energy - (energy * w).sum(1, keepdim=True) / n[:, None]) * w
    # eps inside the root: a flat row (no variance) must not send an infinite gradient through sqrt(0)
    corr = (dj * de).sum(1) / (dj.square().sum(1) * de.square().sum(1) + 1e-8).sqrt()
    return (1.0 - corr)[rows].mean()


def smoothness_loss(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared second difference over time of `x` `[B, T, C]` (jitter), on frames whose two
    neighbours are real too."""
    d2 = x[:, 2:] - 2 * x[:, 1:-1] + x[:, :-2]
    where = mask[:, 2:] & mask[:, 1:-1] & mask[:, :-2]
    return _masked_mean(d2.square().mean(-1), where)


def listening_mouth_loss(jaw: torch.Tensor, speaking: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared opening of the jaw (`[B, T]`, raw 0..1) on the real frames where the person is silent:
    a listener keeps the mouth closed."""
    return _masked_mean(jaw.clamp(min=0.0).square(), mask & (speaking < 0.5))


def motion_losses(net: MotionMapperNet, batch: MotionBatch, generator: torch.Generator, *,
                  sync_weight: float = 0.1, smooth_weight: float = 0.1, listening_weight: float = 0.1,
                  p_prompt: float = 0.5, p_drop: float = 0.1, times: torch.Tensor | None = None,
                  time_kind: str = "uniform") -> dict[str, torch.Tensor]:
    """The training losses of one batch: "flow" (conditional flow matching), "sync", "smooth",
    "listening_mouth" and their weighted sum "total".

    A share `p_prompt` of the rows gets its first `overlap_frames` frames as the prompt, as windows after
    the first do at sampling; those frames still count in the flow loss, so the network reproduces its
    prompt and the cross-fade at sampling blends two near-equal versions of the overlap. A share `p_drop`
    loses its speech features, for classifier-free guidance. The auxiliary losses judge the network's
    estimate of the clean motion, `x1 = x_t + (1 - t) v` (at t = 0 it is the conditional mean)."""
    device = batch.motion.device
    b, frames, _ = batch.motion.shape
    mask = batch.mask.bool()
    x1 = net.normalise(batch.motion)
    with_prompt = rand((b,), generator, device) < p_prompt
    prompt_mask = with_prompt[:, None] & (torch.arange(frames, device=device)[None] < net.cfg.overlap_frames) & mask
    prompt = x1 * prompt_mask.unsqueeze(-1)
    drop = rand((b,), generator, device) < p_drop
    seen: dict[str, torch.Tensor] = {}

    def velocity(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        v = net(x_t, t, batch.own, batch.partner, batch.role, mask, prompt, prompt_mask, drop_speech=drop)
        seen.update(x_t=x_t, t=t, v=v)
        return v

    flow = flow_matching_loss(velocity, x1, mask, generator, times=times, time_kind=time_kind)
    estimate = seen["x_t"] + (1 - seen["t"])[:, None, None] * seen["v"].float()
    jaw = net.denormalise(estimate)[..., JAW]
    speaking = batch.own[..., SPEAKING]
    heard = mask & ~drop[:, None]
    sync = sync_loss(jaw, batch.own[..., ENERGY], heard & (speaking >= 0.5))
    smooth = smoothness_loss(estimate, mask)
    listening = listening_mouth_loss(jaw, speaking, heard)
    total = flow + sync_weight * sync + smooth_weight * smooth + listening_weight * listening
    return {"total": total, "flow": flow, "sync": sync, "smooth": smooth, "listening_mouth": listening}

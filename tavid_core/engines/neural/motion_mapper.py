"""The neural motion mapper: a transformer over time that turns both people's speech into each person's
Motion (head pose, expression channels, optional latent codes) by conditional flow matching, so the
motion is sampled (varied, stochastic) rather than predicted as one average.

Input features: per person, per frame at `MotionMapperConfig.fps`, defined so that BOTH speech engines
drive it (the built-in voices give the named features only; the neural speech generator adds its
DiT's hidden layer):

    0     energy      loudness, 0 silent .. 1 full scale      Speech feature "energy" (0 if the speech lacks it)
    1     pitch       octaves above 100 Hz, 0 where unvoiced  Speech feature "pitch"  (likewise)
    2     voiced      share of the frame that is voiced       Speech feature "voiced" (likewise)
    3     speaking    1 inside one of the person's timeline segments (turns and backchannels), at the
                      frame centre (`Speech.activity`)
    4     has_hidden  1 when the Speech has the columns hidden_0 .. hidden_{hidden_dim-1}, else 0 (the same
                      in every frame of the utterance)
    5...  hidden      those hidden_dim columns, or zeros when has_hidden is 0 (built-in speech, or hidden
                      features of another width)

Each feature is averaged over its frame's span (frame centre +- half a frame), which resamples any
feature rate (100 Hz built-in, 31.25 Hz neural) to the motion rate without aliasing. The network reads,
for ONE target person, that person's features, the partner's features and the role (0 = A, 1 = B), so
listening behaviour comes out of the network (it hears the partner), not out of rules.

Motion vector per frame (C = 15 + code_dim): pose (POSE_CHANNELS), expr (EXPR_CHANNELS), then codes.
The flow runs on normalised values `(value - offset) / scale`, fixed per channel and stored as buffers
(so a checkpoint carries the normalisation it was trained with):

    yaw, pitch, roll             offset 0, scale 0.1 rad (natural head motion is a few hundredths of a radian)
    tx, ty                       offset 0, scale 0.02 (fraction of the face size)
    scale                        offset 1, scale 0.02
    expr in 0..1 (jaw_open, mouth_round, smile, blinks)    offset 0.5, scale 0.5: the range becomes -1..1
    expr in -1..1 (mouth_wide, brow_raise, gaze_x, gaze_y) offset 0, scale 0.5
    codes                        offset 0, scale 1 (the face model's codes are expected near unit scale)

Long inputs are generated in windows of `window_frames`: every window after the first gets the previous
window's last `overlap_frames` frames as a prompt (infilling, like the speech DiT's in-context prompt)
and the two versions of the overlap are cross-faded, so only one window's tensors exist at a time.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from ...audio_features import SPEECH_FEATURES
from ...errors import TavidError
from ...runtime import Runtime
from ...types import EXPR_CHANNELS, POSE_CHANNELS, Motion, Speech
from ..protocols import MotionMapper, is_out_of_memory, release_memory
from .configs import SavedConfig, check_preset
from .flow import ODE_METHODS, StepCallback, flow_matching_loss, guided, rand, randn, solve, tile
from .inference import autocast, seeded
from .layers import ConvPositionEmbedding, DiTBlock, FinalAdaNorm, TimestepEmbedding, masked, rotary
from .windows import crossfade, windows

log = logging.getLogger("tavid")

INPUT_NAMES = SPEECH_FEATURES + ("speaking", "has_hidden")  # the named input columns, then the hidden ones
ENERGY, SPEAKING, HAS_HIDDEN = 0, 3, 4
JAW = len(POSE_CHANNELS) + EXPR_CHANNELS.index("jaw_open")   # column of jaw_open in the motion vector
UNIT_EXPR = ("jaw_open", "mouth_round", "smile", "blink_left", "blink_right")   # 0..1; the others are -1..1
# pose limits the motion is clipped to: beyond them a single photo cannot be turned convincingly
MAX_ROTATION = 0.5      # radians (~29 degrees)
MAX_SHIFT = 0.2         # fraction of the face size
SCALE_RANGE = (0.8, 1.25)
# channels expressiveness scales: head motion, smile and brows. The mouth follows the speech, blinks are
# all-or-nothing and the gaze says where the partner is, so those stay as generated.
EXPRESSIVE_EXPR = ("smile", "brow_raise")
NEUTRAL_POSE = (0.0, 0.0, 0.0, 0.0, 0.0, 1.0)

DEFAULT_STEPS = 16
DEFAULT_SWAY = -1.0
MIN_SYNC_FRAMES = 8     # a row needs this many speaking frames for its correlation to mean anything


# --------------------------------------------------------------------------------------------- config
@dataclass(frozen=True)
class MotionMapperConfig(SavedConfig):
    """The motion mapper's network and how it walks through time. Travels in the checkpoint's metadata."""

    name: str = "base"
    fps: float = 25.0              # internal frame rate; the engine resamples to the rate asked for
    window_frames: int = 250       # frames one forward sees (10 s at 25 fps)
    overlap_frames: int = 25       # frames each window takes from the previous one as its prompt
    dim: int = 512
    depth: int = 12
    heads: int = 8
    ff_mult: float = 2.0
    hidden_dim: int = 1024         # width of the speech's hidden_* features it reads (0: named features only)
    code_dim: int = 0              # latent codes per frame for a neural face model (0: none)
    conv_pos_kernel: int = 15
    dropout: float = 0.0

    def __post_init__(self):
        where = f"motion config {self.name}"
        if self.dim % self.heads or (self.dim // self.heads) % 2:
            raise TavidError(f"dim {self.dim} must be a multiple of heads {self.heads} with an even head width",
                             where=where)
        if not 0 < self.overlap_frames < self.window_frames:
            raise TavidError(f"overlap_frames {self.overlap_frames} must be between 1 and window_frames - 1 "
                             f"({self.window_frames - 1})", where=where)
        if self.fps <= 0 or self.hidden_dim < 0 or self.code_dim < 0 or self.depth < 1:
            raise TavidError("fps and depth must be positive, hidden_dim and code_dim at least 0", where=where)

    @property
    def feature_width(self) -> int:
        """Input columns per person: the named ones and the hidden ones."""
        return len(INPUT_NAMES) + self.hidden_dim

    @property
    def motion_width(self) -> int:
        return len(POSE_CHANNELS) + len(EXPR_CHANNELS) + self.code_dim


def motion_config(preset: str) -> MotionMapperConfig:
    """One of the PRESETS; hidden_dim matches the speech DiT of the same preset (configs.speech_config)."""
    check_preset(preset)
    if preset == "tiny":
        return MotionMapperConfig(name="tiny", window_frames=80, overlap_frames=16, dim=64, depth=2, heads=2,
                                  hidden_dim=64, conv_pos_kernel=7)
    if preset == "small":
        return MotionMapperConfig(name="small", dim=256, depth=6, heads=4, hidden_dim=384)
    return MotionMapperConfig()


# ------------------------------------------------------------------------------------------- features
def _frame_means(values: np.ndarray, rate: float, frames: int, fps: float, block: int = 128) -> np.ndarray:
    """`values` `[N, D]` sampled at `rate` Hz (sample i covers [i, i+1) / rate) averaged over each of
    `frames` frames at `fps` ([j, j+1) / fps): the exact mean of the piecewise-constant signal, from its
    running integral. Beyond the last sample the signal is taken as 0 (silence). Column blocks keep the
    float64 integral small for wide hidden features."""
    n, d = values.shape
    out = np.zeros((frames, d), np.float32)
    if n == 0 or frames == 0:
        return out
    src = np.arange(n + 1) / rate
    edges = np.arange(frames + 1) / fps
    for lo in range(0, d, block):
        integral = np.zeros((n + 1, min(block, d - lo)))
        np.cumsum(values[:, lo:lo + block] / rate, axis=0, out=integral[1:])
        at = np.stack([np.interp(edges, src, integral[:, k]) for k in range(integral.shape[1])], axis=1)
        out[:, lo:lo + block] = np.diff(at, axis=0) * fps
    return out


def hidden_columns(speech: Speech, hidden_dim: int) -> list[int] | None:
    """Indices of hidden_0 .. hidden_{hidden_dim-1} in the speech's features, or None when it has no
    hidden features of exactly that width."""
    if hidden_dim == 0:
        return None
    names = speech.feature_names
    count = sum(1 for n in names if n.startswith("hidden_"))
    if count == 0:
        return None
    if count != hidden_dim:
        log.info("the speech has %d hidden features, the motion mapper reads %d: using the named ones only",
                 count, hidden_dim)
        return None
    try:
        return [names.index(f"hidden_{k}") for k in range(hidden_dim)]
    except ValueError:
        return None


def speech_inputs(speech: Speech, cfg: MotionMapperConfig, frames: int | None = None) -> np.ndarray:
    """Both people's input features `[2, frames, cfg.feature_width]` at `cfg.fps` (see the module
    docstring); `frames` defaults to `speech.num_frames(cfg.fps)`."""
    frames = speech.num_frames(cfg.fps) if frames is None else frames
    out = np.zeros((2, frames, cfg.feature_width), np.float32)
    named = [i for i, n in enumerate(SPEECH_FEATURES) if n in speech.feature_names]
    columns = [speech.feature_names.index(SPEECH_FEATURES[i]) for i in named]
    hidden = hidden_columns(speech, cfg.hidden_dim)
    for person in (0, 1):
        if columns:
            out[person][:, named] = _frame_means(speech.features[person][:, columns], speech.feature_rate,
                                                 frames, cfg.fps)
        out[person, :, SPEAKING] = speech.activity(person, frames, cfg.fps)
        if hidden is not None:
            out[person, :, HAS_HIDDEN] = 1.0
            out[person, :, len(INPUT_NAMES):] = _frame_means(speech.features[person][:, hidden],
                                                             speech.feature_rate, frames, cfg.fps)
    return out


def _resample_frames(values: np.ndarray, src_fps: float, frames: int, fps: float) -> np.ndarray:
    """`values` `[T, C]` at `src_fps` linearly interpolated at the centres of `frames` frames at `fps`
    (the end frames held): motion keeps its peaks (a blink) better than with averaging."""
    if len(values) == frames and src_fps == fps:
        return values.astype(np.float32)
    src = (np.arange(len(values)) + 0.5) / src_fps
    dst = (np.arange(frames) + 0.5) / fps
    return np.stack([np.interp(dst, src, values[:, c]) for c in range(values.shape[1])], axis=1).astype(np.float32)


def motion_vector(motion: Motion, code_dim: int = 0) -> np.ndarray:
    """A Motion as `[T, 15 + code_dim]` raw values: pose, EXPR_CHANNELS (by name), codes."""
    expr = np.stack([motion.channel(c) for c in EXPR_CHANNELS], axis=1)
    parts = [motion.pose, expr]
    if code_dim:
        if motion.codes is None or motion.codes.shape[1] != code_dim:
            have = "none" if motion.codes is None else f"{motion.codes.shape[1]} per frame"
            raise TavidError(f"the motion mapper needs {code_dim} latent codes per frame, the motion has {have}",
                             where="Motion.codes", fix="Extract the codes with the face model it was made for.")
        parts.append(motion.codes)
    return np.concatenate(parts, axis=1).astype(np.float32)


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


# ------------------------------------------------------------------------------------------- sampling
WindowCallback = Callable[[int, int, int, int], None]   # (index, count, start, stop)


@torch.no_grad()
def generate_motion(net: MotionMapperNet, own: torch.Tensor, partner: torch.Tensor, role: int, *,
                    steps: int = DEFAULT_STEPS, method: str = "euler", generator: torch.Generator | None = None,
                    cfg: float = 0.0, sway: float | None = DEFAULT_SWAY, on_step: StepCallback | None = None,
                    on_window: WindowCallback | None = None) -> torch.Tensor:
    """One person's motion `[T, C]` (raw units, float32 on the CPU) for `own` and `partner` features
    `[T, F]` at `net.cfg.fps`, any length.

    Windows of `window_frames` are generated in turn; each after the first has its first `overlap_frames`
    frames given as the prompt (the previous window's last frames) and its own version of them cross-faded
    linearly into the previous one. Only one window's tensors live on the device at a time; the features
    and the result stay on the CPU. Noise comes from `generator` (CPU), one window after the other.
    `cfg` is classifier-free guidance on the speech (0: none). `on_step(done, total)` counts steps over
    all windows; `on_window(index, count, start, stop)` runs before each window."""
    c = net.cfg
    frames = own.shape[0]
    if frames < 1:
        raise TavidError("there are no frames to make motion for", where="speech", fix="Give speech of some length.")
    if method not in ODE_METHODS:
        raise TavidError(f"unknown ODE sampler {method!r}", where="sampler",
                         fix=f"Use one of {', '.join(ODE_METHODS)}.")
    generator = torch.Generator().manual_seed(0) if generator is None else generator
    device = next(net.parameters()).device
    spans = windows(frames, c.window_frames, c.overlap_frames)
    out = torch.zeros(frames, c.motion_width)        # normalised, on the CPU
    role_t = torch.tensor([role], device=device)
    for index, (start, stop) in enumerate(spans):
        if on_window is not None:
            on_window(index, len(spans), start, stop)
        length = stop - start
        o = 0 if index == 0 else min(c.overlap_frames, length)
        prompt = torch.zeros(1, length, c.motion_width, device=device)
        prompt_mask = torch.zeros(1, length, dtype=torch.bool, device=device)
        if o:
            prompt[0, :o] = out[start:start + o].to(device)
            prompt_mask[0, :o] = True
        own_w, partner_w = own[None, start:stop].to(device), partner[None, start:stop].to(device)

        def batched(x: torch.Tensor, t: torch.Tensor, drop: Mapping[str, torch.Tensor]) -> torch.Tensor:
            k = x.shape[0]
            return net(x, t, tile(own_w, k), tile(partner_w, k), tile(role_t, k), None, tile(prompt, k),
                       tile(prompt_mask, k), drop_speech=drop["speech"])

        def step(done: int, total: int, base: int = index * steps) -> None:
            if on_step is not None:
                on_step(base + done, len(spans) * steps)

        x0 = randn((1, length, c.motion_width), generator, device)
        x = solve(guided(batched, {"speech": cfg}), x0, steps, method, sway=sway, on_step=step)[0].float().cpu()
        if o:
            out[start:start + o] = crossfade(out[start:start + o], x[:o])
        out[start + o:stop] = x[o:]
    return net.denormalise(out)


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
    return [(_resample_frames(motion_vector(m, cfg.code_dim), m.fps, frames, cfg.fps),
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


# --------------------------------------------------------------------------------------------- engine
class NeuralMotionMapper(MotionMapper):
    """Both people's Motion from a Speech of either speech engine, by the flow-matching network."""

    name = "tavid-motion"
    family = "neural"

    def __init__(self, net: MotionMapperNet, precision: torch.dtype = torch.float32, steps: int = DEFAULT_STEPS,
                 method: str = "euler", cfg: float = 0.0, sway: float | None = DEFAULT_SWAY):
        if method not in ODE_METHODS:
            raise TavidError(f"unknown ODE method {method!r}", where="method", fix=f"Use one of {', '.join(ODE_METHODS)}.")
        self.net = net.eval()
        self.config = net.cfg
        self.precision = precision
        self.steps, self.method, self.cfg, self.sway = steps, method, cfg, sway

    def modules(self) -> list[torch.nn.Module]:
        return [self.net]

    def map(self, speech: Speech, *, runtime: Runtime, fps: float = 25.0, seed: int = 0,
            expressiveness: float = 1.0) -> tuple[Motion, Motion]:
        if not fps > 0:
            raise TavidError(f"fps must be positive, got {fps}", where="fps")
        runtime.load(self)
        cfg = self.config
        frames, inner = speech.num_frames(fps), max(1, speech.num_frames(cfg.fps))
        inputs = torch.from_numpy(speech_inputs(speech, cfg, inner))
        motions = []
        # the "motion" stage: one progress tick per person, an interruption check before every window and step
        for person in runtime.steps((0, 1), 2, "motion"):
            raw = self._generate(inputs[person], inputs[1 - person], person, seeded(seed, person), runtime)
            motions.append(self._motion(speech, person, raw.numpy(), frames, fps, expressiveness))
        return motions[0], motions[1]

    def _generate(self, own: torch.Tensor, partner: torch.Tensor, person: int, generator: torch.Generator,
                  runtime: Runtime) -> torch.Tensor:
        device = runtime.device

        def check(*_) -> None:
            runtime.check_interrupt()

        try:
            with torch.inference_mode(), autocast(device, self.precision):
                return generate_motion(self.net, own, partner, person, steps=self.steps, method=self.method,
                                       generator=generator, cfg=self.cfg, sway=self.sway, on_step=check,
                                       on_window=check)
        except Exception as e:  # noqa: BLE001 - only memory errors become advice, the rest re-raised
            if not is_out_of_memory(e):
                raise
            release_memory(runtime)
            raise TavidError(f"out of memory on {device.type} making motion in windows of "
                             f"{self.config.window_frames} frames", where="motion mapper",
                             fix="Load the model in fp16 or bf16, or close other programs that use the memory.") from None

    def _motion(self, speech: Speech, person: int, raw: np.ndarray, frames: int, fps: float,
                expressiveness: float) -> Motion:
        cfg = self.config
        values = _resample_frames(raw, cfg.fps, frames, fps)
        pose, expr = values[:, :6], values[:, 6:6 + len(EXPR_CHANNELS)]
        codes = values[:, 6 + len(EXPR_CHANNELS):] if cfg.code_dim else None
        neutral = np.asarray(NEUTRAL_POSE, np.float32)
        pose = neutral + expressiveness * (pose - neutral)
        for name in EXPRESSIVE_EXPR:   # neutral expression is 0 in every channel
            expr[:, EXPR_CHANNELS.index(name)] *= expressiveness
        pose[:, :3] = np.clip(pose[:, :3], -MAX_ROTATION, MAX_ROTATION)
        pose[:, 3:5] = np.clip(pose[:, 3:5], -MAX_SHIFT, MAX_SHIFT)
        pose[:, 5] = np.clip(pose[:, 5], *SCALE_RANGE)
        for k, name in enumerate(EXPR_CHANNELS):
            expr[:, k] = np.clip(expr[:, k], 0.0 if name in UNIT_EXPR else -1.0, 1.0)
        return Motion(fps=fps, pose=pose, expr=expr, speaking=speech.activity(person, frames, fps),
                      expr_names=EXPR_CHANNELS, codes=codes)

    def describe(self) -> dict:
        return super().describe() | {"config": self.config.name, "steps": self.steps, "method": self.method,
                                     "cfg": self.cfg, "precision": str(self.precision).replace("torch.", "")}

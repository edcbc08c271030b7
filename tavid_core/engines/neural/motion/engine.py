"""The neural motion mapper engine: both people's Motion from a Speech of either speech engine."""
from __future__ import annotations

import numpy as np
import torch

from ....errors import TavidError
from ....runtime import Runtime
from ....types import EXPR_CHANNELS, Motion, Speech
from ...memory import out_of_memory_advice
from ...protocols import MotionMapper
from ..common.flow import check_ode_method
from ..common.inference import autocast, seeded
from .config import (DEFAULT_STEPS, DEFAULT_SWAY, EXPRESSIVE_EXPR, MAX_ROTATION, MAX_SHIFT, NEUTRAL_POSE, SCALE_RANGE,
                     UNIT_EXPR)
from .features import resample_frames, speech_inputs
from .generate import generate_motion
from .net import MotionMapperNet

# ------------------------------------------------------------------------------------------- sampling


# --------------------------------------------------------------------------------------------- engine
class NeuralMotionMapper(MotionMapper):
    """Both people's Motion from a Speech of either speech engine, by the flow-matching network."""

    name = "tavid-motion"
    family = "neural"

    def __init__(self, net: MotionMapperNet, precision: torch.dtype = torch.float32, steps: int = DEFAULT_STEPS,
                 method: str = "euler", cfg: float = 0.0, sway: float | None = DEFAULT_SWAY):
        check_ode_method(method, where="method")
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

        doing = f"making motion in windows of {self.config.window_frames} frames"
        with (out_of_memory_advice(runtime, doing, "motion mapper"), torch.inference_mode(),
              autocast(device, self.precision)):
            return generate_motion(self.net, own, partner, person, steps=self.steps, method=self.method,
                                   generator=generator, cfg=self.cfg, sway=self.sway, on_step=check, on_window=check)

    def _motion(self, speech: Speech, person: int, raw: np.ndarray, frames: int, fps: float,
                expressiveness: float) -> Motion:
        cfg = self.config
        values = resample_frames(raw, cfg.fps, frames, fps)
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

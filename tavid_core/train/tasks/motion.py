"""`tavid train motion`: the motion mapper learns how both people of recorded conversations move while
they speak and listen, from their speech (the losses of `motion_mapper.motion_losses`: flow matching,
plus lip sync, smoothness and a closed mouth while listening).

Examples are the people of the dyadic clips: each person's motion labels with their own and their
partner's speech features (`conversation_examples`). A person counts once per `window_frames` of their
clip in each pass over the data; each time they are drawn, a window of `window_frames` starting at a
random frame is cut from them (a shorter clip is padded and masked). The window, the flow's noise and
times and the prompt and guidance-dropout choices come from one CPU generator seeded by the run's seed,
the step and the batch's examples, so a run gives the same weights on any device and after a resume.

The run writes DIR/motion.safetensors (the trainer names the file after `block`): the `motion_mapper`
block (MotionMapperNet) with its MotionMapperConfig under `tavid_config["motion"]`.
"""
from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING, Sequence

import torch
from torch import nn

from ...checkpoints import MOTION_SECTION
from ...engines.neural.common.inference import seeded
from ...engines.neural.motion.config import MotionMapperConfig
from ...engines.neural.motion.net import MotionMapperNet
from ...engines.neural.motion.training import Example, MotionBatch, conversation_examples, motion_losses, random_batch
from ...errors import TavidError
from ..task import TrainTask

if TYPE_CHECKING:
    from ..data.face_data import DyadicClip


def motion_metadata(config: MotionMapperConfig) -> dict:
    """The `tavid_config` of a motion mapper checkpoint."""
    return {MOTION_SECTION: config.to_dict()}


def window_batch(examples: Sequence[Example], frames: int, generator: torch.Generator) -> MotionBatch:
    """One random window of up to `frames` frames from each of `examples`, in their order (the trainer's
    data order decides who is in the batch; `random_batch` alone would pick at random)."""
    rows = [random_batch([example], 1, frames, generator) for example in examples]
    return MotionBatch(*(torch.cat([getattr(r, f.name) for r in rows]) for f in fields(MotionBatch)))


class MotionTask(TrainTask):
    block = "motion"

    def __init__(self, config: MotionMapperConfig, clips: Sequence[DyadicClip], seed: int = 0):
        if not clips:
            raise TavidError("no conversations to train the motion mapper on", where="manifest")
        self.cfg, self.seed = config, seed
        self.examples: list[Example] = [
            example for clip in clips
            for example in conversation_examples(clip.speech, [person.motion for person in clip.people], config)]
        # a long clip holds more distinct windows than a short one, so it is drawn more often
        self.index = [e for e, (motion, *_) in enumerate(self.examples)
                      for _ in range(max(1, round(len(motion) / config.window_frames)))]
        with torch.random.fork_rng(devices=[]):  # the same initial weights for a seed, whatever ran before
            torch.manual_seed(seed)
            self.net = MotionMapperNet(config)

    def modules(self) -> dict[str, nn.Module]:
        return {"motion_mapper": self.net}

    def dataset(self) -> list[int]:
        return list(range(len(self.index)))

    def collate(self, items: list[int]) -> dict[str, torch.Tensor]:
        # windows are cut in `loss`, which knows the step their randomness is drawn for
        return {"index": torch.tensor(items)}

    def loss(self, batch: dict[str, torch.Tensor], step: int) -> tuple[torch.Tensor, dict[str, float]]:
        items = batch["index"].tolist()
        generator = seeded(self.seed, step, *items)
        windows = window_batch([self.examples[self.index[i]] for i in items], self.cfg.window_frames, generator)
        losses = motion_losses(self.net, windows.to(batch["index"].device), generator)
        return losses["total"], {name: float(value.detach()) for name, value in losses.items() if name != "total"}

    def config(self) -> dict:
        return motion_metadata(self.cfg)

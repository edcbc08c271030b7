"""What the shared trainer needs from one block's training: `tavid train speech|vocoder|speaker-mapper`
(and, on the face side, motion|face|vae) are each a `TrainTask`; the loop, optimiser, EMA, mixed
precision, checkpoints, resume and data parallelism live once in `trainer.py`.

A task owns its networks, its data and its losses. Networks in `modules()` are optimised, averaged
(EMA) and saved under their block names (`speech_model.`, `vocoder.`, ...), so the final file is a
TAVID checkpoint that `tavid generate --engines` and the Checkpoint Loader read. Networks in
`critics()` (a vocoder's discriminators) get their own optimiser and `critic_loss`, and are kept only
in the resume state.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Sequence

import torch
from torch import nn


class TrainTask(ABC):
    block: str = "task"  # the name `tavid train` takes

    @abstractmethod
    def modules(self) -> dict[str, nn.Module]:
        """Trained networks by checkpoint block name."""

    def frozen(self) -> dict[str, nn.Module]:
        """Networks the task uses but does not train (a speech model that scores a speaker mapper); they are
        moved to the device and saved with the result, so the file is complete."""
        return {}

    def critics(self) -> dict[str, nn.Module]:
        return {}

    @abstractmethod
    def dataset(self) -> Sequence[Any]:
        """Training examples; the trainer shuffles, shards across processes and batches them."""

    @abstractmethod
    def collate(self, items: list[Any]) -> dict[str, torch.Tensor]:
        """A batch of examples (tensors on the CPU; the trainer moves them)."""

    @abstractmethod
    def loss(self, batch: dict[str, torch.Tensor], step: int) -> tuple[torch.Tensor, dict[str, float]]:
        """The loss to minimise and named values to log."""

    def critic_loss(self, batch: dict[str, torch.Tensor], step: int) -> torch.Tensor | None:
        """The critics' loss on the same batch, or None while they are not trained yet."""
        return None

    @abstractmethod
    def config(self) -> dict:
        """The `tavid_config` metadata of the saved checkpoint (block -> settings)."""

"""The one interface every engine uses for devices, model placement, progress and cancellation.

Engines never move modules to a device or print progress themselves: they ask the runtime. Outside
ComfyUI that is `StandaloneRuntime` (plain device placement, tqdm); inside ComfyUI the node pack
supplies an implementation backed by ComfyUI's model management (ModelPatcher + load_models_gpu,
ProgressBar, interrupt checks), so ComfyUI can offload our networks like its own.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Iterable, Protocol

import torch

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}   # limits.PRECISIONS but auto


class Progress(Protocol):
    def update(self, n: int = 1) -> None: ...
    def close(self) -> None: ...


class ManagedModule(Protocol):
    """What an engine exposes for placement: its networks (empty for engines without weights)."""

    def modules(self) -> list[torch.nn.Module]: ...


class Runtime(ABC):
    """Device, dtype, model loading, progress and interruption for one run."""

    @property
    @abstractmethod
    def device(self) -> torch.device:
        """Where computation happens."""

    @property
    def dtype(self) -> torch.dtype:
        return torch.float32

    @abstractmethod
    def load(self, *engines: ManagedModule) -> None:
        """Make sure the engines' networks are on `device`, offloading others if memory is short."""

    @abstractmethod
    def progress(self, total: int, desc: str) -> Progress:
        """A progress reporter for `total` steps of work; close it when done."""

    def check_interrupt(self) -> None:
        """Raise if the user cancelled; call it between steps of long loops."""

    def steps(self, items: Iterable, total: int, desc: str):
        """Iterate `items` with progress and an interruption check before each one."""
        bar = self.progress(total, desc)
        try:
            for item in items:
                self.check_interrupt()
                yield item
                bar.update(1)
        finally:
            bar.close()

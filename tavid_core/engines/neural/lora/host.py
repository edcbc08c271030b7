"""What an engine implements to take LoRAs (adapters.py applies them): which block its LoRA
files are for, its network, its saved configuration and how to judge a file's, and how to make a copy
of itself around another network.

Kept apart from adapters.py so engines can implement it without importing peft: only applying a LoRA
needs peft.
"""
from __future__ import annotations

import os
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Sequence

from torch import nn

from ....checkpoints import BLOCK_NAMES, FACE_SECTION, SPEECH_SECTION
from ....errors import TavidError
from ...protocols import FaceModel, SpeechGenerator

if TYPE_CHECKING:
    from .adapters import LoraFile

# the blocks whose engines may take LoRAs, and the `tavid_config` section of a LoRA file that holds the
# configuration of the model it was trained on (the same section as in that model's own checkpoint)
LORA_SECTIONS = {"speech_model": SPEECH_SECTION, "face_model": FACE_SECTION}
LORA_BLOCKS = tuple(LORA_SECTIONS)
# the block of an engine, told by its protocol, for messages about engines that take no LoRA
_PROTOCOL_BLOCKS = ((SpeechGenerator, "speech_model"), (FaceModel, "face_model"))


class LoraHost(ABC):
    """An engine LoRAs can patch. `apply_loras` never modifies it: it merges the LoRAs into a copy of
    `lora_base()` and asks for a new engine around that copy (`with_lora_network`), which remembers the
    base and what was applied, so a further LoRA is merged into the base together with the earlier ones."""

    lora_block: str                                      # a key of LORA_SECTIONS: "speech_model", "face_model"
    lora_applied: tuple[tuple[LoraFile, float], ...] = ()  # (file, strength) merged into this engine's network
    _lora_base: nn.Module | None = None                  # the unpatched network, on a patched engine

    @property
    def lora_section(self) -> str:
        """The metadata section of a LoRA file holding the configuration of the model it was trained on."""
        return LORA_SECTIONS[self.lora_block]

    @abstractmethod
    def lora_network(self) -> nn.Module:
        """The network this engine runs, the one whose attention LoRAs adapt (with any LoRAs merged)."""

    @abstractmethod
    def lora_model_config(self) -> dict:
        """This engine's saved configuration (what a LoRA trained on it stores in its `lora_section`)."""

    @abstractmethod
    def check_lora_config(self, file_config: dict, where: str) -> None:
        """Raise a TavidError (at `where`, the file's name) when `file_config`, a LoRA file's
        `lora_section`, describes a model of another size than this one, saying which and how to fix it."""

    @abstractmethod
    def with_network(self, network: nn.Module) -> "LoraHost":
        """A new engine, the same as this one in everything but its network, which is `network`."""

    def lora_base(self) -> nn.Module:
        """The unpatched network LoRAs merge into: the one this engine was patched from, or its own."""
        return self._lora_base if self._lora_base is not None else self.lora_network()

    def with_lora_network(self, network: nn.Module, applied: Sequence[tuple[LoraFile, float]]) -> "LoraHost":
        """A new engine running `network`, which is `lora_base()` with `applied` merged in; this one is unchanged
        (ComfyUI graphs share engine handles)."""
        patched = self.with_network(network)
        patched._lora_base = self.lora_base()
        patched.lora_applied = tuple(applied)
        return patched

    @property
    def loras(self) -> list[tuple[str, float]]:
        """The (file, strength) of every LoRA applied, in order."""
        return [(lora.path, strength) for lora, strength in self.lora_applied]

    def lora_description(self) -> dict:
        """For `describe()`: the LoRAs applied by file name and strength (nothing when none is)."""
        return {"loras": [(os.path.basename(p), s) for p, s in self.loras]} if self.lora_applied else {}


def _protocol_block(engine) -> str | None:
    """The block of an engine by the protocol it implements (None: neither a speech nor a face model)."""
    return next((block for protocol, block in _PROTOCOL_BLOCKS if isinstance(engine, protocol)), None)


def not_a_host(engine, block: str | None = None) -> TavidError:
    """The error for an engine that takes no LoRA (`block`: where it came in; default: its protocol's)."""
    block = block or _protocol_block(engine)
    model = BLOCK_NAMES.get(block, "model")
    name = getattr(engine, "name", type(engine).__name__)
    return TavidError(f"the {name} engine is not a neural TAVID {model} a LoRA could patch", where=block or "model",
                      fix=f"Load the {model} with TAVID Checkpoint Loader (tavid generate --engines).")


def as_host(engine, block: str | None = None) -> LoraHost:
    """`engine` as a LoraHost, or the error saying it takes no LoRA."""
    if not isinstance(engine, LoraHost):
        raise not_a_host(engine, block)
    return engine

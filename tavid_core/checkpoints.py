"""TAVID checkpoints: safetensors files, never pickles, with the configuration in the metadata.

A checkpoint holds one block or a bundle; tensor names start with the block they belong to
(`text_encoder.`, `speech_model.`, `vocoder.`, `speaker_mapper.`, `motion_mapper.`, `face_model.`) and
the metadata key `tavid_config` holds a JSON object of per-block configurations.

The neural engines that read these files are not part of this version; `load_engines` reads and checks
the file, then says so plainly instead of failing somewhere obscure.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass

from .errors import EngineUnavailableError, TavidError

BLOCKS = ("text_encoder", "speech_model", "vocoder", "speaker_mapper", "motion_mapper", "face_model")
CONFIG_KEY = "tavid_config"


@dataclass(frozen=True)
class CheckpointInfo:
    path: str
    blocks: dict[str, int]   # block -> number of tensors
    other: int               # tensors that belong to no known block
    config: dict
    metadata: dict


def inspect_checkpoint(path: str) -> CheckpointInfo:
    """Read a checkpoint's header (tensor names and metadata) without loading any weights."""
    from safetensors import safe_open
    name = os.path.basename(path)
    if not path.lower().endswith(".safetensors"):
        raise TavidError("only .safetensors checkpoints are read (pickled .ckpt/.pt/.bin files can run code)",
                         where=name, fix="Convert the file to safetensors.")
    try:
        with safe_open(path, framework="pt") as f:
            keys = list(f.keys())
            metadata = dict(f.metadata() or {})
    except FileNotFoundError:
        raise TavidError("no such checkpoint file", where=name) from None
    except Exception as e:  # safetensors raises its own error types for damaged headers
        raise TavidError(f"not a readable safetensors file ({e})", where=name,
                         fix="Check that the download finished and the file is a .safetensors checkpoint.") from None
    blocks: dict[str, int] = {}
    other = 0
    for key in keys:
        block = key.split(".", 1)[0]
        if block in BLOCKS:
            blocks[block] = blocks.get(block, 0) + 1
        else:
            other += 1
    config = {}
    if CONFIG_KEY in metadata:
        try:
            config = json.loads(metadata[CONFIG_KEY])
        except json.JSONDecodeError:
            raise TavidError(f"its {CONFIG_KEY} metadata is not valid JSON", where=name) from None
    return CheckpointInfo(path=path, blocks=blocks, other=other, config=config, metadata=metadata)


def load_engines(path: str, dtype: str = "auto", device: str = "auto"):
    """The engines stored in a checkpoint. This version has no neural engines, so after checking the file
    it raises an error that says what the file holds and what to use instead."""
    info = inspect_checkpoint(path)
    held = ", ".join(f"{b} ({n} tensors)" for b, n in info.blocks.items()) or "no TAVID blocks"
    raise EngineUnavailableError(
        f"the checkpoint holds {held}, but this version of ComfyUI-TAVID has no neural engines to run it yet",
        where=os.path.basename(path), fix="Use the TAVID Built-in Engines loader (tavid generate uses it by default).")

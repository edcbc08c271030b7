"""`tavid bundle`: the blocks of several training runs joined into one checkpoint, checked to load."""
from __future__ import annotations

import json
import os
from typing import Sequence

from ...checkpoints import CONFIG_KEY, write_checkpoint
from ...errors import TavidError
from .loader import SPEECH_BLOCKS, load_speech_networks, speech_metadata


def bundle(output: str, inputs: Sequence[str]) -> str:
    """Write every speech block of `inputs` (a later file's block replaces an earlier one's) into `output`."""
    if not output.lower().endswith(".safetensors"):
        raise TavidError("a bundle is a .safetensors file", where=output, fix="Name it like tavid_speech.safetensors.")
    loaded = load_speech_networks(inputs)
    if loaded is None:
        raise TavidError("none of the files holds TAVID speech networks", where=", ".join(inputs))
    config, networks = loaded
    tensors = {f"{block}.{key}": value for block in SPEECH_BLOCKS if block in networks
               for key, value in networks[block].state_dict().items()}
    metadata = {CONFIG_KEY: json.dumps(speech_metadata(config)),
                "tavid_bundle": json.dumps([os.path.basename(p) for p in inputs])}
    write_checkpoint(output, tensors, metadata)
    return output

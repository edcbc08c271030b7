"""`tavid bundle`: the blocks of several training runs joined into one checkpoint, checked to load."""
from __future__ import annotations

import json
import os
from typing import Sequence

from ..checkpoints import (CONFIG_KEY, FACE_SECTION, MOTION_SECTION, VAE_SECTION, CheckpointInfo, inspect_checkpoint,
                           write_checkpoint)
from ..errors import TavidError
from .neural.face.loader import load_face_side
from .neural.motion.loader import load_motion_side
from .neural.speech.loader import SPEECH_BLOCKS, load_speech_networks, speech_metadata

# face-side blocks and the configuration sections that travel with them
FACE_SIDE = {"motion_mapper": (MOTION_SECTION,), "face_model": (FACE_SECTION, VAE_SECTION)}


def _face_tensors(info: CheckpointInfo, block: str) -> dict:
    from safetensors import safe_open
    with safe_open(info.path, framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys() if k.startswith(block + ".")}


def bundle(output: str, inputs: Sequence[str], vae: str | None = None) -> str:
    """Write every block of `inputs` (a later file's block replaces an earlier one's) into `output`, after
    loading them together once (so a bundle that was written also loads). `vae`: the Stable Diffusion VAE
    a face model needs, only to check it; it is not copied into the bundle."""
    if not output.lower().endswith(".safetensors"):
        raise TavidError("a bundle is a .safetensors file", where=output, fix="Name it like tavid_speech.safetensors.")
    loaded = load_speech_networks(inputs)
    face = load_motion_side(inputs) | load_face_side(inputs, vae=vae)
    if loaded is None and not face:
        raise TavidError("none of the files holds TAVID networks", where=", ".join(inputs))
    tensors, config = {}, {}
    if loaded is not None:
        speech_config, networks = loaded
        tensors = {f"{block}.{key}": value for block in SPEECH_BLOCKS if block in networks
                   for key, value in networks[block].state_dict().items()}
        config = speech_metadata(speech_config)
    infos = [inspect_checkpoint(p) for p in inputs]
    for block, sections in FACE_SIDE.items():
        holders = [i for i in infos if block in i.blocks]
        if block in face and holders:
            tensors |= _face_tensors(holders[-1], block)
            config |= {s: holders[-1].config[s] for s in sections if s in holders[-1].config}
    metadata = {CONFIG_KEY: json.dumps(config), "tavid_bundle": json.dumps([os.path.basename(p) for p in inputs])}
    write_checkpoint(output, tensors, metadata)
    return output

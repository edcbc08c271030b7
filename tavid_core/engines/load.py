"""Engines from checkpoint files: every neural block the files hold, the built-in engines for the blocks
they lack. The one place that knows every engine family (checkpoints.py knows only the file format)."""
from __future__ import annotations

import os
from typing import Sequence

import torch

from ..errors import TavidError
from ..runtime.standalone import pick_device
from .builtin import load_builtin_engines
from .neural.face.loader import load_face_side
from .neural.motion.loader import load_motion_side
from .neural.speech.f5.side import load_f5_side
from .neural.speech.loader import load_speech_side
from .protocols import EngineSet


def load_engines(path: "str | Sequence[str]", dtype: str = "auto", device: str = "auto", vae: str | None = None):
    """The engines stored in one checkpoint (or several that belong together); the built-in engines fill
    the blocks they lack. `dtype`: auto, fp32, fp16 or bf16; `device`: auto, cpu, cuda, ...; `vae`: the
    Stable Diffusion VAE file a face model trained on one needs."""
    paths = [path] if isinstance(path, str) else list(path)
    target = pick_device("auto" if device in ("auto", "gpu") else device)
    return load_neural_engines(paths, dtype=dtype, device=target, vae=vae)


def load_neural_engines(paths: Sequence[str], *, dtype: str = "auto", device: torch.device | None = None,
                        vae: str | None = None) -> EngineSet:
    """Every engine a set of checkpoints provides; the built-in engines fill the blocks they lack. `vae`:
    a Stable Diffusion VAE file, for a face model trained on one."""
    builtin = load_builtin_engines()
    speech = load_speech_side(paths, dtype=dtype, device=device) or {}
    f5 = load_f5_side(paths, faces=builtin.speaker_mapper, prompt_voices=builtin.speech_model, dtype=dtype,
                      device=device)
    if speech and f5:
        raise TavidError("the files hold two speech sides, TAVID's and F5-TTS's", where=", ".join(
            os.path.basename(p) for p in paths), fix="Give the files of one speech model.")
    found = speech | f5
    for side in (load_motion_side(paths, dtype=dtype, device=device),
                 load_face_side(paths, dtype=dtype, device=device, vae=vae)):
        found |= side
    if not found:
        name = ", ".join(os.path.basename(p) for p in paths)
        raise TavidError("the file holds no TAVID networks: none of its tensors belongs to a TAVID block, so it is "
                         "a checkpoint of another kind of model", where=name,
                         fix="Move it to the folder of the model it is for, and pick a TAVID checkpoint here.")
    return EngineSet(**{block: found.get(block) or getattr(builtin, block) for block in EngineSet.BLOCKS})

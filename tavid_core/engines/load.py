"""Engines from checkpoint files: every neural block the files hold, the built-in engines for the blocks
they lack. The one place that knows every engine family (checkpoints.py knows only the file format)."""
from __future__ import annotations

import os
from typing import Sequence

import torch

from ..errors import TavidError
from ..runtime.standalone import pick_device
from .builtin import load_builtin_engines
from .neural.face.liveportrait.files import folder_files, split_liveportrait
from .neural.face.liveportrait.loader import load_liveportrait_side
from .neural.face.loader import load_face_side
from .neural.motion.loader import load_motion_side
from .neural.speech.f5.side import load_f5_side
from .neural.speech.loader import load_speech_side
from .protocols import EngineSet, FaceModel


def load_engines(path: "str | Sequence[str]", dtype: str = "auto", device: str = "auto", vae: str | None = None):
    """The engines stored in one checkpoint (or several that belong together); the built-in engines fill
    the blocks they lack. `dtype`: auto, fp32, fp16 or bf16; `device`: auto, cpu, cuda, ...; `vae`: the
    Stable Diffusion VAE file a face model trained on one needs."""
    paths = [path] if isinstance(path, str) else list(path)
    return load_neural_engines(paths, dtype=dtype, device=_target(device), vae=vae)


def load_liveportrait_engine(folder: str, dtype: str = "auto", device: str = "auto", batch: int | None = None,
                             compile: bool = False) -> FaceModel:
    """The LivePortrait face model from a folder of its five public files (`batch`: frames drawn at once, None
    for the device's default; `compile`: torch.compile the per-frame networks on a GPU)."""
    side = load_liveportrait_side(folder_files(folder), dtype=dtype, device=_target(device), batch=batch,
                                  compile=compile)
    return side["face_model"]


def _target(device: str) -> torch.device:
    return pick_device("auto" if device in ("auto", "gpu") else device)


def load_neural_engines(paths: Sequence[str], *, dtype: str = "auto", device: torch.device | None = None,
                        vae: str | None = None) -> EngineSet:
    """Every engine a set of checkpoints provides; the built-in engines fill the blocks they lack. `vae`:
    a Stable Diffusion VAE file, for a face model trained on one. LivePortrait's five public files (by name)
    make the face model; F5-TTS's and Vocos's files the speech side."""
    builtin = load_builtin_engines()
    liveportrait, paths = split_liveportrait(paths)
    found = load_liveportrait_side(liveportrait, dtype=dtype, device=device)
    speech = load_speech_side(paths, dtype=dtype, device=device) or {}
    f5 = load_f5_side(paths, faces=builtin.speaker_mapper, prompt_voices=builtin.speech_model, dtype=dtype,
                      device=device)
    if speech and f5:
        raise TavidError("the files hold two speech sides, TAVID's and F5-TTS's", where=", ".join(
            os.path.basename(p) for p in paths), fix="Give the files of one speech model.")
    found |= speech | f5
    for side in (load_motion_side(paths, dtype=dtype, device=device),
                 load_face_side(paths, dtype=dtype, device=device, vae=vae)):
        if "face_model" in side and "face_model" in found:
            raise TavidError("both LivePortrait's files and a TAVID face model were given, and only one can render "
                             "the faces", where=os.path.basename(next(iter(liveportrait.values()))),
                             fix="Give the LivePortrait folder or the TAVID face checkpoint, not both.")
        found |= side
    if not found:
        name = ", ".join(os.path.basename(p) for p in paths)
        raise TavidError("the file holds no TAVID networks: none of its tensors belongs to a TAVID block, so it is "
                         "a checkpoint of another kind of model", where=name,
                         fix="Move it to the folder of the model it is for, and pick a TAVID checkpoint here.")
    return EngineSet(**{block: found.get(block) or getattr(builtin, block) for block in EngineSet.BLOCKS})

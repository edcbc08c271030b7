"""What `tavid convert` does with the published pickles of F5-TTS and Vocos (engines/convert.py reads them with
torch's weights-only loader and writes the files): recognise them by what they hold, check every tensor
against the layout the loader expects, and name the safetensors files they become.

- An F5-TTS training checkpoint (`model_*.pt`) keeps its EMA weights under "ema_model_state_dict"; only
  those are written, which is the layout of the published .safetensors.
- charactr/vocos-mel-24khz's `pytorch_model.bin` is written as it is; its sizes are those of the model's
  config.yaml (mel-24khz: 100 bins, n_fft 1024, hop 256, 8 ConvNeXt blocks 512 wide), which the loader
  builds, so the config file itself is not needed.
"""
from __future__ import annotations

import os
from typing import Mapping

import torch

from . import keymap
from .config import VOCOS_FILE, F5DiTConfig
from .loader import check_f5_tensors, check_vocos_buffers, check_vocos_tensors, is_f5_file, is_vocos_file


def _tensors(held: object) -> dict[str, torch.Tensor]:
    if not isinstance(held, Mapping):
        return {}
    inner = held.get("ema_model_state_dict", held)
    return {k: v for k, v in inner.items() if isinstance(k, str) and isinstance(v, torch.Tensor)} \
        if isinstance(inner, Mapping) else {}


def _shapes(tensors: Mapping[str, torch.Tensor]) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in tensors.items()}


def recognises_f5(name: str, held: object) -> bool:
    return is_f5_file(_shapes(_tensors(held)))


def convert_f5(name: str, held: object) -> dict[str, dict[str, torch.Tensor]]:
    tensors = _tensors(held)
    shapes = _shapes(tensors)
    table = shapes.get(keymap.F5_PREFIX + "text_embed.text_embed.weight")
    cfg = F5DiTConfig(vocab_size=table[0] - 1) if table else F5DiTConfig()   # a fine-tune may extend the vocabulary
    check_f5_tensors(name, shapes, cfg)
    return {os.path.splitext(name)[0] + ".safetensors": tensors}


def recognises_vocos(name: str, held: object) -> bool:
    return is_vocos_file(_shapes(_tensors(held)))


def convert_vocos(name: str, held: object) -> dict[str, dict[str, torch.Tensor]]:
    tensors = _tensors(held)
    check_vocos_tensors(name, _shapes(tensors))
    check_vocos_buffers(name, tensors)
    return {VOCOS_FILE: tensors}

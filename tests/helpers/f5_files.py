"""F5-TTS and Vocos files laid out like the public ones, filled with seeded weights (seeded_weights.py):
the learned tensors seeded, the buffers the public files carry at their defining values, the EMA counters
of model_1250000.safetensors as they are there."""
from __future__ import annotations

import os

import torch
from safetensors.torch import save_file

from helpers.seeded_weights import seeded_state_dict
from tavid_core.engines.neural.speech.f5 import keymap, loader
from tavid_core.engines.neural.speech.f5.config import F5_MEL, F5DiTConfig
from tavid_core.engines.neural.speech.mel import htk_filterbank

# small enough for tests to write and run in a moment, with every kind of tensor of the real one
TINY = F5DiTConfig(dim=64, depth=2, heads=4, ff_mult=2.0, text_dim=32, vocab_size=10, conv_layers=1, feature_layer=1)


def f5_public_shapes(cfg: F5DiTConfig) -> dict[str, tuple[int, ...]]:
    ours = loader.f5_shapes(cfg)
    shapes = {public: ours[mine] for public, (mine, _) in loader.f5_layout(cfg).items()}
    shapes[keymap.F5_PREFIX + keymap.F5_BUFFERS[0]] = (cfg.head_dim // 2,)
    return shapes | {"initted": (), "step": ()}


def f5_state(shapes: dict, seed: int, gain: float, cfg: F5DiTConfig) -> dict[str, torch.Tensor]:
    state = seeded_state_dict(shapes, seed, gain=gain, dtypes={"initted": torch.bool, "step": torch.int64})
    state[keymap.F5_PREFIX + keymap.F5_BUFFERS[0]] = loader.rotary_frequencies(cfg)
    state["initted"] = torch.tensor(True)
    state["step"] = torch.tensor(1250000)
    return state


def vocos_state(shapes: dict, seed: int, gain: float) -> dict[str, torch.Tensor]:
    state = seeded_state_dict(shapes, seed, gain=gain)
    state["head.istft.window"] = torch.hann_window(1024)
    state["feature_extractor.mel_spec.spectrogram.window"] = torch.hann_window(1024)
    state["feature_extractor.mel_spec.mel_scale.fb"] = htk_filterbank(F5_MEL)
    return state


def vocos_public_shapes() -> dict[str, tuple[int, ...]]:
    ours = loader.vocos_shapes()
    shapes = {public: ours[mine] for public, (mine, _) in loader.vocos_layout().items()}
    return shapes | {"head.istft.window": (1024,), "feature_extractor.mel_spec.spectrogram.window": (1024,),
                     "feature_extractor.mel_spec.mel_scale.fb": (513, 100)}


def write_f5_files(folder, cfg: F5DiTConfig = TINY, seed: int = 7) -> tuple[str, str]:
    """(speech model, vocoder) files in `folder` as users keep them: F5TTS_v1_Base/model_1250000.safetensors
    with its vocab.txt, and vocos_mel_24khz.safetensors (full size: 54 MB). A tiny speech model unless `cfg`
    says otherwise."""
    model_dir = os.path.join(folder, "F5TTS_v1_Base")
    os.makedirs(model_dir, exist_ok=True)
    speech = os.path.join(model_dir, "model_1250000.safetensors")
    save_file(f5_state(f5_public_shapes(cfg), seed, 1.0, cfg), speech)
    symbols = [" ", *"abcde.,!?"] + [f"s{i}" for i in range(max(0, cfg.vocab_size - 10))]
    with open(os.path.join(model_dir, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(symbols[:cfg.vocab_size]) + "\n")
    vocoder = os.path.join(folder, "vocos_mel_24khz.safetensors")
    save_file(vocos_state(vocos_public_shapes(), seed, 1.0), vocoder)
    return speech, vocoder

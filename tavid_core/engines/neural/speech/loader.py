"""The neural speech side from TAVID checkpoints.

The speech side is four blocks that only work together (the speech model reads the text encoder's
embeddings and the speaker mapper's voices, the vocoder its mels), so a checkpoint's speech blocks
must be complete; they may come from one bundle or from several files (`tavid train` writes one per
task; a block in a later file replaces the same block of an earlier one, so a speaker-mapper run's
file, which also carries the frozen speech model, can follow the speech run's). Blocks a checkpoint
lacks come from the built-in engines (engines/load.py); the motion mapper and the face model are
blocks of their own (motion/loader.py, face/loader.py).

Every file carries the `SpeechSideConfig` it was trained with under `tavid_config[SPEECH_SECTION]`; files
of one run must agree on it. Tensors are checked by name and shape against the networks that
configuration builds before any weight is read.
"""
from __future__ import annotations

import os
from typing import Sequence

import torch
from torch import nn

from ....checkpoints import (BLOCK_NAMES, LORA_SECTION, SPEECH_SECTION, CheckpointInfo, inspect_checkpoint, load_block,
                             saved_config)
from ....errors import EngineUnavailableError, TavidError
from ..common.inference import precision_for
from .config import SpeechSideConfig
from .dit import SpeechDiT
from .generator import NeuralSpeechGenerator
from .speaker_mapper import FaceEncoder, NeuralSpeakerMapper, VoiceEncoder
from .text_encoder import NeuralTextEncoder, TextEncoderNet
from .tokens import VOCAB_VERSION, Tokenizer, vocab_fingerprint
from .vocoder import Vocoder

SPEECH_BLOCKS = ("text_encoder", "speech_model", "vocoder", "speaker_mapper")
# the parts of a SpeechSideConfig each block is built from (and must agree on when files are combined)
BLOCK_SECTIONS = {"text_encoder": ("text",), "speech_model": ("mel", "text", "dit"), "vocoder": ("mel", "vocoder"),
                  "speaker_mapper": ("mel", "speaker")}


class SpeakerMapperNet(nn.Module):
    """The speaker mapper's two encoders as one block: `face` (photo -> voice) and `voice` (recording -> voice)."""

    def __init__(self, config: SpeechSideConfig):
        super().__init__()
        self.face = FaceEncoder(config.speaker)
        self.voice = VoiceEncoder(config.speaker, config.mel.n_mels)


def speech_networks(config: SpeechSideConfig, blocks: Sequence[str] = SPEECH_BLOCKS) -> dict[str, nn.Module]:
    """Freshly initialised networks of the given speech blocks (default: all), by block name. Only those are
    built: the base DiT alone is 1.2 GB."""
    makers = {
        "text_encoder": lambda: TextEncoderNet(config.text, Tokenizer(config.text.tokens).vocab_size),
        "speech_model": lambda: SpeechDiT(config.dit, config.mel.n_mels),
        "vocoder": lambda: Vocoder(config.vocoder, config.mel),
        "speaker_mapper": lambda: SpeakerMapperNet(config),
    }
    return {block: makers[block]() for block in SPEECH_BLOCKS if block in blocks}


def speech_metadata(config: SpeechSideConfig) -> dict:
    """The `tavid_config` of a speech-side checkpoint: the configuration and the text vocabulary it was
    trained with (a vocabulary change would silently scramble the text encoder's input)."""
    return {SPEECH_SECTION: config.to_dict(), "vocabulary": {"version": VOCAB_VERSION, "fingerprint": vocab_fingerprint()}}


def _speech_config(info: CheckpointInfo) -> SpeechSideConfig:
    name = os.path.basename(info.path)
    if LORA_SECTION in info.config:
        raise TavidError("it is a LoRA, a change to a speech model rather than a model of its own", where=name,
                         fix="Load it with the TAVID LoRA Loader (tavid generate --lora) on top of its speech model.")
    saved = saved_config(info, SPEECH_SECTION, "speech networks", plural=True)
    vocabulary = info.config.get("vocabulary", {})
    if vocabulary.get("fingerprint") not in (None, vocab_fingerprint()):
        raise TavidError(f"its text encoder was trained on text vocabulary version {vocabulary.get('version')}, this "
                         f"version of ComfyUI-TAVID has version {VOCAB_VERSION}", where=name,
                         fix="Use the version of ComfyUI-TAVID the checkpoint was made with, or train it again.")
    return SpeechSideConfig.from_dict(saved, where=f"{name} {SPEECH_SECTION} settings")


def load_speech_networks(paths: Sequence[str]) -> tuple[SpeechSideConfig, dict[str, nn.Module]] | None:
    """The configuration and trained networks of the speech blocks in `paths` (a later file's block replaces
    an earlier one's), or None when no file holds a speech block. Blocks no file holds are missing."""
    infos = [inspect_checkpoint(p) for p in paths]
    holders = {b: [i for i in infos if b in i.blocks] for b in SPEECH_BLOCKS}
    if not any(holders.values()):
        return None
    chosen = {b: files[-1] for b, files in holders.items() if files}
    configs = {b: _speech_config(info) for b, info in chosen.items()}
    # the speech model's file rules (it holds the duration rule measured on its data); every other block
    # must agree with it on the settings that block is built from
    config = configs.get("speech_model") or next(iter(configs.values()))
    for block, other in configs.items():
        differ = [s for s in BLOCK_SECTIONS[block] if getattr(other, s) != getattr(config, s)]
        if differ:
            raise TavidError(f"its {BLOCK_NAMES[block]} was trained with other {' and '.join(differ)} settings than "
                             "the rest", where=os.path.basename(chosen[block].path),
                             fix="Use blocks trained with one configuration (the same --config).")
    networks = speech_networks(config, tuple(chosen))
    for block, network in networks.items():
        load_block(network, block + ".", chosen[block], f"the {config.name} configuration's {BLOCK_NAMES[block]}")
    return config, networks


def load_speech_side(paths: Sequence[str], *, dtype: str = "auto", device: torch.device | None = None
                     ) -> dict[str, object] | None:
    """The three neural speech engines stored in `paths`, by block, or None when no file holds speech blocks."""
    loaded = load_speech_networks(paths)
    if loaded is None:
        return None
    config, networks = loaded
    missing = [b for b in SPEECH_BLOCKS if b not in networks]
    if missing:
        raise EngineUnavailableError(
            "the neural speech side needs the text encoder, speech model, vocoder and speaker mapper together; "
            f"missing: {', '.join(BLOCK_NAMES[b] for b in missing)}", where=", ".join(os.path.basename(p) for p in paths),
            fix="Train the missing blocks (tavid train) and join them with `tavid bundle`.")
    for network in networks.values():
        network.eval().requires_grad_(False)
    precision = precision_for(dtype, device or torch.device("cpu"))
    mapper = networks["speaker_mapper"]
    return {
        "text_encoder": NeuralTextEncoder(networks["text_encoder"], Tokenizer(config.text.tokens), config.text,
                                          precision),
        "speech_model": NeuralSpeechGenerator(networks["speech_model"], networks["vocoder"], config, precision),
        "speaker_mapper": NeuralSpeakerMapper(mapper.face, mapper.voice, config.speaker, config.mel),
    }

"""The settings of F5-TTS v1 Base, Vocos mel-24khz and the reference's sampling, and the files users keep.

The mel is the speech block's MelConfig with the HTK filterbank (24 kHz, n_fft = win = 1024, hop 256, 100
bins, 0 to 12 kHz); the Vocos backbone is VocoderConfig's defaults (width 512, 1536 inside, 8 ConvNeXt
blocks, kernel 7), which are already mel-24khz's config.yaml.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..config import MelConfig, VocoderConfig


@dataclass(frozen=True)
class F5DiTConfig:
    dim: int = 1024
    depth: int = 22
    heads: int = 16
    ff_mult: float = 2.0
    text_dim: int = 512
    vocab_size: int = 2545          # lines of vocab.txt; the embedding table has one row more (row 0: filler)
    conv_layers: int = 4            # ConvNeXt-V2 blocks over the text
    conv_mult: int = 2              # their inner width is text_dim * conv_mult
    n_mels: int = 100
    conv_pos_kernel: int = 31
    conv_pos_groups: int = 16
    feature_layer: int = 11         # the block whose output becomes Speech.features (the middle of 22)

    @property
    def head_dim(self) -> int:
        return self.dim // self.heads


F5_V1_BASE = F5DiTConfig()
F5_MEL = MelConfig(scale="htk")
VOCOS_MEL_24KHZ = VocoderConfig()
VOCOS_MAX_MAGNITUDE = 100.0         # Vocos caps the STFT magnitudes (after exp) at this


@dataclass(frozen=True)
class Sampling:
    """The reference's inference defaults (f5_tts.infer.utils_infer and CFM.sample)."""

    steps: int = 32                 # network evaluations with Euler (each a batched cond + uncond pass)
    cfg: float = 2.0
    sway: float = -1.0
    method: str = "euler"
    speed: float = 1.0


SAMPLING = Sampling()
MAX_FRAMES = 65536                  # the reference's cap on one generation (about 11.6 minutes)
CHUNK_SECONDS = 22.0                # prompt + new speech per generation; longer turns are cut at sentences
CROSS_FADE_S = 0.15                 # between the chunks of a long turn
PROMPT_TAIL_S = 0.05                # silence the reference appends to a trimmed prompt

# The files, as published (sizes in bytes); README.md says where they come from.
F5_FILE = "F5TTS_v1_Base/model_1250000.safetensors"
F5_FILE_BYTES = 1_348_435_761
VOCAB_FILE = "vocab.txt"
# what `tavid convert` makes of charactr/vocos-mel-24khz's pytorch_model.bin
VOCOS_FILE = "vocos_mel_24khz.safetensors"

"""Configuration of the neural speech side (text encoder, DiT, vocoder, speaker mapper and their mel), one per
checkpoint, with the three presets; base is a DiT of about 300M parameters, like F5-TTS base.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ....errors import TavidError
from ..common.configs import SavedConfig, check_preset


@dataclass(frozen=True)
class MelConfig:
    """Log-mel spectrogram shared by the speech generator, the vocoder and the voice encoder."""

    sample_rate: int = 24000
    n_fft: int = 1024
    hop: int = 256
    n_mels: int = 100
    f_min: float = 0.0
    f_max: float = 12000.0
    scale: str = "slaney"          # the filterbank: "slaney" (area-normalised) or "htk" (peak 1: F5-TTS, Vocos)

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop


@dataclass(frozen=True)
class TextEncoderConfig:
    tokens: str = "phoneme"        # "phoneme" (espeak-ng IPA) or "char"
    dim: int = 512                 # token embedding and output width (the DiT's text_dim)
    layers: int = 4                # ConvNeXt blocks
    kernel: int = 7
    context_turns: int = 2         # previous turns the encoder reads for conversational prosody
    max_tokens: int = 1024         # per turn and context together


@dataclass(frozen=True)
class SpeechDiTConfig:
    dim: int = 1024
    depth: int = 20
    heads: int = 16
    ff_mult: float = 2.0
    text_dim: int = 512
    speaker_dim: int = 256
    conv_pos_kernel: int = 31      # depthwise convolution that gives the input a sense of position
    feature_layer: int = 10        # the block whose output becomes Speech.features
    dropout: float = 0.0
    # duration rule: frames per text token at rate 1, measured on the training data and saved with it
    frames_per_token: float = 6.5
    prompt_seconds: float = 6.0    # longest in-context prompt taken from the speaker's previous turn


@dataclass(frozen=True)
class VocoderConfig:
    dim: int = 512
    intermediate: int = 1536
    layers: int = 8
    kernel: int = 7


@dataclass(frozen=True)
class SpeakerMapperConfig:
    image_size: int = 112          # aligned face crop
    channels: tuple[int, ...] = (32, 64, 128, 256)
    voice_layers: int = 4          # ConvNeXt blocks of the voice encoder (reference audio -> embedding)
    voice_dim: int = 256
    speaker_dim: int = 256         # the embedding both encoders produce (the DiT's speaker_dim)
    temperature: float = 0.07      # contrastive loss


@dataclass(frozen=True)
class SpeechSideConfig(SavedConfig):
    """Everything the speech side needs: one per checkpoint."""

    name: str = "base"
    mel: MelConfig = field(default_factory=MelConfig)
    text: TextEncoderConfig = field(default_factory=TextEncoderConfig)
    dit: SpeechDiTConfig = field(default_factory=SpeechDiTConfig)
    vocoder: VocoderConfig = field(default_factory=VocoderConfig)
    speaker: SpeakerMapperConfig = field(default_factory=SpeakerMapperConfig)

    def __post_init__(self):
        if self.text.dim != self.dit.text_dim:
            raise TavidError(f"the text encoder's width {self.text.dim} differs from the DiT's text_dim "
                             f"{self.dit.text_dim}", where=f"config {self.name}")
        if self.speaker.speaker_dim != self.dit.speaker_dim:
            raise TavidError(f"the speaker mapper's speaker_dim {self.speaker.speaker_dim} differs from the DiT's "
                             f"{self.dit.speaker_dim}", where=f"config {self.name}")
        if self.dit.dim % self.dit.heads:
            raise TavidError(f"dim {self.dit.dim} is not a multiple of heads {self.dit.heads}",
                             where=f"config {self.name}")
        if not 0 <= self.dit.feature_layer < self.dit.depth:
            raise TavidError(f"feature_layer {self.dit.feature_layer} is not one of the {self.dit.depth} blocks",
                             where=f"config {self.name}")


def speech_config(preset: str) -> SpeechSideConfig:
    """One of the PRESETS."""
    check_preset(preset)
    if preset == "tiny":
        return SpeechSideConfig(
            name="tiny",
            text=TextEncoderConfig(dim=32, layers=2, context_turns=1, max_tokens=512),
            dit=SpeechDiTConfig(dim=64, depth=2, heads=2, text_dim=32, speaker_dim=16, conv_pos_kernel=15,
                                feature_layer=1),
            vocoder=VocoderConfig(dim=32, intermediate=64, layers=2),
            speaker=SpeakerMapperConfig(image_size=64, channels=(8, 16, 32), voice_layers=1, voice_dim=32,
                                        speaker_dim=16))
    if preset == "small":
        return SpeechSideConfig(
            name="small",
            text=TextEncoderConfig(dim=192, layers=3),
            dit=SpeechDiTConfig(dim=384, depth=8, heads=6, text_dim=192, speaker_dim=128, feature_layer=4),
            vocoder=VocoderConfig(dim=256, intermediate=768, layers=6),
            speaker=SpeakerMapperConfig(image_size=112, channels=(16, 32, 64, 128), voice_layers=3, voice_dim=128,
                                        speaker_dim=128))
    return SpeechSideConfig()

"""Neural speaker mapper: a face (or a reference recording) becomes the speaker embedding the speech DiT
is conditioned on.

Two encoders share one embedding space. The voice encoder reads a log-mel recording; the speech
generator is trained on its embeddings, so they define what a speaker vector means. The face encoder
reads an aligned face crop and is trained (contrastive loss, `train/losses/contrastive.py`) to land near the
voice embedding of the same person, which is how a photo alone gets a plausible voice.

Neither encoder has batch statistics (GroupNorm / LayerNorm only), so one image at inference gives
exactly what it gave inside a training batch.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ....errors import TavidError
from ....media.audio import resample
from ....runtime import Runtime
from ....types import Voice
from ...protocols import SpeakerMapper
from ..common.layers import ConvNeXtBlock, masked
from .config import MelConfig, SpeakerMapperConfig, SpeechSideConfig
from .face_crop import aligned_face
from .mel import LogMel

MIN_REFERENCE_S = 0.5    # shorter recordings hold too few syllables to say how someone sounds
MAX_REFERENCE_S = 30.0   # the embedding is a mean over frames: more than this adds time, not information
# Log-mel levels of speech are about -6.5 +- 3 (LOG_FLOOR's -11.5 is silence); this maps them near 0 +- 1.
_MEL_CENTRE, _MEL_SPREAD = -6.0, 3.0
# Fixed RGB normalisation of the 0..1 face crop: centred on mid-grey, so no dataset statistics are needed.
_PIXEL_CENTRE, _PIXEL_SPREAD = 0.5, 0.25


def speaker_vector(x: torch.Tensor) -> torch.Tensor:
    """The final normalisation of both encoders: L2-normalise, then scale by sqrt(dim).

    Only the direction carries identity (the contrastive loss compares cosines), and a fixed length of
    sqrt(dim) gives every coordinate a mean square of 1, the scale the DiT's conditioning layers expect,
    whatever encoder or input produced the vector."""
    return F.normalize(x.float(), dim=-1, eps=1e-6).to(x.dtype) * math.sqrt(x.shape[-1])


def _groups(channels: int) -> int:
    return math.gcd(channels, 8)


class ResidualBlock(nn.Module):
    """Pre-activation residual block (GroupNorm, SiLU, 3x3 conv, twice); `stride` 2 halves the size."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.norm1 = nn.GroupNorm(_groups(c_in), c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1)
        self.norm2 = nn.GroupNorm(_groups(c_out), c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = (nn.Identity() if c_in == c_out and stride == 1
                     else nn.Conv2d(c_in, c_out, 1, stride=stride))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv1(F.silu(self.norm1(x)))
        y = self.conv2(F.silu(self.norm2(y)))
        return self.skip(x) + y


class FaceEncoder(nn.Module):
    """Aligned face crop `[B, 3, S, S]` in 0..1 (S = cfg.image_size) -> speaker vector `[B, speaker_dim]`.

    A stride-2 stem, then one stage per entry of `cfg.channels` (the first keeps the size, each later one
    halves it), global average pooling and a linear projection."""

    def __init__(self, cfg: SpeakerMapperConfig):
        super().__init__()
        self.cfg = cfg
        chans = tuple(cfg.channels)
        if not chans:
            raise TavidError("the face encoder needs at least one stage", where="speaker.channels")
        self.stem = nn.Conv2d(3, chans[0], 3, stride=2, padding=1)
        blocks, c_prev = [], chans[0]
        for i, c in enumerate(chans):
            blocks += [ResidualBlock(c_prev, c, stride=1 if i == 0 else 2), ResidualBlock(c, c)]
            c_prev = c
        self.blocks = nn.Sequential(*blocks)
        self.norm = nn.GroupNorm(_groups(c_prev), c_prev)
        self.proj = nn.Linear(c_prev, cfg.speaker_dim)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        size = self.cfg.image_size
        if image.ndim != 4 or tuple(image.shape[1:]) != (3, size, size):
            raise ValueError(f"expected aligned crops [B, 3, {size}, {size}], got {tuple(image.shape)}")
        x = (image - _PIXEL_CENTRE) / _PIXEL_SPREAD
        x = self.blocks(self.stem(x))
        x = F.silu(self.norm(x)).mean(dim=(2, 3))
        return speaker_vector(self.proj(x))


class VoiceEncoder(nn.Module):
    """Log-mel `[B, T, n_mels]` (+ mask `[B, T]`, True on real frames) -> speaker vector `[B, speaker_dim]`.

    A linear input layer, `cfg.voice_layers` ConvNeXt blocks over time, then the mean and standard
    deviation of every channel over the real frames (x-vector style statistics pooling: the spread of a
    voice over time says as much about it as its average) and a linear projection."""

    def __init__(self, cfg: SpeakerMapperConfig, n_mels: int):
        super().__init__()
        self.cfg = cfg
        self.n_mels = n_mels
        self.proj_in = nn.Linear(n_mels, cfg.voice_dim)
        self.blocks = nn.ModuleList(ConvNeXtBlock(cfg.voice_dim, 3 * cfg.voice_dim) for _ in range(cfg.voice_layers))
        self.norm = nn.LayerNorm(cfg.voice_dim)
        self.proj_out = nn.Linear(2 * cfg.voice_dim, cfg.speaker_dim)

    def forward(self, mel: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if mel.ndim != 3 or mel.shape[2] != self.n_mels:
            raise ValueError(f"expected log-mel [B, T, {self.n_mels}], got {tuple(mel.shape)}")
        if mask is None:
            mask = torch.ones(mel.shape[:2], dtype=torch.bool, device=mel.device)
        x = masked(self.proj_in((mel - _MEL_CENTRE) / _MEL_SPREAD), mask)
        for block in self.blocks:
            x = block(x, mask)
        x = self.norm(x)
        weight = mask.unsqueeze(-1).to(x.dtype)
        count = weight.sum(dim=1).clamp(min=1.0)
        mean = (x * weight).sum(dim=1) / count
        var = (((x - mean.unsqueeze(1)) ** 2) * weight).sum(dim=1) / count
        stats = torch.cat([mean, torch.sqrt(var + 1e-5)], dim=-1)
        return speaker_vector(self.proj_out(stats))


def reference_waveform(audio, sample_rate: int, target_rate: int, where: str) -> np.ndarray:
    """A reference recording `[N]` or `[C, N]` as mono float32 at `target_rate`, at most MAX_REFERENCE_S
    long; clear errors for recordings that cannot describe a voice."""
    wave = np.asarray(audio, dtype=np.float32)
    if wave.ndim == 2 and wave.shape[0] > wave.shape[1]:
        raise TavidError(f"expected audio as [channels, samples], got shape {wave.shape}", where=where,
                         fix="Pass a mono array [N] or channels first [C, N] (transpose a [N, C] array).")
    if wave.ndim not in (1, 2) or wave.size == 0:
        raise TavidError(f"expected audio as [samples] or [channels, samples], got shape {wave.shape}", where=where)
    if not sample_rate or sample_rate <= 0:
        raise TavidError(f"the sample rate must be positive, got {sample_rate}", where=where)
    if not np.isfinite(wave).all():
        raise TavidError("the recording contains NaN or infinite samples", where=where,
                         fix="Check the audio file or the node that produced it.")
    mono = wave if wave.ndim == 1 else wave.mean(axis=0)
    seconds = mono.shape[0] / sample_rate
    if seconds < MIN_REFERENCE_S:
        raise TavidError(f"the recording is only {seconds:.2f} s long", where=where,
                         fix=f"Give at least {MIN_REFERENCE_S} s (a few seconds is best) of clear speech, or leave "
                             "the audio input empty to get a voice from the face.")
    if float(np.abs(mono).max()) < 1e-4:
        raise TavidError("the recording is silent", where=where,
                         fix="Give a few seconds of clear speech, or leave the audio input empty.")
    mono = mono[: int(round(MAX_REFERENCE_S * sample_rate))]
    return resample(mono, sample_rate, target_rate)


class NeuralSpeakerMapper(SpeakerMapper):
    """Face -> speaker embedding with `FaceEncoder`; a reference recording -> embedding with `VoiceEncoder`."""

    name = "tavid-speaker"
    family = "neural"

    def __init__(self, face_encoder: FaceEncoder, voice_encoder: VoiceEncoder, cfg: SpeakerMapperConfig,
                 mel_cfg: MelConfig):
        if voice_encoder.n_mels != mel_cfg.n_mels:
            raise TavidError(f"the voice encoder reads {voice_encoder.n_mels} mel bins but the mel settings have "
                             f"{mel_cfg.n_mels}", where="speaker mapper")
        self.face_encoder = face_encoder
        self.voice_encoder = voice_encoder
        self.cfg = cfg
        self.mel_cfg = mel_cfg
        self._mel = LogMel(mel_cfg)  # runs on the CPU in float32: cheap, and the same on every device

    @classmethod
    def from_config(cls, config: SpeechSideConfig) -> "NeuralSpeakerMapper":
        """Freshly initialised networks of `config`'s shape (load weights into them afterwards)."""
        return cls(FaceEncoder(config.speaker), VoiceEncoder(config.speaker, config.mel.n_mels),
                   config.speaker, config.mel)

    def modules(self) -> list[torch.nn.Module]:
        return [self.face_encoder, self.voice_encoder]

    def map_face(self, image: np.ndarray, *, runtime: Runtime, reference_audio: tuple[np.ndarray, int] | None = None,
                 voice: str = "auto", pitch_semitones: float | None = None, rate: float | None = None,
                 where: str = "face", reference_text: str | None = None) -> Voice:
        if voice and voice != "auto":
            raise TavidError(
                f"the voice {voice!r} is a preset of the built-in engines; the neural speaker mapper makes its "
                "voice from the face or a reference recording", where="voice",
                fix="Set voice to auto, give a reference recording to imitate a voice, or use the built-in "
                    "engines to choose a preset by name.")
        if reference_audio is not None:
            audio, sample_rate = reference_audio
            wave = reference_waveform(audio, sample_rate, self.mel_cfg.sample_rate, f"{where} reference audio")
            with torch.inference_mode():
                mel = self._mel(torch.from_numpy(wave)[None])
            embedding = self._encode(self.voice_encoder, mel, runtime)
            source = "reference_audio"
        else:
            crop = aligned_face(image, self.cfg.image_size, where=where)
            pixels = torch.from_numpy(crop).permute(2, 0, 1)[None].float() / 255.0
            embedding = self._encode(self.face_encoder, pixels, runtime)
            source = "face"
        return Voice(engine="neural", embedding=embedding,
                     pitch_semitones=0.0 if pitch_semitones is None else float(pitch_semitones),
                     rate=1.0 if rate is None else float(rate), source=source)

    def _encode(self, encoder: nn.Module, x: torch.Tensor, runtime: Runtime) -> np.ndarray:
        runtime.load(self)
        param = next(encoder.parameters())
        with torch.inference_mode():
            out = encoder(x.to(device=param.device, dtype=param.dtype))
        return out[0].float().cpu().numpy()

    def describe(self) -> dict:
        return super().describe() | {"image_size": self.cfg.image_size, "speaker_dim": self.cfg.speaker_dim}

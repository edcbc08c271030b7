"""`tavid train vocoder`: teach the Vocos-style vocoder to turn log-mels back into the clips' sound.

Examples are short random segments of the clips' audio; the task computes their log-mel itself (on the
batch's device), vocodes it and compares the result with the segment: 45 x mel L1 + multi-resolution
STFT loss from the first step, plus the adversarial and feature-matching losses of a multi-period and a
multi-resolution critic from step `adversarial_from` on (starting the GAN later lets the spectral losses
first get the sound roughly right, which keeps the critics from winning outright).
"""
from __future__ import annotations

import contextlib
from typing import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...engines.neural.speech.config import SpeechSideConfig, VocoderConfig
from ...engines.neural.speech.loader import speech_metadata
from ...engines.neural.speech.mel import LogMel
from ...engines.neural.speech.vocoder import Vocoder
from ...errors import TavidError
from ..data.clips import load_clip_audio
from ..data.manifest import ClipRecord
from ..losses.audio import (MultiResolutionSTFTLoss, discriminator_loss, feature_matching_loss,
                            generator_adversarial_loss)
from ..losses.discriminators import VocoderCritic
from ..task import TrainTask

MEL_WEIGHT = 45.0
FEATURE_MATCHING_WEIGHT = 2.0
GAN_KIND = "hinge"


def critic_channels(cfg: VocoderConfig) -> int:
    """Critic width that follows the vocoder's: 32 (the usual full-size critics) for the base vocoder's
    512, a couple of channels for tiny ones."""
    return max(2, cfg.dim // 16)


@contextlib.contextmanager
def frozen_parameters(module: nn.Module) -> Iterator[None]:
    """Gradients flow through `module` to its input but not into its parameters (the critic during the
    generator's step: its own step must not see the generator's gradients)."""
    flags = [(p, p.requires_grad) for p in module.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


class Segments(Sequence[torch.Tensor]):
    """Segments of `length` samples. Each clip gives about one segment per `length` of its sound, per pass;
    example `i` always starts at the same place for a given seed (a random one), and clips shorter than a
    segment are padded with silence."""

    def __init__(self, clips: list[np.ndarray], length: int, seed: int):
        self.clips, self.length, self.seed = clips, length, seed
        self.index = [(c, j) for c, clip in enumerate(clips) for j in range(max(1, round(len(clip) / length)))]

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> torch.Tensor:  # type: ignore[override]
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        clip = self.clips[self.index[i][0]]
        room = len(clip) - self.length
        start = 0
        if room > 0:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + i % len(self))
            start = int(torch.randint(0, room + 1, (1,), generator=g))
        piece = torch.from_numpy(clip[start:start + self.length].copy())
        if len(piece) < self.length:
            piece = torch.nn.functional.pad(piece, (0, self.length - len(piece)))
        return piece


class VocoderTask(TrainTask):
    block = "vocoder"

    def __init__(self, config: SpeechSideConfig, records: list[ClipRecord], segment_frames: int = 32,
                 adversarial_from: int = 0, seed: int = 0):
        if segment_frames < 2:
            raise TavidError(f"segment_frames must be at least 2, got {segment_frames}", where="segment_frames")
        if not records:
            raise TavidError("no clips to train the vocoder on", where="manifest")
        self.cfg = config
        mel = config.mel
        self.segment_samples = (segment_frames - 1) * mel.hop  # LogMel gives it segment_frames frames
        self.adversarial_from = adversarial_from
        self.vocoder = Vocoder(config.vocoder, mel)
        self.critic = VocoderCritic(channels=critic_channels(config.vocoder))
        self.logmel = LogMel(mel)
        self.stft_loss = MultiResolutionSTFTLoss()
        clips = [load_clip_audio(r, mel.sample_rate) for r in records]  # loaded once, kept in memory
        self.segments = Segments(clips, self.segment_samples, seed)

    # ----------------------------------------------------------------------------------- trainer API
    def modules(self) -> dict[str, nn.Module]:
        return {"vocoder": self.vocoder}

    def critics(self) -> dict[str, nn.Module]:
        return {"vocoder_critic": self.critic}

    def dataset(self) -> Sequence[torch.Tensor]:
        return self.segments

    def collate(self, items: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"audio": torch.stack(items)}

    def config(self) -> dict:
        return speech_metadata(self.cfg)

    def _to(self, device: torch.device) -> None:
        """The loss modules (windows and filters only, no weights) follow the batch."""
        for m in (self.logmel, self.stft_loss):
            m.to(device)

    def loss(self, batch: dict[str, torch.Tensor], step: int) -> tuple[torch.Tensor, dict[str, float]]:
        real = batch["audio"]
        self._to(real.device)
        mel = self.logmel(real)
        fake = self.vocoder(mel)
        mel_l1 = F.l1_loss(self.logmel(fake), mel)  # the same as audio_losses.MelL1Loss, one LogMel fewer
        stft = self.stft_loss(fake, real)
        total = MEL_WEIGHT * mel_l1 + stft
        logs = {"mel_l1": mel_l1.item(), "stft": stft.item()}
        if step >= self.adversarial_from:
            with frozen_parameters(self.critic):
                fake_logits, fake_features = self.critic(fake)
                with torch.no_grad():
                    _, real_features = self.critic(real)
            adversarial = generator_adversarial_loss(fake_logits, GAN_KIND)
            matching = feature_matching_loss(real_features, fake_features)
            total = total + adversarial + FEATURE_MATCHING_WEIGHT * matching
            logs.update(adversarial=adversarial.item(), feature_matching=matching.item())
        logs["loss"] = total.item()
        return total, logs

    def critic_loss(self, batch: dict[str, torch.Tensor], step: int) -> torch.Tensor | None:
        if step < self.adversarial_from:
            return None
        real = batch["audio"]
        self._to(real.device)
        with torch.no_grad():  # the trainer steps the critic first, so this batch has not been vocoded yet
            fake = self.vocoder(self.logmel(real))
        real_logits, _ = self.critic(real)
        fake_logits, _ = self.critic(fake)
        return discriminator_loss(real_logits, fake_logits, GAN_KIND)

"""`tavid train speaker-mapper`: the face encoder learns to give a face the voice of its speaker.

It starts from a trained speech run (`--init`): the voice encoder turns each clip into the speaker's
voice vector, and the face encoder is trained so that photos land on their own speaker's voices and
away from the others' (contrastive, every clip of a speaker counting as a match), plus the speech
loss of the frozen DiT conditioned on the face's vector, so the voice it gives also *sounds* right.
Text encoder, DiT and voice encoder stay frozen and are saved with the result, which makes the output
file a complete speech side but for the vocoder.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ...engines.neural.common.flow import rand
from ...engines.neural.common.inference import seeded
from ...engines.neural.speech.config import SpeechSideConfig
from ...engines.neural.speech.dit import training_loss
from ...engines.neural.speech.face_crop import aligned_face
from ...engines.neural.speech.loader import speech_metadata
from ..data.clips import load_clip_face
from ..data.manifest import ClipRecord, speaker_ids
from ..losses.contrastive import embedding_match_loss, face_voice_contrastive_loss
from ..task import TrainTask
from .speech import SpeechTask, pad

SHIFT_PX = 3              # random crop shift during training, pixels at the crop's size
BRIGHTNESS = (0.8, 1.2)   # random brightness factor during training
SPEECH_WEIGHT = 0.5
MATCH_WEIGHT = 1.0


class SpeakerMapperTask(TrainTask):
    block = "speaker_mapper"

    def __init__(self, config: SpeechSideConfig, records: list[ClipRecord], networks: dict[str, nn.Module], *,
                 seed: int = 0):
        self.speech = SpeechTask(config, records, seed=seed, start=networks, measure_pace=False)
        self.settings = config
        self.seed = seed
        mapper = networks["speaker_mapper"]
        mapper.face.requires_grad_(True)
        mapper.voice.requires_grad_(False)
        self.mapper = mapper
        ids = speaker_ids(records)
        self.speaker = torch.tensor([ids[r.speaker] for r in records])
        faces: dict[str, np.ndarray] = {}
        for record in records:  # one analysis per photo, however many clips share it
            if record.face not in faces:
                faces[record.face] = aligned_face(load_clip_face(record), config.speaker.image_size,
                                                  where=record.where)
        self.crops = [faces[r.face] for r in records]

    def modules(self) -> dict[str, nn.Module]:
        return {"speaker_mapper": self.mapper}

    def frozen(self) -> dict[str, nn.Module]:
        return {"text_encoder": self.speech.text_encoder, "speech_model": self.speech.dit}

    def dataset(self) -> list[int]:
        return self.speech.dataset()

    def collate(self, items: list[int]) -> dict[str, torch.Tensor]:
        batch = self.speech.collate(items)
        batch["face"] = torch.from_numpy(np.stack([self.crops[i] for i in items])).permute(0, 3, 1, 2).float() / 255
        batch["speaker"] = self.speaker[items]
        return batch

    def _augment(self, faces: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Small shifts and brightness changes, so the encoder reads the face, not its exact pixels."""
        b = faces.shape[0]
        shifts = (rand((b, 2), generator, "cpu") * (2 * SHIFT_PX + 1)).long() - SHIFT_PX
        gains = BRIGHTNESS[0] + (BRIGHTNESS[1] - BRIGHTNESS[0]) * rand((b,), generator, "cpu")
        out = torch.stack([torch.roll(f, (int(dy), int(dx)), dims=(1, 2)) for f, (dy, dx) in zip(faces, shifts)])
        return (out * gains.to(faces.device)[:, None, None, None]).clamp(0, 1)

    def loss(self, batch: dict[str, torch.Tensor], step: int) -> tuple[torch.Tensor, dict[str, float]]:
        generator = seeded(self.seed, step, *batch["index"].tolist())
        face = self.mapper.face(self._augment(batch["face"], generator))
        with torch.no_grad():
            voice = self.mapper.voice(batch["mel"], batch["mask"])
            text = self.speech.text_encoder(batch["tokens"], batch["roles"], batch["context"], batch["text_mask"])
        contrast = face_voice_contrastive_loss(face, voice, batch["speaker"], self.settings.speaker.temperature)
        match = embedding_match_loss(face, voice)
        speech = training_loss(self.speech.dit, batch["mel"], batch["mask"], text, face, generator,
                               p_drop_text=0.0, p_drop_speaker=0.0, p_drop_both=0.0)
        loss = contrast + MATCH_WEIGHT * match + SPEECH_WEIGHT * speech
        return loss, {"contrastive": float(contrast.detach()), "match": float(match.detach()),
                      "flow": float(speech.detach())}

    def config(self) -> dict:
        return speech_metadata(self.speech.settings)


__all__ = ["SpeakerMapperTask", "pad"]

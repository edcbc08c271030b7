"""`tavid train speech`: the text encoder, the speech DiT and the voice encoder, trained together with
the flow-matching loss of infilling (a random 70-100 % span of each clip is generated from the rest,
the transcript and the speaker's voice).

The speaker vector comes from the voice encoder reading *another* clip of the same speaker (the same
clip when a speaker has only one), so the DiT learns to follow a voice rather than copy the clip; the
speaker mapper's face encoder later learns to land on these vectors (`tavid train speaker-mapper`).
The duration rule's frames per token is measured on the training clips and saved with the weights.

With a LoRA rank (`tavid train speech --init SPEECH.safetensors --lora-rank 8`) the trained networks are
frozen and only a LoRA on the DiT's attention learns (engines/neural/lora/). The trainer then sees one
network, `speech_model`, that is the LoRA's weights alone (`LoraWeights`), so what it optimises, averages,
resumes and saves is the LoRA, and the run's file, DIR/speech_lora.safetensors, is a LoRA file.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn

from ...engines.neural.common.inference import seeded
from ...engines.neural.lora.adapters import LoraWeights, add_lora, check_rank, lora_metadata
from ...engines.neural.speech.config import SpeechSideConfig
from ...engines.neural.speech.dit import training_loss
from ...engines.neural.speech.loader import speech_metadata, speech_networks
from ...engines.neural.speech.mel import LogMel
from ...engines.neural.speech.text_encoder import collate as collate_text
from ...engines.neural.speech.text_encoder import turn_inputs
from ...engines.neural.speech.tokens import Tokenizer
from ...engines.shared.text import normalize_text
from ...errors import TavidError
from ..data.clips import load_clip_audio
from ..data.manifest import ClipRecord, speaker_ids
from ..task import TrainTask


@dataclass(frozen=True)
class SpeechClip:
    mel: np.ndarray      # [T, n_mels]
    tokens: object       # TurnInputs of the transcript
    speaker: int
    reference: int       # index of the clip whose voice conditions this one


def pad(arrays: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """`[B, Tmax, ...]` zero-padded rows and their `[B, Tmax]` mask."""
    length = max(len(a) for a in arrays)
    out = np.zeros((len(arrays), length) + arrays[0].shape[1:], np.float32)
    mask = np.zeros((len(arrays), length), bool)
    for i, a in enumerate(arrays):
        out[i, :len(a)], mask[i, :len(a)] = a, True
    return torch.from_numpy(out), torch.from_numpy(mask)


def clip_mels(records: list[ClipRecord], config: SpeechSideConfig, max_seconds: float) -> list[np.ndarray]:
    """Each clip's log-mel, computed once on the CPU."""
    logmel = LogMel(config.mel)
    mels = []
    for record in records:
        audio = load_clip_audio(record, config.mel.sample_rate)
        if len(audio) > max_seconds * config.mel.sample_rate:
            raise TavidError(f"the clip lasts {len(audio) / config.mel.sample_rate:.1f} s, over the {max_seconds:g} s "
                             "a training clip may have", where=record.where,
                             fix="Cut long recordings into sentences (start/end in the manifest).")
        with torch.inference_mode():
            mels.append(logmel(torch.from_numpy(audio)[None])[0].numpy())
    return mels


class SpeechTask(TrainTask):
    block = "speech"

    def __init__(self, config: SpeechSideConfig, records: list[ClipRecord], *, seed: int = 0,
                 max_seconds: float = 20.0, start: dict[str, nn.Module] | None = None, measure_pace: bool = True,
                 lora_rank: int | None = None, lora_alpha: float | None = None):
        """`start`: trained networks to continue from (default: new ones); `measure_pace`: set the duration
        rule from these clips (off when the networks come with the rule they were trained with).
        `lora_rank`: train only a LoRA of that rank on `start`'s DiT (`config` must be the one `start` was
        trained with; its duration rule is kept, since a LoRA cannot change it)."""
        if lora_rank is not None:
            check_rank(lora_rank, lora_alpha)
            missing = [b for b in ("text_encoder", "speech_model", "speaker_mapper") if b not in (start or {})]
            if missing:
                raise TavidError(f"a LoRA is trained on top of a trained speech side; missing: {', '.join(missing)}",
                                 where="--init", fix="Pass the speech run's checkpoint: "
                                                     "--init runs/speech/speech.safetensors")
            measure_pace = False
        tokenizer = Tokenizer(config.text.tokens)
        ids = speaker_ids(records)
        mels = clip_mels(records, config, max_seconds)
        tokens = [turn_inputs(tokenizer, [(0, normalize_text(r.text))], 0, 0, config.text.max_tokens, r.where)
                  for r in records]
        frames_per_token = round(sum(len(m) for m in mels) / sum(len(t) for t in tokens), 4)
        self.settings = replace(config, dit=replace(config.dit, frames_per_token=frames_per_token)) \
            if measure_pace else config
        self.seed = seed
        self.clips = [SpeechClip(mel, tok, ids[r.speaker], _reference(records, i))
                      for i, (r, mel, tok) in enumerate(zip(records, mels, tokens))]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            networks = start or speech_networks(self.settings)
            self.lora = None
            if lora_rank is not None:
                for network in networks.values():
                    network.eval().requires_grad_(False)
                add_lora(networks["speech_model"], lora_rank, lora_alpha)  # A drawn from `seed`, B zero
                self.lora = LoraWeights(networks["speech_model"])
                self.lora_settings = (lora_rank, lora_alpha)
                self.block = "speech_lora"  # the file's name, and the kind of run a resume must match
        self.text_encoder, self.dit = networks["text_encoder"], networks["speech_model"]
        self.speaker_mapper = networks["speaker_mapper"]

    def modules(self) -> dict[str, nn.Module]:
        if self.lora is not None:
            return {"speech_model": self.lora}
        return {"text_encoder": self.text_encoder, "speech_model": self.dit, "speaker_mapper": self.speaker_mapper}

    def dataset(self) -> list[int]:
        return list(range(len(self.clips)))

    def collate(self, items: list[int]) -> dict[str, torch.Tensor]:
        clips = [self.clips[i] for i in items]
        mel, mask = pad([c.mel for c in clips])
        reference, reference_mask = pad([self.clips[c.reference].mel for c in clips])
        tokens, roles, context, text_mask = collate_text([c.tokens for c in clips])
        return {"mel": mel, "mask": mask, "reference": reference, "reference_mask": reference_mask,
                "tokens": tokens, "roles": roles, "context": context, "text_mask": text_mask,
                "index": torch.tensor(items)}

    def loss(self, batch: dict[str, torch.Tensor], step: int) -> tuple[torch.Tensor, dict[str, float]]:
        device = batch["mel"].device
        if self.lora is not None and self.dit.input.weight.device != device:
            # the trainer moves only the networks it trains (the LoRA); the frozen ones follow the batch
            for network in (self.text_encoder, self.dit, self.speaker_mapper):
                network.to(device)
        with torch.set_grad_enabled(self.lora is None and torch.is_grad_enabled()):
            text = self.text_encoder(batch["tokens"], batch["roles"], batch["context"], batch["text_mask"])
            speaker = self.speaker_mapper.voice(batch["reference"], batch["reference_mask"])
        # one stream per step and batch: the same on every device and after a resume
        generator = seeded(self.seed, step, *batch["index"].tolist())
        loss = training_loss(self.dit, batch["mel"], batch["mask"], text, speaker, generator)
        return loss, {"flow": float(loss.detach())}

    def config(self) -> dict:
        if self.lora is not None:
            return lora_metadata(self.settings, *self.lora_settings)
        return speech_metadata(self.settings)


def _reference(records: list[ClipRecord], index: int) -> int:
    """Another clip of the same speaker (the next one, cyclically), or the clip itself if it is their only one."""
    same = [i for i, r in enumerate(records) if r.speaker == records[index].speaker]
    return same[(same.index(index) + 1) % len(same)]

"""A small real training task for the shared trainer: a ConvNeXt that predicts the next log-mel frame of
real speech (a manifest from make_tiny_dataset), conditioned on a frozen speaker embedding, optionally
with a critic. Used by the trainer tests, in this process and in torchrun's."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tavid_core.engines.neural.common.layers import ConvNeXtBlock
from tavid_core.engines.neural.speech.config import speech_config
from tavid_core.engines.neural.speech.mel import LogMel
from tavid_core.train.data.clips import load_clip_audio
from tavid_core.train.data.manifest import read_manifest, speaker_ids
from tavid_core.train.task import TrainTask
from tavid_core.train.trainer import TrainSettings

MEL = speech_config("tiny").mel
WINDOW = 40      # frames the network reads per example
AHEAD = 4        # a kernel-7 ConvNeXt sees 3 frames ahead, so the frame it must predict is the 4th
_MELS: dict[str, list] = {}


def _examples(manifest: str) -> list[tuple[torch.Tensor, int]]:
    """Normalised log-mel windows of WINDOW + AHEAD frames (half overlapping) with their speaker."""
    if manifest not in _MELS:
        records = read_manifest(manifest)
        ids = speaker_ids(records)
        logmel = LogMel(MEL)
        out = []
        for record in records:
            wave_ = torch.from_numpy(load_clip_audio(record, MEL.sample_rate))
            mel = (logmel(wave_[None])[0] + 5.0) / 2.5  # log-mel of speech spans about -11.5..1
            for start in range(0, mel.shape[0] - WINDOW - AHEAD + 1, WINDOW // 2):
                out.append((mel[start:start + WINDOW + AHEAD].clone(), ids[record.speaker]))
        _MELS[manifest] = out
    return _MELS[manifest]


class Predictor(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.proj_in = nn.Linear(MEL.n_mels, width)
        self.block = ConvNeXtBlock(width, 2 * width, layer_scale=0.1)
        self.proj_out = nn.Linear(width, MEL.n_mels)

    def forward(self, mel: torch.Tensor, speaker: torch.Tensor) -> torch.Tensor:
        return self.proj_out(self.block(self.proj_in(mel) + speaker[:, None]))


class NextFrameTask(TrainTask):
    """Predict frame t + AHEAD from the frames around t; input noise draws on torch's global RNG (as
    flow-matching noise does), so resuming must restore it."""

    block = "next-frame"

    def __init__(self, manifest: str, *, width: int = 32, init_seed: int = 0, critic: bool = False,
                 fail_at: int | None = None):
        self.items = _examples(manifest)
        with torch.random.fork_rng():
            torch.manual_seed(init_seed)
            self.net = Predictor(width)
            self.critic = nn.Linear(MEL.n_mels, 1) if critic else None
        # frozen: a pretrained network in a real task, the same in every run (not in the resume state)
        self.speakers = nn.Embedding(2, width)
        nn.init.normal_(self.speakers.weight, std=0.5, generator=torch.Generator().manual_seed(0))
        self.width, self.fail_at = width, fail_at
        self.snapshots: list[dict[str, torch.Tensor]] = []  # trained weights as each step begins
        self.seen: list[int] = []

    def modules(self):
        return {"vocoder": self.net}  # a real block name, so the file reads as a TAVID checkpoint

    def frozen(self):
        return {"speaker_mapper": self.speakers}

    def critics(self):
        return {"speech_model": self.critic} if self.critic is not None else {}

    def dataset(self):
        return list(range(len(self.items)))

    def collate(self, items):
        self.seen.extend(items)
        return {"mel": torch.stack([self.items[i][0] for i in items]),
                "speaker": torch.tensor([self.items[i][1] for i in items])}

    def _predict(self, batch):
        noisy = batch["mel"][:, :WINDOW] + 0.05 * torch.randn_like(batch["mel"][:, :WINDOW])
        return self.net(noisy, self.speakers(batch["speaker"])), batch["mel"][:, AHEAD:]

    def loss(self, batch, step):
        if step == self.fail_at:
            raise KeyboardInterrupt("simulated crash")
        self.snapshots.append({k: v.detach().clone() for k, v in self.net.state_dict().items()})
        pred, target = self._predict(batch)
        mse = F.mse_loss(pred, target)
        loss = mse
        if self.critic is not None:
            loss = mse + 0.01 * ((self.critic(pred) - 1) ** 2).mean()
        return loss, {"mse": mse.item()}

    def critic_loss(self, batch, step):
        if step < 2:
            return None
        with torch.no_grad():
            pred, target = self._predict(batch)
        return ((self.critic(target) - 1) ** 2).mean() + (self.critic(pred) ** 2).mean()

    def config(self):
        return {"vocoder": {"kind": "next-frame test", "width": self.width, "n_mels": MEL.n_mels}}

    def eval_mse(self, weights: dict[str, torch.Tensor] | None = None) -> float:
        """Mean squared error over the whole data set, without noise, with `weights` if given."""
        net = Predictor(self.width)
        net.load_state_dict(weights if weights is not None else self.net.state_dict())
        batch = self.collate(self.dataset())
        with torch.no_grad():
            pred = net(batch["mel"][:, :WINDOW], self.speakers(batch["speaker"]))
        return float(F.mse_loss(pred, batch["mel"][:, AHEAD:]))


def settings(**kw) -> TrainSettings:
    base = dict(steps=10, batch_size=8, lr=3e-3, warmup=3, save_every=0, log_every=5, device="cpu", seed=1)
    return TrainSettings(**(base | kw))

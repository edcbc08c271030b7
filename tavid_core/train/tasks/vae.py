"""`tavid train vae`: the face model's own KL autoencoder (FaceVAE) learns to encode and rebuild the
face crops of recorded conversations (`face_vae.vae_losses`: L1 reconstruction plus a small KL term).

Examples are single frames, every frame of both people of every clip, as float `[3, S, S]` in -1..1
(S a multiple of 8). The posterior sample of each step comes from a CPU generator seeded by the run's
seed, the step and the batch's frames.

The latent scaling factor (1 / std of the latents, so the diffusion model sees unit-variance latents)
is measured whenever the configuration is asked for, i.e. each time a checkpoint is written, with the
weights as they are then, on a fixed set of evenly spaced training frames. The trainer saves the
moving average (EMA) of the weights, which trails them slightly; at the end of a run the two encoders
give latents of nearly the same spread.

The run writes DIR/vae.safetensors: a `face_model` block holding only the VAE (`face_model.vae.*`,
FaceModelNet) with its FaceVAEConfig under `tavid_config["face_vae"]`; `tavid train face --init` that
file adds the denoiser.
"""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Sequence

import numpy as np
import torch
from torch import nn

from ...checkpoints import VAE_SECTION
from ...engines.neural.common.inference import seeded
from ...engines.neural.face.net import FaceModelNet
from ...engines.neural.face.vae import FaceVAE, FaceVAEConfig, latent_scaling_factor, vae_losses
from ...errors import TavidError
from ..task import TrainTask

if TYPE_CHECKING:
    from ..data.face_data import DyadicClip

SCALE_FRAMES = 64   # training frames the scaling factor is measured on


def check_size(size: int, config: FaceVAEConfig) -> None:
    """Frames must halve cleanly down to the latent grid."""
    if size % config.downsample:
        raise TavidError(f"the autoencoder needs frames whose size is a multiple of {config.downsample}, got {size}",
                         where="--size", fix=f"Use --size {max(config.downsample, size // config.downsample * config.downsample)}.")


def to_images(frames: np.ndarray) -> torch.Tensor:
    """uint8 `[B, S, S, 3]` -> float `[B, 3, S, S]` in -1..1."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 127.5 - 1.0


class VaeTask(TrainTask):
    block = "vae"

    def __init__(self, config: FaceVAEConfig, clips: Sequence[DyadicClip], seed: int = 0):
        self.tracks = [person.frames for clip in clips for person in clip.people if len(person.frames)]
        if not self.tracks:
            raise TavidError("no face frames to train the autoencoder on", where="manifest")
        sizes = sorted({track.shape[1:] for track in self.tracks})
        if len(sizes) != 1 or sizes[0][0] != sizes[0][1] or sizes[0][2] != 3:
            raise TavidError(f"the clips' face crops differ in shape ({sizes})", where="manifest",
                             fix="Prepare every clip at one --size.")
        check_size(sizes[0][0], config)
        self.cfg, self.seed = config, seed
        self.starts = np.cumsum([0] + [len(track) for track in self.tracks])   # first frame of each track
        self.total = int(self.starts[-1])
        self.scale_items = np.unique(np.linspace(0, self.total - 1, min(SCALE_FRAMES, self.total)).round()).astype(int)
        with torch.random.fork_rng(devices=[]):  # the same initial weights for a seed, whatever ran before
            torch.manual_seed(seed)
            self.vae = FaceVAE(config)
        self.face_model = FaceModelNet(vae=self.vae)

    def _frames(self, items: Sequence[int]) -> np.ndarray:
        tracks = np.searchsorted(self.starts, items, side="right") - 1
        return np.stack([self.tracks[t][i - self.starts[t]] for t, i in zip(tracks, items)])

    def modules(self) -> dict[str, nn.Module]:
        return {"face_model": self.face_model}

    def dataset(self) -> range:
        return range(self.total)

    def collate(self, items: list[int]) -> dict[str, torch.Tensor]:
        return {"images": to_images(self._frames(items)), "index": torch.tensor(items)}

    def loss(self, batch: dict[str, torch.Tensor], step: int) -> tuple[torch.Tensor, dict[str, float]]:
        generator = seeded(self.seed, step, *batch["index"].tolist())
        return vae_losses(self.vae, batch["images"], generator)

    def scaling_factor(self) -> float:
        """1 / std of the current encoder's latents of the fixed measuring frames."""
        return latent_scaling_factor(self.vae, to_images(self._frames(self.scale_items)))

    def config(self) -> dict:
        return {VAE_SECTION: replace(self.cfg, scaling_factor=round(self.scaling_factor(), 6)).to_dict()}

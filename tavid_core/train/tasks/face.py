"""`tavid train face`: teach the face denoiser to render a person's frames from their reference frame
and Motion labels, in the latent space of a frozen VAE (ours from `tavid train vae`, or a Stable
Diffusion one).

Each person of each dyadic clip is one track. The VAE encodes every frame once (posterior means, on the
CPU, when the task is made); the reference is the track's first frame (lips closed, as a photo is
prepared for rendering), and the rig its Motion labels were fitted to draws the
motion maps of a window when the window is drawn (maps are large, latents small). Examples are windows
of `window` frames starting every `window // 2` frames; the loss is `face_diffusion.diffusion_loss`.
The saved block holds the denoiser and, for our own VAE, the VAE, so the file renders on its own.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import nn

from ...checkpoints import FACE_SECTION, VAE_SECTION
from ...engines.neural.common.inference import seeded
from ...engines.neural.face.denoiser import FaceDenoiser, FaceDiffusionConfig
from ...engines.neural.face.diffusion import FaceBatch, diffusion_loss
from ...engines.neural.face.model import frame_motion
from ...engines.neural.face.motion_maps import motion_maps
from ...engines.neural.face.net import FaceModelNet
from ...engines.neural.face.vae import LatentAutoencoder
from ...engines.neural.lora.adapters import LoraWeights, add_lora, check_rank, lora_metadata
from ...engines.shared.face_rig import FaceRig
from ...errors import TavidError
from ...types import Motion
from ..data.face_data import person_rig
from ..task import TrainTask
from .vae import to_images


@dataclass(frozen=True)
class Track:
    """One person of one clip, ready to train on."""

    latents: torch.Tensor     # [T, C, h, w] scaled VAE latents of the frames
    reference: torch.Tensor   # [C, h, w] of the reference frame
    rig: FaceRig              # the one the Motion labels were fitted to, in pixels of a `size` image
    motion: Motion            # the track's labels
    vectors: np.ndarray       # [T, M] the denoiser's motion vectors
    size: int


def encode_tracks(clips: Sequence, vae: LatentAutoencoder, config: FaceDiffusionConfig) -> list[Track]:
    """Every person of every clip as a Track (frames encoded once with the frozen VAE)."""
    tracks = []
    for clip in clips:
        for person in clip.people:
            size = person.frames.shape[1]
            if size % config.multiple:
                raise TavidError(f"face crops of {size} px do not fit the {config.name} face model", where="--size",
                                 fix=f"Use a multiple of {config.multiple}.")
            latents = vae.encode_chunked(to_images(person.frames))
            reference = vae.encode_chunked(to_images(person.reference[None]))[0]
            tracks.append(Track(latents, reference, person_rig(person), person.motion,
                                frame_motion(person.motion, config.code_dim), size))
    return tracks


class FaceTask(TrainTask):
    block = "face"

    def __init__(self, config: FaceDiffusionConfig, vae: LatentAutoencoder, vae_settings: dict, clips: Sequence, *,
                 seed: int = 0, denoiser: FaceDenoiser | None = None, lora_rank: int | None = None,
                 lora_alpha: float | None = None):
        """`lora_rank`: train only a LoRA of that rank on the attention of `denoiser` (a trained one); the run
        then writes DIR/face_lora.safetensors, a LoRA file for the LoRA Loader."""
        if not clips:
            raise TavidError("the manifest has no clips", where="--data")
        self.cfg, self.seed, self.vae_settings = config, seed, vae_settings
        own = config.vae == "own"
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.net = FaceModelNet(denoiser or FaceDenoiser(config), vae if own else None)
            self.lora = None
            if lora_rank is not None:
                check_rank(lora_rank, lora_alpha)
                self.net.denoiser.eval().requires_grad_(False)
                add_lora(self.net.denoiser, lora_rank, lora_alpha)   # A drawn from `seed`, B zero
                self.lora, self.lora_settings = LoraWeights(self.net.denoiser), (lora_rank, lora_alpha)
                self.block = "face_lora"   # the file's name, and the kind of run a resume must match
        vae.eval().requires_grad_(False)
        self.tracks = encode_tracks(clips, vae, config)
        self.items = [(i, start) for i, track in enumerate(self.tracks)
                      for start in range(0, max(1, len(track.latents) - config.window + 1), max(1, config.window // 2))]

    def modules(self) -> dict[str, nn.Module]:
        return {"face_model": self.lora if self.lora is not None else self.net}

    def dataset(self) -> list[int]:
        return list(range(len(self.items)))

    def collate(self, indices: list[int]) -> dict[str, torch.Tensor]:
        items = [self.items[k] for k in indices]
        frames = min(self.cfg.window, min(len(self.tracks[i].latents) for i, _ in items))
        parts: dict[str, list] = {"latents": [], "reference": [], "maps": [], "motion": []}
        for i, start in items:
            track = self.tracks[i]
            stop = start + frames
            parts["latents"].append(track.latents[start:stop])
            parts["reference"].append(track.reference)
            window = track.motion.window(start, stop)
            parts["maps"].append(torch.from_numpy(motion_maps(track.rig, window, track.size, source_size=track.size)))
            parts["motion"].append(torch.from_numpy(track.vectors[start:stop]))
        return {k: torch.stack(v) for k, v in parts.items()} | {"index": torch.tensor(indices)}

    def loss(self, batch: dict[str, torch.Tensor], step: int) -> tuple[torch.Tensor, dict[str, float]]:
        data = FaceBatch(batch["latents"], batch["reference"], batch["maps"], batch["motion"])
        if self.lora is not None:   # the trainer moves only the LoRA it trains; the frozen rest follows the batch
            self.net.denoiser.to(data.latents.device)
        generator = seeded(self.seed, step, *batch["index"].tolist())
        return diffusion_loss(self.net.denoiser, data, generator)

    def config(self) -> dict:
        if self.lora is not None:
            return lora_metadata(self.cfg, *self.lora_settings, block="face_model")
        return {FACE_SECTION: self.cfg.to_dict(), VAE_SECTION: self.vae_settings}

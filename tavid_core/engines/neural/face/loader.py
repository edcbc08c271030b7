"""The neural face model from TAVID checkpoints: `face_model.denoiser.*` and, for our own autoencoder,
`face_model.vae.*`, configurations under FACE_SECTION and VAE_SECTION. A face model trained on a Stable
Diffusion VAE carries no VAE: the user names the VAE file (ComfyUI's models/vae), which is checked to be
of the kind it was trained on. A later file's block replaces an earlier one's, as on the speech side.
"""
from __future__ import annotations

import os
from typing import Sequence

import torch

from ....checkpoints import FACE_SECTION, VAE_SECTION, CheckpointInfo, inspect_checkpoint, load_block, saved_config
from ....errors import TavidError
from ..common.inference import precision_for
from .denoiser import FaceDenoiser, FaceDiffusionConfig
from .model import NeuralFaceModel
from .vae import FaceVAE, FaceVAEConfig, LatentAutoencoder, load_sd_vae

DENOISER, VAE = "face_model.denoiser.", "face_model.vae."


def _has(info: CheckpointInfo, prefix: str) -> bool:
    return any(k.startswith(prefix) for k in info.shapes)


def load_face_vae(info: CheckpointInfo) -> FaceVAE:
    """Our own VAE of a face_model block (from `tavid train vae` or a face run)."""
    name = os.path.basename(info.path)
    config = FaceVAEConfig.from_dict(saved_config(info, VAE_SECTION, "a face VAE"),
                                     where=f"{name} {VAE_SECTION} settings")
    vae = FaceVAE(config)
    load_block(vae, VAE, info, f"the {config.name} face VAE")
    return vae


def _vae_for(info: CheckpointInfo, config: FaceDiffusionConfig, vae: str | None) -> LatentAutoencoder:
    name = os.path.basename(info.path)
    if config.vae == "own":
        if vae:
            raise TavidError("this face model was trained with its own VAE, which its checkpoint holds; another VAE "
                             "would give it latents it cannot read", where="vae", fix="Leave vae empty (none).")
        if not _has(info, VAE):
            raise TavidError("the face model's VAE is missing from the checkpoint", where=name,
                             fix="Bundle the face run's file, which holds both (tavid bundle).")
        return load_face_vae(info)
    if not vae:
        raise TavidError(f"this face model was trained on a Stable Diffusion {config.vae} VAE, which its checkpoint "
                         "does not hold", where="vae", fix=f"Pick an {config.vae.upper()} VAE file from models/vae.")
    return load_sd_vae(vae, config.vae)


def load_face_model(info: CheckpointInfo, precision: torch.dtype, vae: str | None = None) -> NeuralFaceModel:
    name = os.path.basename(info.path)
    if not _has(info, DENOISER) and _has(info, VAE):
        raise TavidError("it holds only a face VAE, not a face model to render with", where=name,
                         fix="Train the face model on it: tavid train face --init <this file>.")
    config = FaceDiffusionConfig.from_dict(saved_config(info, FACE_SECTION, "a face model"),
                                           where=f"{name} {FACE_SECTION} settings")
    denoiser = FaceDenoiser(config)
    load_block(denoiser, DENOISER, info, f"the {config.name} face model")
    autoencoder = _vae_for(info, config, vae)
    return NeuralFaceModel(denoiser.eval().requires_grad_(False), autoencoder.eval().requires_grad_(False), config,
                           precision)


def load_face_side(paths: Sequence[str], *, dtype: str = "auto", device: torch.device | None = None,
                   vae: str | None = None) -> dict[str, object]:
    """{"face_model": engine} when a file holds a face model (a later file's replaces an earlier one's), else {}."""
    infos = [inspect_checkpoint(p) for p in paths]
    face = [i for i in infos if "face_model" in i.blocks]
    if face:
        return {"face_model": load_face_model(face[-1], precision_for(dtype, device or torch.device("cpu")), vae)}
    if vae:
        raise TavidError("a VAE was given but no checkpoint holds a face model to use it", where="vae",
                         fix="Leave vae empty, or load a face model trained on that VAE.")
    return {}

"""Building the neural face side from TAVID checkpoints: the motion mapper and the face model are
independent blocks (each works with any speech engine and any motion), so either may come alone.

- `motion_mapper.*`, configuration under tavid_config[MOTION_SECTION];
- `face_model.denoiser.*` and, for our own autoencoder, `face_model.vae.*`, configurations under
  FACE_SECTION and VAE_SECTION. A face model trained on a Stable Diffusion VAE carries no VAE: the user
  names the VAE file (ComfyUI's models/vae), which is checked to be of the kind it was trained on.
A later file's block replaces an earlier one's, as on the speech side.
"""
from __future__ import annotations

import os
from typing import Sequence

import torch

from ...checkpoints import CheckpointInfo, inspect_checkpoint
from ...errors import TavidError
from .face_denoiser import FaceDenoiser, FaceDiffusionConfig
from .face_model import NeuralFaceModel
from .face_net import FACE_SECTION, MOTION_SECTION, VAE_SECTION
from .face_vae import FaceVAE, FaceVAEConfig, LatentAutoencoder, load_sd_vae
from .inference import precision_for
from .loader import load_block
from .motion_mapper import MotionMapperConfig, MotionMapperNet, NeuralMotionMapper

DENOISER, VAE = "face_model.denoiser.", "face_model.vae."


def _section(info: CheckpointInfo, section: str, what: str) -> dict:
    if section not in info.config:
        raise TavidError(f"it holds a {what} but not the configuration it was trained with",
                         where=os.path.basename(info.path), fix="Use a checkpoint written by `tavid train` or `tavid bundle`.")
    return info.config[section]


def _has(info: CheckpointInfo, prefix: str) -> bool:
    return any(k.startswith(prefix) for k in info.shapes)


def load_motion_mapper(info: CheckpointInfo, precision: torch.dtype) -> NeuralMotionMapper:
    name = os.path.basename(info.path)
    config = MotionMapperConfig.from_dict(_section(info, MOTION_SECTION, "motion mapper"),
                                          where=f"{name} {MOTION_SECTION} settings")
    net = MotionMapperNet(config)
    load_block(net, "motion_mapper.", info, f"the {config.name} motion mapper")
    return NeuralMotionMapper(net.eval().requires_grad_(False), precision)


def load_face_vae(info: CheckpointInfo) -> FaceVAE:
    """Our own VAE of a face_model block (from `tavid train vae` or a face run)."""
    name = os.path.basename(info.path)
    config = FaceVAEConfig.from_dict(_section(info, VAE_SECTION, "face VAE"), where=f"{name} {VAE_SECTION} settings")
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
    config = FaceDiffusionConfig.from_dict(_section(info, FACE_SECTION, "face model"),
                                           where=f"{name} {FACE_SECTION} settings")
    denoiser = FaceDenoiser(config)
    load_block(denoiser, DENOISER, info, f"the {config.name} face model")
    autoencoder = _vae_for(info, config, vae)
    return NeuralFaceModel(denoiser.eval().requires_grad_(False), autoencoder.eval().requires_grad_(False), config,
                           precision)


def load_face_side(paths: Sequence[str], *, dtype: str = "auto", device: torch.device | None = None,
                   vae: str | None = None) -> dict[str, object]:
    """The neural motion mapper and face model the files hold, by block (either, both or none)."""
    infos = [inspect_checkpoint(p) for p in paths]
    precision = precision_for(dtype, device or torch.device("cpu"))
    out: dict[str, object] = {}
    motion = [i for i in infos if "motion_mapper" in i.blocks]
    if motion:
        out["motion_mapper"] = load_motion_mapper(motion[-1], precision)
    face = [i for i in infos if "face_model" in i.blocks]
    if face:
        out["face_model"] = load_face_model(face[-1], precision, vae)
    elif vae:
        raise TavidError("a VAE was given but no checkpoint holds a face model to use it", where="vae",
                         fix="Leave vae empty, or load a face model trained on that VAE.")
    return out

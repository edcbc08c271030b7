"""The face model's checkpoint block: one `face_model` holding the denoiser and (for our own autoencoder)
the VAE, so `face_model.denoiser.*` and `face_model.vae.*` are the tensor names in a file.

`tavid train vae` writes a block with only the VAE; `tavid train face --init <that file>` adds the
denoiser (the VAE stays frozen). A denoiser trained on a Stable Diffusion VAE from ComfyUI's models/vae
carries no VAE tensors: its configuration names the kind of VAE, and the user picks the file.

Configurations travel in `tavid_config` under checkpoints.FACE_SECTION (the denoiser's FaceDiffusionConfig)
and checkpoints.VAE_SECTION (our FaceVAEConfig, or {"sd": "sd1"|"sdxl"} for a Stable Diffusion VAE).
"""
from __future__ import annotations

from torch import nn


class FaceModelNet(nn.Module):
    """Container of the face model's networks; either may be absent (None) while training in stages."""

    def __init__(self, denoiser: nn.Module | None = None, vae: nn.Module | None = None):
        super().__init__()
        self.denoiser = denoiser
        self.vae = vae

    def forward(self, *args, **kwargs):
        raise TypeError("FaceModelNet only holds the face model's networks; call .denoiser or .vae")

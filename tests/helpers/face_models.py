"""Neural face models for tests: a tiny one with random weights that sampling can steer, and the plain
Euler sampler ComfyUI hands a node as its SAMPLER."""
from __future__ import annotations

import torch


def untrained(cfg=None, seed: int = 0, package: str = "tavid_core"):
    """A tiny face model with random weights everywhere (the zero-initialised output layers too), so
    sampling does something a scheduler, a seed or a condition can change. `package`: the import name of the
    library (the node tests load the repository a second time as the ComfyUI package comfyui_tavid)."""
    import importlib

    def neural(module: str):
        return importlib.import_module(f"{package}.engines.neural.{module}")

    cfg = cfg or neural("face.denoiser").face_config("tiny")
    torch.manual_seed(seed)
    denoiser = neural("face.denoiser").FaceDenoiser(cfg)
    vae = neural("face.vae").FaceVAE(neural("face.vae").vae_config("tiny"))
    with torch.no_grad():
        for p in denoiser.parameters():
            if p.abs().sum() == 0:
                p.normal_(0, 0.05)
    return neural("face.model").NeuralFaceModel(denoiser.eval(), vae.eval(), cfg)


def euler_k_sampler(model, x, sigmas, extra_args=None, callback=None, disable=None):
    """k-diffusion's plain Euler sampler, as ComfyUI's KSamplerSelect("euler") hands it over."""
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i] * x.new_ones([x.shape[0]]), **(extra_args or {}))
        x = x + (x - denoised) / sigmas[i] * (sigmas[i + 1] - sigmas[i])
        if callback is not None:
            callback({"i": i, "x": x, "sigma": sigmas[i], "denoised": denoised})
    return x

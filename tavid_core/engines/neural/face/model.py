"""The neural face model engine: latent diffusion of a person's face following any Motion.

prepare: the same portrait the built-in renderer animates (dlib, square crop, mouth closed, landmark
rig), encoded once by the VAE as the reference latent. render: per window, the motion maps (drawn from
the rig moved by the Motion, motion_maps.py) and the motion vector (pose, expression, codes) condition
the denoiser; windows are sampled with the scheduler the settings name (or ComfyUI's SAMPLER/SIGMAS),
joined with prompts and cross-fades and anchored to the reference (diffusion.py), and decoded a few
frames at a time. Progress and the interrupt check run after every sampling step.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from ....errors import TavidError
from ....runtime import Runtime
from ....types import Motion
from ...memory import out_of_memory_advice
from ...protocols import FaceModel, PreparedFace, SamplerSettings
from ...shared.face_rig import FaceRig
from ...shared.portrait import prepare_portrait
from ..common.inference import autocast
from ..common.motion_vector import motion_vector
from ..lora.host import LoraHost
from ..sampling.kdiffusion import noise_levels
from ..sampling.schedulers import Sampling
from .denoiser import FaceDenoiser, FaceDiffusionConfig
from .diffusion import CustomSampler, WindowSampler
from .motion_maps import motion_maps
from .vae import LatentAutoencoder

log = logging.getLogger("tavid")
DECODE_CHUNK = 8


@dataclass(eq=False)
class NeuralFace(PreparedFace):
    size: int
    rig: FaceRig
    pixels: np.ndarray          # [size, size, 3] uint8, the portrait
    reference: torch.Tensor     # [C, size/8, size/8] scaled latent of the portrait, CPU float32
    crop_box: tuple[int, int, int]


def frame_motion(motion: Motion, code_dim: int) -> np.ndarray:
    """The denoiser's per-frame motion vector: pose, expression and `code_dim` codes (zeros when the
    Motion has none, as built-in motion does: the model was trained with them dropped too)."""
    base = motion_vector(motion, 0)
    if not code_dim:
        return base
    codes = motion.codes if motion.codes is not None and motion.codes.shape[1] == code_dim else None
    if codes is None:
        codes = np.zeros((motion.num_frames, code_dim), np.float32)
    return np.concatenate([base, codes.astype(np.float32)], axis=1)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """VAE output `[T, 3, H, W]` in about -1..1 as uint8 frames `[T, H, W, 3]`."""
    return ((images.clamp(-1, 1) + 1) * 127.5 + 0.5).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def rechunk(parts: Iterator[np.ndarray], size: int) -> Iterator[np.ndarray]:
    """`parts` (arrays of any lengths along dim 0) as consecutive arrays of exactly `size` (the last may
    be shorter), holding no more than one output's worth at a time."""
    pending: list[np.ndarray] = []
    held = 0
    for part in parts:
        pending.append(part)
        held += len(part)
        while held >= size:
            joined = np.concatenate(pending)
            yield joined[:size]
            pending, held = [joined[size:]], held - size
    if held:
        yield np.concatenate(pending)


def sampling_of(settings: SamplerSettings) -> Sampling:
    identity = settings.cfg if settings.identity_cfg is None else settings.identity_cfg
    return Sampling(sampler=settings.sampler, scheduler=settings.scheduler, steps=settings.steps,
                    cfg_identity=identity, cfg_motion=settings.cfg, seed=settings.seed)


class NeuralFaceModel(FaceModel, LoraHost):
    name = "tavid-face-diffusion"
    family = "neural"
    lora_block = "face_model"
    counts_steps = True

    def __init__(self, denoiser: FaceDenoiser, vae: LatentAutoencoder, config: FaceDiffusionConfig,
                 precision: torch.dtype = torch.float32):
        self.denoiser, self.vae, self.config, self.precision = denoiser, vae, config, precision
        if vae.latent_channels != config.latent_channels:
            raise TavidError(f"the VAE makes {vae.latent_channels}-channel latents, the face model was trained on "
                             f"{config.latent_channels}", where="vae", fix=f"Use a {config.vae} VAE.")

    def modules(self) -> list[torch.nn.Module]:
        return [self.denoiser, self.vae]

    def check_size(self, size: int) -> None:
        m = self.config.multiple
        if size % m:
            raise TavidError(f"the face model renders sizes that are multiples of {m}, got {size}", where="size",
                             fix=f"Use {max(m, size // m * m)} or {(size // m + 1) * m}.")

    @torch.no_grad()
    def prepare(self, image: np.ndarray, *, size: int, runtime: Runtime, where: str = "face") -> NeuralFace:
        self.check_size(size)
        pixels, rig, crop_box = prepare_portrait(image, size, where)
        runtime.load(self)
        portrait = torch.from_numpy(pixels).permute(2, 0, 1)[None] * 2 - 1
        reference = self.vae.encode_chunked(portrait, 1, precision=self.precision)[0]
        return NeuralFace(size=size, rig=rig, pixels=(pixels * 255 + 0.5).astype(np.uint8), reference=reference,
                          crop_box=crop_box)

    def render(self, face: NeuralFace, motion: Motion, *, runtime: Runtime,
               settings: SamplerSettings = SamplerSettings()) -> np.ndarray:
        """All frames of `motion` at once (windows joined inside); `render_chunks` streams them."""
        parts = list(self.render_chunks(face, motion, runtime=runtime, settings=settings,
                                        chunk=max(1, motion.num_frames)))
        return np.concatenate(parts) if parts else np.zeros((0, face.size, face.size, 3), np.uint8)

    def render_chunks(self, face: NeuralFace, motion: Motion, *, runtime: Runtime,
                      settings: SamplerSettings = SamplerSettings(), chunk: int = 25) -> Iterator[np.ndarray]:
        """Frames in runs of exactly `chunk` (the last may be shorter). Windows are generated in order with
        the previous one's last frames as their prompt, so only a window's latents and one chunk of frames
        are held at a time, whatever the length."""
        if not isinstance(face, NeuralFace):
            raise TavidError("the face was prepared by another face model", where="face",
                             fix="Prepare the reference with the same face model that renders it.")
        runtime.load(self)
        device = runtime.device
        custom = settings.custom
        if custom is not None and not isinstance(custom, CustomSampler):
            raise TavidError(f"unknown custom sampler {type(custom).__name__}", where="sampler")
        sampler = WindowSampler(self.denoiser, face.reference, sampling=sampling_of(settings), custom=custom,
                                autocast=lambda: autocast(device, self.precision))
        frames = motion.num_frames
        code_dim, size = self.config.code_dim, face.size

        def conditions(start: int, stop: int) -> tuple[torch.Tensor, torch.Tensor]:
            part = motion.window(start, stop)
            return (torch.from_numpy(motion_maps(face, part, size)),
                    torch.from_numpy(frame_motion(part, code_dim)))

        total = len(sampler.spans(frames)) * sampler.steps_per_window()
        bar = runtime.progress(total, "face")
        done = [0]

        def on_step(step: int, _total: int) -> None:
            bar.update(step - done[0])
            done[0] = step
            runtime.check_interrupt()

        def decoded() -> Iterator[np.ndarray]:
            for _, latents in self._guarded(sampler.latents(frames, conditions, on_step), runtime, size):
                for start in range(0, len(latents), DECODE_CHUNK):
                    yield to_uint8(self.vae.decode_chunked(latents[start:start + DECODE_CHUNK], DECODE_CHUNK,
                                                           precision=self.precision))

        try:
            yield from rechunk(decoded(), chunk)
        finally:
            bar.close()

    @staticmethod
    def _guarded(items: Iterator, runtime: Runtime, size: int) -> Iterator:
        """`items`, with running out of memory turned into an error that says what to lower."""
        with out_of_memory_advice(runtime, f"sampling a window of {size} px faces", "size", lower="Lower size"):
            yield from items

    def noise_schedule(self):
        """The noise levels ComfyUI's scheduler nodes read (sigma_min/max, sigmas, timestep(), sigma())."""
        return noise_levels(self.config.prediction, self.config.num_train_timesteps, self.config.beta_schedule)

    # ------------------------------------------------------------------ LoRA (lora/host.py)
    def lora_network(self) -> FaceDenoiser:
        return self.denoiser

    def lora_model_config(self) -> dict:
        return self.config.to_dict()

    def check_lora_config(self, file_config: dict, where: str) -> None:
        made = FaceDiffusionConfig.from_dict(file_config, where=f"{where} face settings")
        shape = ("channels", "attention", "layers_per_level", "head_dim")
        differ = [k for k in shape if getattr(made, k) != getattr(self.config, k)]
        if differ:
            raise TavidError(f"this LoRA was made for a face model of another shape ({', '.join(differ)}: "
                             f"{getattr(made, differ[0])} there, {getattr(self.config, differ[0])} here)", where=where,
                             fix="Use a LoRA trained on this face model (tavid train face --init <its checkpoint> "
                                 "--lora-rank N).")

    def with_network(self, network: FaceDenoiser) -> "NeuralFaceModel":
        return NeuralFaceModel(network, self.vae, self.config, self.precision)

    def describe(self) -> dict:
        return super().describe() | {"config": self.config.name, "vae": self.config.vae,
                                     "precision": str(self.precision).replace("torch.", "")} | self.lora_description()

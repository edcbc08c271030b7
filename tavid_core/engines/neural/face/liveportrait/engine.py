"""LivePortrait as a TAVID face engine: the public networks driven by any Motion, pasted back into the portrait.

prepare (once per face): our face analysis (landmarks.py) gives LivePortrait's crop of the photo (crop.py); the
appearance network reads its feature volume and the motion extractor its keypoints, expression and pose; the lip
and eye networks work out what brings the photo to a closed mouth and open eyes. render (per window of frames,
`batch` at a time): the Motion becomes driving keypoints (driving.py), the warping network moves the photo's
features to them and the SPADE generator draws the face, which is pasted into the portrait through a feathered
mask. Every frame comes from the same features, so colour and identity cannot drift. Nothing is sampled:
sampler, steps, cfg and seed do not apply.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from .....errors import TavidError
from .....media.images import as_uint8_rgb
from .....runtime import Runtime
from .....types import Motion
from ....protocols import FaceModel, PreparedFace, SamplerSettings
from ....shared.portrait import square_portrait
from ...common.inference import autocast
from .config import LivePortraitConfig
from .crop import crop_image, crop_transform, feather_mask, paste, paste_grid, portrait_to_crop
from .driving import SourceKeypoints, driving_keypoints, stitched
from .expressions import expression_basis
from .keypoints import decode_motion, retarget_eye, retarget_lip, source_keypoints
from .landmarks import FaceLandmarks, face_landmarks
from .networks import LivePortraitNetworks

log = logging.getLogger("tavid")

LIP_OPEN_FROM = 0.03   # a photo whose lips part this much (gap / width) is closed by the lip network (as the
                       # reference's "normalize lip" does, from 0.03, to 0)
EYE_CLOSED_BELOW = 0.18  # eyes this narrow (lid gap / width) are opened by the eye network to EYE_OPEN (the
EYE_OPEN = 0.39          # reference's numbers for a closed and an open eye of its source videos)


@dataclass(eq=False)
class LivePortraitFace(PreparedFace):
    size: int
    portrait: torch.Tensor    # (3, size, size) float 0..1: the photo's square portrait, the background of every frame
    feature: torch.Tensor     # (1, C, D, H, W) the appearance network's feature volume of the crop
    source: SourceKeypoints
    grid: torch.Tensor        # (1, size, size, 2) where each portrait pixel lies in the generated crop
    mask: torch.Tensor        # (size, size) feathered mask of the crop in the portrait
    landmarks: FaceLandmarks
    crop_box: tuple[int, int, int]


def _to_uint8(frames: torch.Tensor) -> np.ndarray:
    return (frames.clamp(0, 1) * 255 + 0.5).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


class LivePortraitFaceModel(FaceModel):
    name = "liveportrait"
    family = "neural"

    def __init__(self, networks: LivePortraitNetworks, config: LivePortraitConfig = LivePortraitConfig(),
                 precision: torch.dtype = torch.float32, batch: int | None = None, compile: bool = False):
        self.networks, self.config, self.precision = networks, config, precision
        self.batch, self.compile = batch, compile
        self._compiled: dict[str, torch.nn.Module] = {}

    def modules(self) -> list[torch.nn.Module]:
        return list(self.networks.named().values())

    def frames_per_batch(self, device: torch.device) -> int:
        """Frames warped and decoded at once: on a GPU many (the networks are small, the frames big), on a CPU
        two (more only adds memory)."""
        return self.batch or (8 if device.type == "cuda" else 2)

    # ------------------------------------------------------------------------------------------ prepare
    @torch.inference_mode()
    def prepare(self, image: np.ndarray, *, size: int, runtime: Runtime, where: str = "face") -> LivePortraitFace:
        image = as_uint8_rgb(image, where)
        landmarks = face_landmarks(image, where)
        portrait, _, box = square_portrait(image, landmarks.points, size)
        render = self.config.render_size
        to_crop = crop_transform(landmarks, render)
        crop = crop_image(image, to_crop, render)
        side = self.config.image_size
        small = cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA)
        runtime.load(self)
        device = runtime.device
        x = torch.from_numpy(small).permute(2, 0, 1)[None].float().div(255).to(device)
        nets = self.networks
        feature = nets.appearance(x)
        source = self._source(decode_motion(nets.motion(x)), landmarks, float(np.sqrt(abs(np.linalg.det(
            to_crop[:, :2])))))
        grid = paste_grid(portrait_to_crop(to_crop, box, size), size, render)
        mask = torch.nn.functional.grid_sample(torch.from_numpy(feather_mask(render))[None, None], grid,
                                               align_corners=False)[0, 0]
        return LivePortraitFace(size=size, portrait=torch.tensor(portrait).permute(2, 0, 1).float() / 255,
                                feature=feature.cpu(), source=source.to(torch.device("cpu")), grid=grid, mask=mask,
                                landmarks=landmarks, crop_box=box)

    def _source(self, motion: dict, landmarks: FaceLandmarks, crop_scale: float) -> SourceKeypoints:
        """The photo's keypoints and the offsets that bring it to rest (see driving.py)."""
        nets, x_s = self.networks, source_keypoints(motion)
        rest = torch.zeros_like(x_s)
        if landmarks.lip_open >= LIP_OPEN_FROM:
            rest = rest + retarget_lip(nets.lip, x_s, x_s.new_tensor([[landmarks.lip_open, 0.0]]))
        left, right = landmarks.eye_open
        if (left + right) / 2 < EYE_CLOSED_BELOW:
            rest = rest + retarget_eye(nets.eye, x_s, x_s.new_tensor([[left, right, EYE_OPEN]]))
        # keypoints span the crop from -1 to 1: a face of 2 eye spans is 2 * span * scale / (render / 2) of them
        face = 2 * landmarks.eye_span * crop_scale * 2 / self.config.render_size
        return SourceKeypoints(kp=motion["kp"], exp=motion["exp"], rotation=motion["rotation"],
                               scale=motion["scale"], t=motion["t"], x_s=x_s, rest=rest,
                               basis=expression_basis(x_s, self.config.motion.num_kp).to(x_s), face=face)

    # ------------------------------------------------------------------------------------------- render
    def network(self, name: str, device: torch.device) -> torch.nn.Module:
        """The network `render` calls: compiled on first use when asked for and on a GPU (on a CPU compiling does
        not pay)."""
        module = getattr(self.networks, name)
        if not (self.compile and device.type == "cuda"):
            return module
        if name not in self._compiled:
            self._compiled[name] = torch.compile(module, dynamic=False)
        return self._compiled[name]

    def keypoints(self, face: LivePortraitFace, motion: Motion, device: torch.device | None = None
                  ) -> torch.Tensor:
        """(T, K, 3) driving keypoints of every frame of `motion`, stitched."""
        src = face.source.to(device or torch.device("cpu"))
        x_d = driving_keypoints(src, motion.pose, motion.expr, motion.expr_names)
        return stitched(self.networks.stitching, src, x_d)

    @torch.inference_mode()
    def render(self, face: LivePortraitFace, motion: Motion, *, runtime: Runtime,
               settings: SamplerSettings = SamplerSettings()) -> np.ndarray:
        if not isinstance(face, LivePortraitFace):
            raise TavidError("the face was prepared by another face model", where="face",
                             fix="Prepare the reference with the same face model that renders it.")
        runtime.load(self)
        device = runtime.device
        feature, x_s = face.feature.to(device), face.source.x_s.to(device)
        portrait, grid, mask = face.portrait.to(device), face.grid.to(device), face.mask.to(device)
        warp, generate = self.network("warping", device), self.network("generator", device)
        out = np.empty((motion.num_frames, face.size, face.size, 3), np.uint8)
        step = self.frames_per_batch(device)
        for start in range(0, motion.num_frames, step):
            runtime.check_interrupt()
            part = motion.window(start, min(start + step, motion.num_frames))
            x_d = self.keypoints(face, part, device)
            b = x_d.shape[0]
            with autocast(device, self.precision):
                warped = warp(feature.expand(b, -1, -1, -1, -1), x_d, x_s.expand(b, -1, -1))["out"]
                faces = generate(warped)
            out[start:start + b] = _to_uint8(paste(faces, grid, mask, portrait))
        return out

    def describe(self) -> dict:
        return super().describe() | {"precision": str(self.precision).replace("torch.", ""),
                                     "batch": self.batch or "auto", "compile": self.compile,
                                     "render_size": self.config.render_size}

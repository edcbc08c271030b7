"""Between ComfyUI's tensors (IMAGE, MASK, AUDIO) and the library's numpy arrays."""
from __future__ import annotations

import numpy as np
import torch

from ..tavid_core.errors import TavidError


def reference_image(image: torch.Tensor | None, field: str) -> np.ndarray:
    """The first picture of an IMAGE batch as uint8 RGB [H, W, 3]."""
    if image is None:
        raise TavidError("no image connected", where=field, fix="Connect a Load Image node.")
    if image.ndim != 4 or image.shape[0] == 0 or image.shape[-1] not in (1, 3, 4):
        raise TavidError(f"expected an IMAGE batch [B, H, W, C], got shape {tuple(image.shape)}", where=field)
    pixels = image[0, ..., :3].float().clamp(0, 1).mul(255).add(0.5).to(torch.uint8).cpu().numpy()
    if pixels.shape[-1] == 1:
        pixels = np.repeat(pixels, 3, axis=-1)
    return pixels


def frames_tensor(count: int, height: int, width: int) -> torch.Tensor:
    """An empty float IMAGE batch to fill window by window."""
    return torch.empty((count, height, width, 3), dtype=torch.float32)


def put_frames(batch: torch.Tensor, start: int, frames: np.ndarray) -> None:
    """Write uint8 frames [T, H, W, 3] into an IMAGE batch at `start`."""
    batch[start:start + len(frames)] = torch.from_numpy(frames).float().div_(255.0)


def to_audio(samples: np.ndarray, sample_rate: int) -> dict:
    """ComfyUI AUDIO from float [N] or [C, N]."""
    samples = np.atleast_2d(np.asarray(samples, np.float32))
    return {"waveform": torch.from_numpy(samples.copy())[None], "sample_rate": int(sample_rate)}


def from_audio(audio: dict | None, field: str, mono: bool = True) -> tuple[np.ndarray, int] | None:
    """Mono float [N] (or with `mono` False [C, N]) and rate from ComfyUI AUDIO (first batch item, channels
    averaged)."""
    if audio is None:
        return None
    try:
        waveform, rate = audio["waveform"], int(audio["sample_rate"])
    except (KeyError, TypeError):
        raise TavidError("not an AUDIO value (needs waveform and sample_rate)", where=field) from None
    if waveform.ndim != 3 or waveform.shape[-1] == 0:
        raise TavidError(f"expected audio [B, C, N], got shape {tuple(waveform.shape)}", where=field)
    samples = waveform[0].float().cpu()
    return (samples.mean(dim=0) if mono else samples).numpy(), rate

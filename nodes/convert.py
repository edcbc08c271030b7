"""Between ComfyUI's tensors (IMAGE, MASK, AUDIO) and the library's numpy arrays."""
from __future__ import annotations

import numpy as np
import torch

from ..tavid_core.errors import TavidError
from .runtime import available_memory, warn


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


def image_batch(pixels: np.ndarray) -> torch.Tensor:
    """A one-picture IMAGE batch [1, H, W, 3] from uint8 RGB [H, W, 3]."""
    return torch.from_numpy(np.asarray(pixels, np.float32) / 255.0)[None]   # a new array: samples are read-only


def frames_tensor(count: int, height: int, width: int, *, node: str, field: str, graph_share: int = 1) -> torch.Tensor:
    """An empty float IMAGE batch to fill window by window. Every frame of an IMAGE batch is float32 and
    ComfyUI keeps each node's output, so a long dialogue does not fit: a batch that cannot fit in the memory
    left is refused with its numbers, and one whose graph would need more (`graph_share` such batches in
    all) is warned about first."""
    need, free = count * height * width * 3 * 4, available_memory()
    if free is not None:
        what = f"{count:,} frames of {width}x{height} px are {_gb(need)} as an IMAGE batch"
        instead = "TAVID Render Video, which streams the frames into a video file with memory flat in length"
        if need > free:
            raise TavidError(f"{what}, more than the {_gb(free)} of memory left", where=field,
                             fix=f"For a dialogue this long use {instead}; or lower size or fps.")
        if need * graph_share > free:
            warn(node, f"{what}; the graph keeps about {_gb(need * graph_share)} of such frames (both faces "
                       f"and the composed picture) and {_gb(free)} of memory is left. Use {instead}.")
    return torch.empty((count, height, width, 3), dtype=torch.float32)


def _gb(size: int) -> str:
    return f"{size / 2**30:.1f} GiB" if size >= 2**30 else f"{size / 2**20:.1f} MiB"


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

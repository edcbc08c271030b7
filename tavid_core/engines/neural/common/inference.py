"""What every neural engine does the same way at inference: precision, autocast, seeds.

Weights stay float32; half precision is applied with autocast on CUDA (bf16 or fp16), which keeps the
numerically delicate parts (STFTs, norms, the ODE state) in float32. On the CPU everything runs in
float32, so CPU results are exact and repeatable.
"""
from __future__ import annotations

import contextlib

import numpy as np
import torch

from ....errors import TavidError
from ....runtime.base import DTYPES


def precision_for(name: str, device: torch.device) -> torch.dtype:
    """The compute precision a loader's `dtype` choice means on `device` ("auto": bf16 on GPUs that
    have it, else fp16 on CUDA, fp32 elsewhere)."""
    if name == "auto":
        if device.type != "cuda":
            return torch.float32
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if name not in DTYPES:
        raise TavidError(f"unknown dtype {name!r}", where="dtype", fix=f"Use auto or one of {', '.join(DTYPES)}.")
    return DTYPES[name]


def autocast(device: torch.device, precision: torch.dtype):
    """Mixed precision where it pays: half precision on CUDA, nothing on the CPU."""
    if precision in (torch.float16, torch.bfloat16) and device.type == "cuda":
        return torch.autocast("cuda", dtype=precision)
    return contextlib.nullcontext()


def seeded(*parts: int) -> torch.Generator:
    """A CPU generator for one piece of work (a turn, a backchannel) of a seeded run: its own stream,
    whatever order the pieces run in. Noise is drawn on the CPU, so a seed gives the same result on any device."""
    state = np.random.SeedSequence([int(p) for p in parts]).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]) >> 1)

"""Seeded random weights for equivalence tests of networks whose public weights cannot be downloaded.

Each tensor depends only on (seed, its key, its shape), never on the order keys are visited, so a reference
network built outside the repository and our own network laid out like the public files get the very same
numbers. Scales keep activations of deep random networks finite and of order one: weights of a layer are
normal with std gain/sqrt(fan_in); 1-D tensors are biases (small) or norm scales (near one); batch-norm
statistics are plausible (variance near one).
"""
from __future__ import annotations

import math
import zlib
from typing import Mapping, Sequence

import torch

NORM_WORDS = ("norm", "bn", "ln", "gamma", "scale")


def _generator(seed: int, key: str) -> torch.Generator:
    return torch.Generator().manual_seed((int(seed) * 1_000_003 + zlib.crc32(key.encode())) % (2 ** 63))


def seeded_tensor(key: str, shape: Sequence[int], seed: int, *, gain: float = 1.0,
                  dtype: torch.dtype = torch.float32) -> torch.Tensor:
    shape = tuple(int(s) for s in shape)
    leaf = key.rsplit(".", 1)[-1]
    if leaf == "num_batches_tracked" or dtype in (torch.int64, torch.int32, torch.bool):
        return torch.zeros(shape, dtype=dtype)
    g = _generator(seed, key)
    noise = torch.randn(shape, generator=g, dtype=torch.float32)
    if leaf == "running_var":
        out = 1.0 + 0.1 * noise.abs()
    elif leaf == "running_mean":
        out = 0.1 * noise
    elif len(shape) <= 1:
        is_norm_scale = leaf in ("weight", "gamma", "g", "scale") and any(w in key.lower() for w in NORM_WORDS)
        out = 1.0 + 0.1 * noise if is_norm_scale else 0.02 * noise
    else:
        fan_in = math.prod(shape[1:])
        out = noise * (gain / math.sqrt(max(fan_in, 1)))
    return out.to(dtype)


def seeded_state_dict(shapes: Mapping[str, Sequence[int]], seed: int, *, gain: float = 1.0,
                      dtypes: Mapping[str, torch.dtype] | None = None) -> dict[str, torch.Tensor]:
    """A state dict of seeded tensors for `shapes` (key -> shape), e.g. {k: v.shape for k, v in net.state_dict().items()}."""
    dtypes = dtypes or {}
    return {key: seeded_tensor(key, shape, seed, gain=gain, dtype=dtypes.get(key, torch.float32))
            for key, shape in shapes.items()}

"""The runtime outside ComfyUI: torch device placement and tqdm progress bars."""
from __future__ import annotations

import sys

import torch

from ..errors import TavidError
from .base import DTYPES, ManagedModule, Progress, Runtime


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise TavidError(f"unknown device {name!r}", where="device", fix="Use auto, cpu, cuda or cuda:N.") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise TavidError("CUDA was asked for but this torch has no GPU", where="device", fix="Use --device cpu.")
    return device


class _Silent:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


class StandaloneRuntime(Runtime):
    """`device`: "auto", "cpu", "cuda", ...; `dtype`: fp32, fp16 or bf16; `quiet` hides progress bars."""

    def __init__(self, device: str = "auto", dtype: str = "fp32", quiet: bool = False):
        if dtype not in DTYPES:
            raise TavidError(f"unknown dtype {dtype!r}", where="dtype", fix=f"Use one of {', '.join(DTYPES)}.")
        self._device = pick_device(device)
        self._dtype = DTYPES[dtype]
        self.quiet = quiet

    @property
    def device(self) -> torch.device:
        return self._device

    @property
    def dtype(self) -> torch.dtype:
        return self._dtype

    def load(self, *engines: ManagedModule) -> None:
        for engine in engines:
            for module in engine.modules():
                module.to(self._device)

    def progress(self, total: int, desc: str) -> Progress:
        if self.quiet:
            return _Silent()
        from tqdm.auto import tqdm
        return tqdm(total=total, desc=desc, unit="step", leave=False, file=sys.stderr, dynamic_ncols=True)

"""Running out of memory on any device: how to tell, how to give the memory back, and the one message that
says what ran out and what to lower (`out_of_memory_advice`), shared by every engine."""
from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator

import torch

from ..errors import TavidError
from ..runtime import Runtime

_OOM_TYPES = (MemoryError, getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError))
_OOM_WORDS = ("out of memory", "can't allocate memory", "failed to allocate")
_LAST_RESORT = "load the model in fp16 or bf16, or close other programs that use the memory."


def is_out_of_memory(error: BaseException) -> bool:
    """A memory error of any device: CUDA's own type, Python's, or the RuntimeError of other backends."""
    return isinstance(error, _OOM_TYPES) or (isinstance(error, RuntimeError)
                                              and any(w in str(error).lower() for w in _OOM_WORDS))


def release_memory(runtime: Runtime) -> None:
    gc.collect()
    if runtime.device.type == "cuda":
        torch.cuda.empty_cache()


@contextmanager
def out_of_memory_advice(runtime: Runtime, doing: str, where: str, lower: str | None = None) -> Iterator[None]:
    """Running out of memory inside becomes one error: "out of memory on <device> <doing>", placed at `where`,
    whose fix starts with what to `lower` ("Lower size") before the advice every engine gives. Other errors
    pass through untouched."""
    try:
        yield
    except Exception as e:  # noqa: BLE001 - only memory errors become advice, the rest re-raised
        if not is_out_of_memory(e):
            raise
        release_memory(runtime)
        fix = f"{lower}, {_LAST_RESORT}" if lower else _LAST_RESORT[0].upper() + _LAST_RESORT[1:]
        raise TavidError(f"out of memory on {runtime.device.type} {doing}", where=where, fix=fix) from None

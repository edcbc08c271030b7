"""`tavid convert` for LivePortrait's original .pth files (KwaiVGI/LivePortrait on Hugging Face): each becomes the
safetensors file ComfyUI's LivePortrait packs use, tensor for tensor.

The four base networks' .pth files are plain state dicts under the very names of the safetensors files. The
stitching file is a dict of three state dicts, {'retarget_shoulder': {'module.mlp.0.weight': ...},
'retarget_mouth': ..., 'retarget_eye': ...}, flattened as the public file is: `retarget_shoulder_module.mlp.0.weight`.
What a file is, is told by what it holds (its name may have been changed), and the result is checked like any
file the loader reads, so a conversion never writes a file the engine would refuse.
"""
from __future__ import annotations

from typing import Mapping

import torch

from .....errors import TavidError
from .config import LivePortraitConfig
from .files import DOWNLOAD_FIX
from .layout import public_file_layout
from .loader import check_file

MODEL = "LivePortrait"
GROUPS = ("retarget_shoulder", "retarget_mouth", "retarget_eye")
STITCHING = "stitching_retargeting_module.safetensors"
_SAFETENSORS_DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
                       torch.int64: "I64"}


def _tensors(held: object) -> dict[str, torch.Tensor] | None:
    """The state dict in a .pth, flattened as the public safetensors are; None when it is no LivePortrait file."""
    if not isinstance(held, Mapping):
        return None
    if set(GROUPS) <= set(held):
        flat = {}
        for group in GROUPS:
            if not isinstance(held[group], Mapping):
                return None
            flat.update({f"{group}_{key}": value for key, value in held[group].items()})
        return flat
    tensors = {k: v for k, v in held.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}
    if tensors and all(k.startswith("module.") for k in tensors):   # saved from DataParallel
        tensors = {k[len("module."):]: v for k, v in tensors.items()}
    return tensors or None


def public_name(held: object) -> str | None:
    """Which of the five public files this .pth's tensors are (most of that file's names present), or None."""
    tensors = _tensors(held)
    if tensors is None:
        return None
    keys = set(tensors)
    for name, layout in public_file_layout(with_optional=False).items():
        if len(keys & set(layout)) >= 0.9 * len(layout):
            return name
    return None


def recognises(file_name: str, held: object) -> bool:
    return public_name(held) is not None


def convert(file_name: str, held: object) -> dict[str, dict[str, torch.Tensor]]:
    """{public file name: tensors}, refused when the tensors are not exactly that file's."""
    name = public_name(held)
    tensors = {k: v.contiguous() for k, v in _tensors(held).items()}
    header = {k: (tuple(v.shape), _SAFETENSORS_DTYPES.get(v.dtype, str(v.dtype))) for k, v in tensors.items()}
    layout, required = public_file_layout()[name], public_file_layout(with_optional=False)[name]
    try:
        check_file(name, header, required, {k: s for k, s in layout.items() if k not in required},
                   LivePortraitConfig())
    except TavidError as e:
        raise TavidError(f"read as LivePortrait's {name}: {e.message}", where=file_name,
                         fix="Download the original again. " + DOWNLOAD_FIX) from None
    return {name: tensors}

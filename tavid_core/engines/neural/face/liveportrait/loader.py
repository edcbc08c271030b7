"""The public LivePortrait weights (five safetensors files) into our networks, every name and shape checked
before a single weight is read. Each problem is one TavidError naming the file: missing, cut short, a Git LFS
pointer, a pickle, another file's tensors under this name (renamed or swapped files), another keypoint count
(another LivePortrait-like model), tensors missing, reshaped or of another kind.

The animal model (the packs keep it in models/liveportrait/animal/) has the very same layout: only its folder
tells it apart. fp16/bf16 files are accepted and read as fp32, the precision the networks keep (half
precision is autocast at run time, engines/neural/common/inference.py).
"""
from __future__ import annotations

import os
from functools import lru_cache
from typing import Mapping

import torch

from .....checkpoints import read_header
from .....errors import TavidError
from .config import LivePortraitConfig
from .files import DOWNLOAD_FIX, NAMES, folder_files
from .layout import expected_tensors, file_plan, public_file_layout
from .networks import LivePortraitNetworks, build_networks

FLOAT_DTYPES = ("F32", "F16", "BF16", "F64")
OTHER_FILE_SHARE = 0.9   # this share of a file's tensor names found in another public file: that file it is
KEYPOINT_HEAD = "detector.fc_kp.weight"


@lru_cache(maxsize=1)
def _public_layouts() -> dict[str, dict[str, tuple[int, ...]]]:
    return public_file_layout()


def _listed(items: list[str], n: int = 5) -> str:
    return ", ".join(items[:n]) + (f" and {len(items) - n} more" if len(items) > n else "")


def _header(path: str, name: str) -> dict[str, tuple[tuple[int, ...], str]]:
    """Tensor name -> (shape, dtype) of a file, which is checked to be a whole safetensors file."""
    try:
        header = read_header(path)
    except TavidError as e:
        raise TavidError(e.message, where=name, fix="Download the file again. " + DOWNLOAD_FIX) from None
    return {k: (tuple(v["shape"]), v["dtype"]) for k, v in header.items() if k != "__metadata__"}


def _other_file(keys: set[str], name: str) -> str | None:
    """The public file whose tensors these are, when it is not `name`."""
    best, share = None, 0.0
    for other, layout in _public_layouts().items():
        found = len(keys & set(layout)) / max(len(keys), 1)
        if found > share:
            best, share = other, found
    return best if share > OTHER_FILE_SHARE and best != name else None


def check_file(name: str, header: dict[str, tuple[tuple[int, ...], str]], required: dict[str, tuple[int, ...]],
               optional: dict[str, tuple[int, ...]], cfg: LivePortraitConfig) -> None:
    """Refuse a file whose tensors are not exactly those `required` (plus some of `optional`), in one error."""
    keys = set(header)
    expected = {**required, **optional}
    missing = sorted(k for k in required if k not in keys)
    extra = sorted(k for k in keys if k not in expected)
    reshaped = sorted(k for k, shape in expected.items() if k in header and header[k][0] != shape)
    not_float = sorted(k for k in keys & set(required) if header[k][1] not in FLOAT_DTYPES)
    if not (missing or extra or reshaped or not_float):
        return
    put_right = "This name must hold the published file. " + DOWNLOAD_FIX
    if missing and extra and all(k.startswith("module.") for k in extra):
        raise TavidError("its tensor names start with 'module.': it is a training checkpoint, not the published "
                         "weights", where=name, fix=DOWNLOAD_FIX)
    if missing and extra:
        other = _other_file(keys, name)
        if other is not None:
            raise TavidError(f"it holds the tensors of {other}, not those of {name}: the files were renamed or "
                             "swapped", where=name, fix=put_right)
    parts = []
    if KEYPOINT_HEAD in reshaped:
        parts.append(f"its keypoint head predicts {header[KEYPOINT_HEAD][0][0] // 3} keypoints where LivePortrait's "
                     f"human model has {cfg.motion.num_kp}, so it is another model")
    if reshaped:
        shown = [f"{k} {list(header[k][0])} (expected {list(expected[k])})" for k in reshaped]
        parts.append(f"{len(reshaped)} tensors have other shapes: {_listed(shown, 3)}")
    if missing:
        parts.append(f"{len(missing)} of its {len(required)} tensors are missing: {_listed(missing)}")
    if extra:
        parts.append(f"{len(extra)} tensors are not part of LivePortrait: {_listed(extra)}")
    if not_float:
        parts.append(f"{len(not_float)} tensors are not floating point: {_listed(not_float)}")
    raise TavidError("it is not the LivePortrait weights this file should hold: " + "; ".join(parts), where=name,
                     fix=put_right)


def _fold_spectral(orig: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Eval-mode spectral normalisation W / (u . W v) with the stored u and v (no power iteration), in float64
    since seeded or badly conditioned weights make u . W v small."""
    w = orig.double()
    sigma = torch.dot(u.double(), torch.mv(w.reshape(w.shape[0], -1), v.double()))
    return (w / sigma).float()


def _files_of(source: str | os.PathLike | Mapping[str, str]) -> tuple[dict[str, str], str]:
    """(public name -> path, where they were looked for) of a folder or of a mapping of paths."""
    if isinstance(source, Mapping):
        files = dict(source)
        place = ", ".join(sorted({os.path.dirname(p) or "." for p in files.values()})) or "the files given"
        return {name: files.get(name) for name in NAMES}, place
    folder = os.fspath(source)
    return folder_files(folder), folder


def load_liveportrait(source: str | os.PathLike | Mapping[str, str], *, device: str | torch.device = "cpu",
                      config: LivePortraitConfig = LivePortraitConfig()) -> LivePortraitNetworks:
    """The seven networks filled from the five public files: a folder, or {public file name: path}."""
    from safetensors import safe_open

    files, place = _files_of(source)
    absent = [n for n, p in files.items() if p is None or not os.path.isfile(p)]
    if absent:
        also = f" (also missing: {', '.join(absent[1:])})" if len(absent) > 1 else ""
        raise TavidError(f"not found in {place}{also}", where=absent[0], fix=DOWNLOAD_FIX)
    with torch.device("meta"):  # shapes only: every tensor is replaced by the file's (assign=True below)
        nets = build_networks(config)
    plan = file_plan(nets, config)
    checked = {}
    for name, parts in plan.items():   # every file checked before any is read
        header = _header(files[name], name)
        tables = [(net, module, expected_tensors(module, layers)) for net, module, layers in parts]
        expected = [e for _, _, t in tables for _, exp in t.values() for e in exp]
        check_file(name, header, {e.file_key: e.shape for e in expected if not e.optional},
                   {e.file_key: e.shape for e in expected if e.optional}, config)
        checked[name] = (header, tables)
    for name, (header, tables) in checked.items():
        with safe_open(files[name], framework="pt") as f:
            for _, module, table in tables:
                state = {}
                for our_key, (kind, exp) in table.items():
                    if exp[0].optional:
                        state[our_key] = (f.get_tensor(exp[0].file_key) if exp[0].file_key in header
                                          else torch.zeros((), dtype=torch.long))
                    elif kind == "sn" and len(exp) == 3:
                        state[our_key] = _fold_spectral(*(f.get_tensor(e.file_key) for e in exp))
                    else:
                        state[our_key] = f.get_tensor(exp[0].file_key)
                state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
                module.load_state_dict(state, strict=True, assign=True)
    for module in nets.named().values():
        module.to(device).eval().requires_grad_(False)
    return nets


def load_liveportrait_side(files: Mapping[str, str], *, dtype: str = "auto", device: torch.device | None = None,
                           batch: int | None = None, compile: bool = False) -> dict[str, object]:
    """{"face_model": the LivePortrait engine} from {public file name: path} (files.split_liveportrait), or {}
    when there are none. The weights stay fp32 on the CPU until the runtime places them; `dtype` is the compute
    precision on a GPU."""
    from ...common.inference import precision_for
    from .engine import LivePortraitFaceModel
    if not files:
        return {}
    precision = precision_for(dtype, device or torch.device("cpu"))
    return {"face_model": LivePortraitFaceModel(load_liveportrait(files), precision=precision, batch=batch,
                                                compile=compile)}

"""LivePortrait weights for tests: the seeded random weights of the equivalence goldens, written as the five
public safetensors files (full size), and a tiny configuration's files for the engine's plumbing."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from helpers.paths import ROOT
from helpers.seeded_weights import seeded_state_dict

GOLDENS = ROOT / "tests/engines/neural/face/liveportrait/goldens/liveportrait_goldens.safetensors"


@lru_cache(maxsize=1)
def goldens() -> tuple[dict[str, torch.Tensor], dict]:
    """(tensors, facts) of the goldens file; the facts hold the seed, gains and the public key layout."""
    with safe_open(str(GOLDENS), framework="pt") as f:
        meta = json.loads(f.metadata()["goldens"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    return tensors, meta


def seeded_files(meta: dict | None = None) -> dict[str, dict[str, torch.Tensor]]:
    """The seeded weights, file by file, in the public key layout the goldens recorded."""
    meta = meta or goldens()[1]
    files = {}
    for fname, layout in meta["public_layout"].items():
        shapes = {k: tuple(s) for k, (s, _) in layout.items()}
        dtypes = {k: getattr(torch, d) for k, (_, d) in layout.items()}
        sd = seeded_state_dict(shapes, meta["seed"], gain=meta["gains"][fname], dtypes=dtypes)
        for key, gain in meta["key_gains"].get(fname, {}).items():
            sd.update(seeded_state_dict({key: shapes[key]}, meta["seed"], gain=gain, dtypes={key: dtypes[key]}))
        files[fname] = sd
    return files


def write_seeded_weights(folder: Path) -> Path:
    """The five full-size files (520 MB) of the goldens' seeded weights in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for fname, sd in seeded_files().items():
        save_file(sd, str(folder / fname))
    return folder


def write_tiny_weights(folder: Path, seed: int = 7) -> Path:
    """The five files of the tiny configuration (same names and key layout, small shapes), seeded."""
    from tavid_core.engines.neural.face.liveportrait.config import tiny_config
    from tavid_core.engines.neural.face.liveportrait.layout import public_file_layout
    folder.mkdir(parents=True, exist_ok=True)
    for fname, shapes in public_file_layout(tiny_config()).items():
        dtypes = {k: torch.int64 for k in shapes if k.endswith("num_batches_tracked")}
        save_file(seeded_state_dict(shapes, seed, dtypes=dtypes), str(folder / fname))
    return folder

"""The runtime inside ComfyUI: our networks go through ComfyUI's model management.

Each torch module an engine exposes is wrapped once in a `ModelPatcher` and loaded with
`load_models_gpu`, so ComfyUI can place and offload it next to every other model; progress goes to
ComfyUI's progress bar and every step checks for the user's cancel. When ComfyUI is not importable
(the pack's own tests, scripts) the standalone runtime stands in.
"""
from __future__ import annotations

import os
import weakref

import torch

from ..tavid_core.errors import TavidError
from ..tavid_core.runtime import ManagedModule, Progress, Runtime, StandaloneRuntime

MODEL_FOLDER = "tavid"         # models/tavid: TAVID checkpoints (.safetensors)
LORA_FOLDER = "tavid_loras"    # models/tavid_loras: LoRAs for TAVID networks


class _ComfyProgress:
    def __init__(self, total: int):
        import comfy.utils
        self._bar = comfy.utils.ProgressBar(total)

    def update(self, n: int = 1) -> None:
        self._bar.update(n)

    def close(self) -> None:
        pass


class ComfyRuntime(Runtime):
    def __init__(self):
        import comfy.model_management as mm
        self._mm = mm
        self._patchers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    @property
    def device(self) -> torch.device:
        return self._mm.get_torch_device()

    def _patcher(self, module: torch.nn.Module):
        if module not in self._patchers:
            from comfy.model_patcher import ModelPatcher
            self._patchers[module] = ModelPatcher(module, load_device=self._mm.get_torch_device(),
                                                  offload_device=self._mm.unet_offload_device())
        return self._patchers[module]

    def load(self, *engines: ManagedModule) -> None:
        patchers = [self._patcher(m) for engine in engines for m in engine.modules()]
        if patchers:
            self._mm.load_models_gpu(patchers)

    def progress(self, total: int, desc: str) -> Progress:
        return _ComfyProgress(total)

    def check_interrupt(self) -> None:
        self._mm.throw_exception_if_processing_interrupted()


_RUNTIME: Runtime | None = None


def node_runtime() -> Runtime:
    """The runtime nodes run on: ComfyUI's when inside ComfyUI, else a quiet standalone one."""
    global _RUNTIME
    if _RUNTIME is None:
        try:
            _RUNTIME = ComfyRuntime()
        except ImportError:
            _RUNTIME = StandaloneRuntime(quiet=True)
    return _RUNTIME


def register_model_folders() -> None:
    """models/tavid and models/tavid_loras (also settable in extra_model_paths.yaml), .safetensors only."""
    try:
        import folder_paths
    except ImportError:
        return
    for key in (MODEL_FOLDER, LORA_FOLDER):
        folder_paths.add_model_folder_path(key, os.path.join(folder_paths.models_dir, key))
        extensions = folder_paths.folder_names_and_paths[key][1]
        if isinstance(extensions, set):
            extensions.add(".safetensors")


def model_folders(key: str) -> list[str]:
    """The folders of a model key: ComfyUI's (models/<key> and extra_model_paths.yaml), or outside ComfyUI
    $TAVID_MODELS_DIR/<key>."""
    try:
        import folder_paths
        return folder_paths.get_folder_paths(key) if key in folder_paths.folder_names_and_paths else []
    except ImportError:
        root = os.environ.get("TAVID_MODELS_DIR")
        return [os.path.join(root, key)] if root else []


def model_files(key: str) -> list[str]:
    """The .safetensors files under a model key's folders, as names relative to their folder."""
    names = set()
    for folder in model_folders(key):
        for root, _, files in os.walk(folder, followlinks=True):
            for f in files:
                if f.lower().endswith(".safetensors"):
                    names.add(os.path.relpath(os.path.join(root, f), folder).replace(os.sep, "/"))
    return sorted(names)


def model_path(key: str, name: str, field: str) -> str:
    """Full path of a listed model file. A name from a workflow never reaches outside the model folders."""
    for folder in model_folders(key):
        base = os.path.realpath(folder)
        candidate = os.path.realpath(os.path.join(base, name))
        if os.path.commonpath([base, candidate]) == base and os.path.isfile(candidate):
            return candidate
    where = ", ".join(model_folders(key)) or f"models/{key}"
    raise TavidError(f"no file {name!r} in {where}", where=field,
                     fix="Pick a file from the list, or put the .safetensors file into that folder and refresh.")

"""The repository imported as the ComfyUI package it is, for tests and tools that run without a ComfyUI."""
from __future__ import annotations

import importlib.util
import sys

from .paths import ROOT

NAME = "comfyui_tavid"


def load_pack():
    """The pack as ComfyUI imports it (its package name 'comfyui_tavid'); where `comfy_api` is missing (no
    ComfyUI: CI, scripts) the stand-in in tests/support provides its declarative surface."""
    if importlib.util.find_spec("comfy_api") is None:
        sys.path.insert(0, str(ROOT / "tests" / "support"))
    if NAME not in sys.modules:
        spec = importlib.util.spec_from_file_location(NAME, ROOT / "__init__.py",
                                                      submodule_search_locations=[str(ROOT)])
        module = importlib.util.module_from_spec(spec)
        sys.modules[NAME] = module
        spec.loader.exec_module(module)
    return sys.modules[NAME]

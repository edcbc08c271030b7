"""The metric packages are an optional extra; say how to get them instead of failing on an import."""
from __future__ import annotations

import importlib
import importlib.util

from ..errors import EngineUnavailableError

# import name -> distribution name. The recognisers (Whisper, else pocketsphinx) and MediaPipe come with the
# extra too, but each has a fallback the report names (analysers() in evaluate.py), so none is required.
EVAL_PACKAGES = {"silero_vad": "silero-vad", "speechmos": "speechmos", "librosa": "librosa", "requests": "requests"}
INSTALL_HINT = ('pip install "comfyui-tavid[eval]" (from a checkout: pip install -e ".[eval]"; into ComfyUI\'s '
                'Python: pip install -r custom_nodes/ComfyUI-TAVID/requirements-eval.txt)')


def missing_packages() -> list[str]:
    return [dist for name, dist in EVAL_PACKAGES.items() if importlib.util.find_spec(name) is None]


def check_eval_packages(where: str = "tavid eval") -> None:
    missing = missing_packages()
    if missing:
        raise EngineUnavailableError(f"the evaluation packages {', '.join(missing)} are not installed", where=where,
                                     fix=f"Install them with: {INSTALL_HINT}")


def require(name: str):
    """Import an evaluation dependency, or raise an error that says how to install it."""
    try:
        return importlib.import_module(name)
    except ImportError:
        check_eval_packages()
        raise

"""What `tavid models` lists: every learned model TAVID takes from a wheel, whether it is here, and where."""
from __future__ import annotations

import importlib.metadata
import importlib.util
from dataclasses import dataclass

from .transcriber import INSTALL as WHISPER_INSTALL
from .transcriber import NAME as WHISPER
from .transcriber import PACKAGE as WHISPER_PACKAGE
from .transcriber import VERSION as WHISPER_VERSION
from .transcriber import model_folder, transcriber_unavailable
from .wheel_models import FETCH_COMMAND, MODELS, locate


@dataclass(frozen=True)
class ModelRow:
    name: str
    state: str       # "ok", "missing", "damaged"
    where: str       # the file or folder, or what to do
    what: str
    source: str      # the wheel it comes from, and its licence


def _installed(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def model_table() -> list[ModelRow]:
    rows = []
    for entry in MODELS:
        found = locate(entry.name)
        where = found.path or (f"{found.damaged[0]} is not the pinned file: run `{FETCH_COMMAND}`" if found.damaged
                               else f"not fetched: run `{FETCH_COMMAND}`")
        rows.append(ModelRow(entry.name, found.state, where, f"{entry.what}; without it: {entry.fallback}",
                             f"from the {entry.wheel} {entry.version} wheel, {entry.licence}"))
    why = transcriber_unavailable()
    rows.append(ModelRow("whisper", "ok" if why is None else "missing", model_folder() if why is None else why,
                         f"{WHISPER} speech recogniser (words and their times); without it: pocketsphinx",
                         f"the {WHISPER_PACKAGE} {WHISPER_VERSION} wheel (MIT), a dependency: {WHISPER_INSTALL}"))
    version = _installed("mediapipe")
    rows.append(ModelRow("mediapipe", "ok" if version else "missing",
                         f"mediapipe {version}" if version else 'pip install "mediapipe>=0.10.30,<0.10.32"',
                         "the runtime the face landmarker needs", "the mediapipe wheel (Apache-2.0), a dependency"))
    version = _installed("pocketsphinx") if importlib.util.find_spec("pocketsphinx") else None
    rows.append(ModelRow("pocketsphinx", "ok" if version else "missing",
                         f"pocketsphinx {version}" if version else "comes with the [eval] extra",
                         "the fallback recogniser (en-us acoustic model and dictionary)",
                         "the pocketsphinx wheel (BSD), a dependency"))
    return rows

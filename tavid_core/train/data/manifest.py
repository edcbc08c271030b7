"""Training manifests: one JSON object per line, one clip per object.

    {"audio": "clips/0001.wav", "text": "Hello there.", "speaker": "joe", "face": "faces/joe.png"}

- `audio` (required): a sound file (wav, flac, mp3, or a video's audio track); any sample rate.
- `text` (required): what is said in it.
- `speaker` (required): who says it; clips of one speaker share the id (a voice is learned per id).
- `face`: a photo of the speaker, or a video of them speaking (its first frame with a face is used);
  needed by `tavid train speaker-mapper`.
- `start`, `end`: seconds, to use part of a longer file.
Other keys are kept in `extra` for the tasks that read them. Relative paths are relative to the
manifest's folder, so a data set can be moved as a whole.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Iterator

from ...errors import TavidError

REQUIRED = ("audio", "text", "speaker")
KNOWN = REQUIRED + ("face", "start", "end")


@dataclass(frozen=True)
class ClipRecord:
    audio: str
    text: str
    speaker: str
    face: str | None = None
    start: float | None = None
    end: float | None = None
    line: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"manifest line {self.line}"


def _path(root: str, value, key: str, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise TavidError(f"{key!r} must be a file path", where=where)
    path = value if os.path.isabs(value) else os.path.join(root, value)
    if not os.path.isfile(path):
        raise TavidError(f"the {key} file {value!r} does not exist", where=where,
                         fix="Paths are relative to the manifest's folder.")
    return path


def _seconds(value, key: str, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise TavidError(f"{key!r} must be a number of seconds >= 0, got {value!r}", where=where)
    return float(value)


def _span(item: dict, where: str) -> tuple[float | None, float | None]:
    """The optional `start` and `end` seconds of a line, end after start."""
    start, end = _seconds(item.get("start"), "start", where), _seconds(item.get("end"), "end", where)
    if start is not None and end is not None and end <= start:
        raise TavidError(f"'end' ({end}) must come after 'start' ({start})", where=where)
    return start, end


def manifest_items(path: str, what: str = "clip") -> Iterator[tuple[int, str, dict]]:
    """(line number, where, JSON object) of every non-blank line of a JSONL manifest; a file that cannot be
    read, a line that is not a JSON object, or a manifest without any line is an error naming the line."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        raise TavidError("no such manifest", where=path, fix=f"Give a .jsonl file, one {what} per line.") from None
    except UnicodeDecodeError:
        raise TavidError("the manifest is not UTF-8 text", where=path) from None
    found = False
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        where = f"{os.path.basename(path)} line {number}"
        try:
            item = json.loads(text)
        except json.JSONDecodeError as e:
            raise TavidError(f"not valid JSON ({e.msg} at column {e.colno})", where=where) from None
        if not isinstance(item, dict):
            raise TavidError("each line must be a JSON object", where=where)
        found = True
        yield number, where, item
    if not found:
        raise TavidError("the manifest lists no clips", where=path)


def read_manifest(path: str, *, need_face: bool = False) -> list[ClipRecord]:
    """The clips of a manifest, each checked (files exist, fields have the right types); an error names the line."""
    root = os.path.dirname(os.path.abspath(path))
    records = []
    for number, where, item in manifest_items(path):
        missing = [k for k in REQUIRED if k not in item]
        if missing:
            raise TavidError(f"missing {', '.join(missing)}", where=where, fix=f"Each clip needs {', '.join(REQUIRED)}.")
        if not isinstance(item["text"], str) or not item["text"].strip():
            raise TavidError("'text' must be the words said in the clip", where=where)
        if not isinstance(item["speaker"], (str, int)) or isinstance(item["speaker"], bool):
            raise TavidError("'speaker' must be a name or number", where=where)
        face = item.get("face")
        if need_face and face is None:
            raise TavidError("the clip has no 'face'", where=where,
                             fix="The speaker mapper learns from faces: give each clip a photo or video of its speaker.")
        start, end = _span(item, where)
        records.append(ClipRecord(
            audio=_path(root, item["audio"], "audio", where), text=item["text"].strip(), speaker=str(item["speaker"]),
            face=None if face is None else _path(root, face, "face", where), start=start, end=end, line=number,
            extra={k: v for k, v in item.items() if k not in KNOWN}))
    return records


def speaker_ids(records: list[ClipRecord]) -> dict[str, int]:
    """Speaker name -> index, in order of first appearance."""
    ids: dict[str, int] = {}
    for record in records:
        ids.setdefault(record.speaker, len(ids))
    return ids

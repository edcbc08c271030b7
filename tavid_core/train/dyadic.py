"""Manifests of dyadic (two-person) conversation clips: one JSON object per line, one clip per object.

    {"video_a": "c1_a.mp4", "video_b": "c1_b.mp4", "audio_a": "c1_a.wav", "audio_b": "c1_b.wav", "start": 0, "end": 8.5}

- `video_a`, `video_b` (required): each person's own video showing their face. A split-screen recording
  is cut into two files first.
- `audio_a`, `audio_b`: that person's own voice (a close microphone); without one, the audio track of
  the person's video is used.
- `start`, `end`: seconds, to use part of longer files (the same span of all four).
Other keys are ignored. Relative paths are relative to the manifest's folder.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass

from ..errors import TavidError
from .manifest import _path, _seconds

REQUIRED = ("video_a", "video_b")


@dataclass(frozen=True)
class DyadicRecord:
    video_a: str
    video_b: str
    audio_a: str | None
    audio_b: str | None
    start: float | None = None
    end: float | None = None
    line: int = 0

    @property
    def where(self) -> str:
        return f"manifest line {self.line}"


def _lines(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().splitlines()
    except FileNotFoundError:
        raise TavidError("no such manifest", where=path,
                         fix="Give a .jsonl file, one conversation clip per line.") from None
    except UnicodeDecodeError:
        raise TavidError("the manifest is not UTF-8 text", where=path) from None


def _record(item, root: str, number: int, where: str) -> DyadicRecord:
    if not isinstance(item, dict):
        raise TavidError("each line must be a JSON object", where=where)
    missing = [k for k in REQUIRED if k not in item]
    if missing:
        raise TavidError(f"missing {', '.join(missing)}", where=where,
                         fix="Each clip needs video_a and video_b: one video per person.")
    start, end = _seconds(item.get("start"), "start", where), _seconds(item.get("end"), "end", where)
    if start is not None and end is not None and end <= start:
        raise TavidError(f"'end' ({end}) must come after 'start' ({start})", where=where)

    def optional(key: str) -> str | None:
        return None if item.get(key) is None else _path(root, item[key], key, where)

    return DyadicRecord(video_a=_path(root, item["video_a"], "video_a", where),
                        video_b=_path(root, item["video_b"], "video_b", where),
                        audio_a=optional("audio_a"), audio_b=optional("audio_b"), start=start, end=end, line=number)


def read_dyadic_manifest(path: str) -> list[DyadicRecord]:
    """The clips of a dyadic manifest, each checked (files exist, fields have the right types); an error
    names the line."""
    root = os.path.dirname(os.path.abspath(path))
    records = []
    for number, text in enumerate(_lines(path), start=1):
        if not text.strip():
            continue
        where = f"{os.path.basename(path)} line {number}"
        try:
            item = json.loads(text)
        except json.JSONDecodeError as e:
            raise TavidError(f"not valid JSON ({e.msg} at column {e.colno})", where=where) from None
        records.append(_record(item, root, number, where))
    if not records:
        raise TavidError("the manifest lists no clips", where=path)
    return records

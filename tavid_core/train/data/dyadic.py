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

import os
from dataclasses import dataclass

from ...errors import TavidError
from .manifest import _path, _span, manifest_items

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


def _record(item: dict, root: str, number: int, where: str) -> DyadicRecord:
    missing = [k for k in REQUIRED if k not in item]
    if missing:
        raise TavidError(f"missing {', '.join(missing)}", where=where,
                         fix="Each clip needs video_a and video_b: one video per person.")
    start, end = _span(item, where)

    def optional(key: str) -> str | None:
        return None if item.get(key) is None else _path(root, item[key], key, where)

    return DyadicRecord(video_a=_path(root, item["video_a"], "video_a", where),
                        video_b=_path(root, item["video_b"], "video_b", where),
                        audio_a=optional("audio_a"), audio_b=optional("audio_b"), start=start, end=end, line=number)


def read_dyadic_manifest(path: str) -> list[DyadicRecord]:
    """The clips of a dyadic manifest, each checked (files exist, fields have the right types); an error
    names the line."""
    root = os.path.dirname(os.path.abspath(path))
    return [_record(item, root, number, where) for number, where, item in manifest_items(path, "conversation clip")]

"""Configurations saved in checkpoints: frozen dataclasses that go to JSON in a file's metadata and come back
strictly (unknown or missing settings are errors in plain words), and the three presets every neural block
has.

    tiny   tests: trains in seconds on a CPU
    small  a CPU demo
    base   paper scale (GPU)
"""
from __future__ import annotations

from dataclasses import MISSING, asdict, fields
from typing import Any, TypeVar

from ....errors import TavidError

PRESETS = ("tiny", "small", "base")
C = TypeVar("C")


class SavedConfig:
    """What a configuration saved in checkpoints can do: to JSON and back, strictly."""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls: type[C], data: dict, where: str = "config") -> C:
        return build(cls, data, where)


def check_preset(preset: str) -> None:
    if preset not in PRESETS:
        raise TavidError(f"unknown configuration {preset!r}", where="--config", fix=f"Use one of {', '.join(PRESETS)}.")


def build(cls: type[C], data: Any, where: str) -> C:
    """`cls` from a JSON object, nested dataclasses included; unknown or missing fields are errors."""
    if not isinstance(data, dict):
        raise TavidError(f"expected a JSON object of {cls.__name__} settings, got {type(data).__name__}", where=where)
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise TavidError(f"unknown settings {unknown} for {cls.__name__}", where=where,
                         fix="The file was written by another version of ComfyUI-TAVID: update the pack.")
    values = {}
    for name, f in known.items():
        if name not in data:
            if f.default is MISSING and f.default_factory is MISSING:
                raise TavidError(f"the setting {name!r} of {cls.__name__} is missing", where=where)
            continue
        value = data[name]
        sub = f.default_factory if f.default_factory is not MISSING else None
        if sub is not None and isinstance(sub, type) and hasattr(sub, "__dataclass_fields__"):
            value = build(sub, value, f"{where}.{name}")
        elif isinstance(f.default, tuple):
            value = tuple(value)
        values[name] = value
    try:
        return cls(**values)
    except TypeError as e:
        raise TavidError(f"settings of {cls.__name__} do not fit: {e}", where=where) from None

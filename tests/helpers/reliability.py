"""What every row of the reliability tables (tests/reliability/) checks: bad input ends in a
TavidError that says where and what in the user's words, never in an exception from inside a library,
and leaves no file behind."""
from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

from tavid_core.errors import TavidError
from tavid_core.runtime import StandaloneRuntime


@dataclass(frozen=True)
class Row:
    """One case of a table: `expect` is None when the input must give a result, else the words
    (lower case) the error must contain; `where` the words its place must contain."""

    name: str
    value: object
    expect: tuple[str, ...] | None = None
    where: str | None = None

    def __str__(self) -> str:  # pytest ids
        return self.name


def rows_as_params(rows: list[Row]):
    import pytest
    return [pytest.param(row, id=row.name) for row in rows]


def is_tavid_error(error: BaseException) -> bool:
    """A TavidError of the library or of the pack's own copy of it (nodes import it as comfyui_tavid.tavid_core)."""
    return any(c.__name__ == "TavidError" and c.__module__.endswith("tavid_core.errors") for c in type(error).__mro__)


def clear_error(call: Callable[[], object], words: tuple[str, ...], where: str | None = None) -> TavidError:
    """Run `call`; it must raise a TavidError holding every one of `words` and, when given, naming
    `where` as its place."""
    try:
        call()
    except Exception as error:  # noqa: BLE001  the point of the table: nothing but a TavidError may escape
        if not is_tavid_error(error):
            raise AssertionError(f"{type(error).__module__}.{type(error).__name__} escaped instead of a "
                                 f"TavidError: {error}") from error
        text = str(error).lower()
        missing = [w for w in words if w.lower() not in text]
        assert not missing, f"the error {str(error)!r} does not say {missing}"
        if where is not None:
            assert error.where and where.lower() in error.where.lower(), f"{error.where!r} does not name {where!r}"
        return error
    raise AssertionError("no error was raised")


def check_row(row: Row, call: Callable[[], object]):
    """A result for a row that expects one, the row's clear error otherwise."""
    if row.expect is None:
        return call()
    return clear_error(call, row.expect, row.where)


def files_under(folder: str) -> set[str]:
    return {os.path.join(root, name) for root, _, names in os.walk(folder) for name in names}


@contextmanager
def leaves_nothing_new(folder: str):
    """Whatever the block does, no file it started may remain in `folder` afterwards."""
    before = files_under(folder)
    yield
    left = files_under(folder) - before
    assert not left, f"left behind: {sorted(left)}"


class Interrupted(Exception):
    """Stands in for ComfyUI's InterruptProcessingException."""


class InterruptingRuntime(StandaloneRuntime):
    """Raises at the `after`-th interruption check whose progress bar is named `stage`."""

    def __init__(self, stage: str, after: int):
        super().__init__(device="cpu", quiet=True)
        self.stage, self.after, self._current = stage, after, None

    def steps(self, items, total, desc):
        self._current = desc
        return super().steps(items, total, desc)

    def check_interrupt(self):
        if self._current == self.stage:
            self.after -= 1
            if self.after <= 0:
                raise Interrupted()

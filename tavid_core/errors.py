"""User-facing errors.

Every mistake a user can make (a bad script line, a photo without a face, an unknown voice) raises a
`TavidError` that says what is wrong, where, and how to fix it. The CLI prints it as one line and the
ComfyUI nodes prefix it with the node's name, so nobody sees a traceback for their own mistake.
"""
from __future__ import annotations


class TavidError(Exception):
    """A problem the user can fix. `where` names the input (a node field, a file, a script line)."""

    def __init__(self, message: str, *, where: str | None = None, fix: str | None = None):
        self.message = message
        self.where = where
        self.fix = fix
        super().__init__(self.__str__())

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.fix:
            text += ("" if text.endswith((".", "!", "?")) else ".") + f" {self.fix}"
        return text

    def located(self, where: str) -> "TavidError":
        """The same error, attributed to a more specific place (e.g. a node name in front of a field)."""
        place = f"{where} / {self.where}" if self.where else where
        return type(self)(self.message, where=place, fix=self.fix)


class ScriptError(TavidError):
    """A dialogue script that cannot be parsed; `line` is 1-based."""

    def __init__(self, message: str, *, line: int | None = None, where: str | None = None, fix: str | None = None):
        self.line = line
        if where is None and line is not None:
            where = f"line {line}"
        super().__init__(message, where=where, fix=fix)

    def located(self, where: str) -> "ScriptError":
        place = f"{where} / {self.where}" if self.where else where
        return ScriptError(self.message, line=self.line, where=place, fix=self.fix)


class FaceNotFoundError(TavidError):
    """No usable face in an image."""


class EngineUnavailableError(TavidError):
    """An engine or voice that is not installed or not implemented yet."""

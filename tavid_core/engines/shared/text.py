"""A turn's text made ready for any voice, and the turns no voice could read, refused alike by the built-in and
neural text encoders.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import replace

from ...errors import ScriptError
from ...types import Backchannel, Turn

_REPLACEMENTS = (("’", "'"), ("‘", "'"), ("“", '"'), ("”", '"'), ("&", " and "), ("…", "..."))
# Pictographs with their joiners, variation selectors and tag letters. They are not read aloud: piper
# would say "grinning" for 😀 and hibari nothing, so the two people would treat them differently.
_EMOJI = re.compile("[\u231a-\u23ff\u2600-\u27bf\u2b00-\u2bff\u20e3\ufe0e\ufe0f\U0001f000-\U0001faff"
                    "\U000e0020-\U000e007f]")


def _unseen(ch: str) -> str:
    """What an invisible character becomes: control characters (NUL, ESC, ...) part words, format characters
    (zero-width space, soft hyphen, direction marks) and lone surrogates vanish. NUL would stop piper with a
    ValueError, a surrogate espeak with a UnicodeEncodeError."""
    kind = unicodedata.category(ch)
    return " " if kind == "Cc" else "" if kind in ("Cf", "Cs") else ch


def normalize_text(text: str) -> str:
    """Plain quotes, single spaces, no emoji or invisible characters, and a closing punctuation mark so
    every turn ends with a cadence."""
    text = _EMOJI.sub(" ", "".join(map(_unseen, text)))
    for old, new in _REPLACEMENTS:
        text = text.replace(old, new)
    text = re.sub(r"\s+(?=[,.!?;:])", "", " ".join(text.split()))  # "Sure 👍, ok" leaves "Sure , ok"
    if text and not re.search(r"[.!?。！？]['\")\]]*$", text):
        text = text.rstrip(",;:-—") + "."
    return text


def renumber_backchannels(backchannels: tuple[Backchannel, ...], text: str) -> tuple[Backchannel, ...]:
    """The backchannels of `text` with their places counted in words of `normalize_text(text)`
    ("Tom&Jerry" becomes three words)."""
    words = text.split()
    total = len(normalize_text(text).split())

    def place(after: int) -> int:
        return min(len(normalize_text(" ".join(words[:after])).split()), total) if after else 0

    return tuple(replace(b, after_words=place(b.after_words)) for b in backchannels)


def check_readable(text: str, turn: Turn, who: str, number: int, language: str) -> None:
    """A turn the voices would skip, spell out letter by letter ("Chinese letter") or fail on is the
    user's to rewrite, with its line named; the built-in voices read English in Latin letters. `text` is the
    normalised turn, `number` its 1-based place (named when the turn has no script line). Shared by the
    built-in and neural text encoders, so both refuse the same turns with the same words."""
    place = {"line": turn.line} if turn.line else {"where": f"turn {number}"}
    if language.startswith("en"):
        foreign = next((w for w in turn.text.split() if any(map(_foreign, w))), None)  # as written
        if foreign:
            raise ScriptError(f"the turn of {who} has words the built-in voices cannot read, such as {foreign!r}: "
                              "they read English", **place,
                              fix="Write the turn in English, or use a speech engine that speaks its language.")
    if not any(ch.isalnum() for ch in text):
        hint = "; emoji are not read aloud" if _EMOJI.search(turn.text) else ""
        raise ScriptError(f"the turn of {who} has no words to say{hint}", **place,
                          fix="Write at least one word; for a silence, put [pause:1s] between two turns.")


def _foreign(ch: str) -> bool:
    """A letter or digit outside the Latin script (Chinese, Arabic, Cyrillic, ...)."""
    return (ch.isalpha() or ch.isdecimal()) and ord(ch) >= 0x250 and "LATIN" not in unicodedata.name(ch, "")

"""Dialogue scripts: plain text in, a two-speaker `Dialogue` out.

Accepted lines (one turn per line):

    # a comment                      ignored, as are blank lines
    A: Hello there.                  a one-letter or any other name followed by a colon
    Grace: Hello there.
    [S1] Hello there.                numbered speakers, 1 or 2
    Speaker 2: Hi!
    [pause:0.8s]                     silence before the next turn (also 800ms, or plain seconds)
    B: [laughs] That's a good one.   inline tags from TURN_TAGS, kept in Turn.tags

Anything else is a `ScriptError` naming the line and what is wrong.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import ScriptError
from .types import Dialogue, Turn

# Inline tags a turn may carry (alias -> canonical name). Engines use them for behaviour (a laugh
# makes the listener smile); they are not spoken.
TURN_TAGS = {
    "laugh": "laughs", "laughs": "laughs", "laughing": "laughs",
    "smile": "smiles", "smiles": "smiles", "smiling": "smiles",
    "nod": "nods", "nods": "nods",
    "sigh": "sighs", "sighs": "sighs",
}

_PAUSE = re.compile(r"^\[\s*pause\s*[:=]\s*(?P<value>[0-9]*\.?[0-9]+)\s*(?P<unit>ms|s)?\s*\]$", re.IGNORECASE)
_NUMBERED_BRACKET = re.compile(r"^\[\s*S\s*(?P<index>\d+)\s*\]\s*(?P<text>.*)$", re.IGNORECASE)
_NUMBERED_NAME = re.compile(r"^speaker\s*(?P<index>\d+)\s*:\s*(?P<text>.*)$", re.IGNORECASE)
_NAMED = re.compile(r"^(?P<name>[^\[\]:#]{1,40}?)\s*:\s*(?P<text>.*)$")
_TAG = re.compile(r"\[\s*([^\]]*?)\s*\]")
_MAX_PAUSE_S = 60.0


@dataclass
class _Speaker:
    key: str  # case-folded identity ("#1", "#2" for numbered speakers, else the name)
    name: str
    line: int


def _label(line: str, number: int) -> tuple[str, str, str] | None:
    """(identity key, display name, text) for a turn line, or None when the line has no speaker label."""
    for pattern in (_NUMBERED_BRACKET, _NUMBERED_NAME):
        m = pattern.match(line)
        if m:
            index = int(m.group("index"))
            if index not in (1, 2):
                raise ScriptError(
                    f"speaker number {index} does not exist; a dialogue has speakers 1 and 2", line=number)
            return f"#{index}", f"Speaker {index}", m.group("text")
    m = _NAMED.match(line)
    if m and m.group("name").strip():
        name = " ".join(m.group("name").split())
        if name.upper() in ("A", "B"):  # the letters name the slots: B is person B even when B speaks first
            return f"#{'AB'.index(name.upper()) + 1}", name.upper(), m.group("text")
        return name.casefold(), name, m.group("text")
    return None


def _pause_seconds(match: re.Match, number: int) -> float:
    value = float(match.group("value"))
    seconds = value / 1000.0 if (match.group("unit") or "s").lower() == "ms" else value
    if seconds > _MAX_PAUSE_S:
        raise ScriptError(f"pause of {seconds:g} s is longer than the {_MAX_PAUSE_S:g} s allowed", line=number)
    return seconds


def _split_tags(text: str, number: int) -> tuple[str, tuple[str, ...]]:
    tags: list[str] = []

    def take(m: re.Match) -> str:
        raw = m.group(1).lower()
        if _PAUSE.match(m.group(0)):
            raise ScriptError("a [pause:...] goes on a line of its own, between turns", line=number)
        if raw not in TURN_TAGS:
            known = ", ".join(f"[{t}]" for t in sorted(set(TURN_TAGS.values())))
            raise ScriptError(f"unknown tag [{m.group(1)}]; known tags: {known}", line=number)
        tags.append(TURN_TAGS[raw])
        return " "

    spoken = " ".join(_TAG.sub(take, text).split())
    return spoken, tuple(dict.fromkeys(tags))


def parse_script(text: str, speaker_names: tuple[str | None, str | None] = (None, None)) -> Dialogue:
    """Parse a dialogue script. `speaker_names` renames speaker A and/or B (None keeps the script's)."""
    speakers: dict[str, int] = {}
    found: list[_Speaker | None] = [None, None]
    turns: list[Turn] = []
    pending_pause: float | None = None
    pause_line = 0

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pause = _PAUSE.match(line)
        if pause:
            pending_pause = (pending_pause or 0.0) + _pause_seconds(pause, number)
            pause_line = number
            continue
        if line.startswith("[") and not _NUMBERED_BRACKET.match(line):
            tag = _TAG.match(line)
            shown = tag.group(0) if tag else line
            raise ScriptError(
                f"unknown tag {shown}; a line may start with [S1] or [S2], and [pause:0.5s] stands on its own line",
                line=number)
        label = _label(line, number)
        if label is None:
            raise ScriptError(
                "no speaker label; write a turn as 'Name: text', '[S1] text' or 'Speaker 1: text'", line=number)
        key, name, spoken = label
        index = _assign_speaker(key, name, number, speakers, found)
        spoken, tags = _split_tags(spoken, number)
        if not spoken:
            raise ScriptError(f"the turn of {found[index].name} has no text to speak", line=number)
        turns.append(Turn(index, spoken, pending_pause, tags, line=number))
        pending_pause = None

    if pending_pause is not None:
        raise ScriptError("a pause after the last turn has no turn to precede; remove it", line=pause_line)
    if not turns:
        raise ScriptError("the script has no turns; write at least one line like 'A: Hello.'", where="script")
    if None in found:
        only = next(s for s in found if s is not None)
        raise ScriptError(
            f"only one speaker ({only.name}) in the script; a dialogue needs two", where="script",
            fix="Add turns for a second speaker.")

    names = tuple(override.strip() if override and override.strip() else s.name
                  for override, s in zip(speaker_names, found))
    if names[0].casefold() == names[1].casefold():
        raise ScriptError(f"both speakers are named {names[0]!r}; give them different names", where="speaker names")
    return Dialogue(speakers=names, turns=tuple(turns))


def _assign_speaker(key: str, name: str, number: int, speakers: dict[str, int], found: list) -> int:
    """Index 0/1 of a speaker label; numbered labels fix their index, names take the next free one."""
    if key in speakers:
        return speakers[key]
    if key.startswith("#"):
        index = int(key[1:]) - 1
        if found[index] is not None:
            raise _third_speaker(name, number, found)
    else:
        free = [i for i in (0, 1) if found[i] is None]
        if not free:
            raise _third_speaker(name, number, found)
        index = free[0]
    speakers[key] = index
    found[index] = _Speaker(key, name, number)
    return index


def _third_speaker(name: str, number: int, found: list) -> ScriptError:
    known = " and ".join(f"{s.name} (line {s.line})" for s in found)
    return ScriptError(f"a third speaker {name!r}; a dialogue has exactly two: {known}", line=number)


def read_script(path: str, speaker_names: tuple[str | None, str | None] = (None, None)) -> Dialogue:
    """Parse a script file; errors name the file and the line."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ScriptError(f"cannot read the script: {e.strerror}", where=path) from None
    except UnicodeDecodeError:
        raise ScriptError("the script is not UTF-8 text", where=path) from None
    try:
        return parse_script(text, speaker_names)
    except ScriptError as e:
        raise e.located(path) from None

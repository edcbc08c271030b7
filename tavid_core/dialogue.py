"""Dialogue scripts: plain text in, a two-speaker `Dialogue` out.

Accepted lines (one turn per line):

    # a comment                      ignored, as are blank lines
    A: Hello there.                  a one-letter or any other name followed by a colon
    Grace: Hello there.
    [S1] Hello there.                numbered speakers, 1 or 2
    Speaker 2: Hi!
    [pause:0.8s]                     silence before the next turn (also 800ms, or plain seconds)
    B: [laughs] That's a good one.   inline tags from TURN_TAGS, kept in Turn.tags
    A: It took [mm-hm] an hour.      a backchannel (BACKCHANNEL_TAGS) that the *other* person, B, says
                                     there, over A's turn; kept in Turn.backchannels

Anything else is a `ScriptError` naming the line and what is wrong.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import ScriptError
from .types import Backchannel, Dialogue, Turn

# Inline tags a turn may carry (alias -> canonical name). Engines use them for behaviour (a laugh
# makes the listener smile); they are not spoken.
TURN_TAGS = {
    "laugh": "laughs", "laughs": "laughs", "laughing": "laughs",
    "smile": "smiles", "smiles": "smiles", "smiling": "smiles",
    "nod": "nods", "nods": "nods",
    "sigh": "sighs", "sighs": "sighs",
}

# Spoken backchannels (alias -> canonical name): short replies of the *listener*, marked inside the
# speaker's turn where the listener says them. BACKCHANNELS gives the words each one is spoken as.
BACKCHANNEL_TAGS = {
    "mm-hm": "mm-hm", "mm-hmm": "mm-hm", "mhm": "mm-hm", "mmhm": "mm-hm", "mmhmm": "mm-hm", "mm hm": "mm-hm",
    "uh-huh": "uh-huh", "uhhuh": "uh-huh", "uh huh": "uh-huh",
    "yeah": "yeah", "yep": "yeah",
    "right": "right",
    "okay": "okay", "ok": "okay",
    "wow": "wow",
    "oh": "oh",
}
BACKCHANNELS = {
    "mm-hm": "Hmm hmm.",  # spelt so that espeak-phonemised voices hum it rather than spell out "M"
    "uh-huh": "Uh-huh.",
    "yeah": "Yeah.",
    "right": "Right.",
    "okay": "Okay.",
    "wow": "Wow.",
    "oh": "Oh.",
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


def _tag_key(inner: str) -> str:
    """A tag's text as the tables spell it: lower case, single spaces."""
    return " ".join(inner.lower().split())


def _known_tags() -> str:
    behaviour = ", ".join(f"[{t}]" for t in sorted(set(TURN_TAGS.values())))
    spoken = ", ".join(f"[{t}]" for t in BACKCHANNELS)
    return f"known tags: {behaviour}; said by the listener: {spoken}"


def _tag_name(match: re.Match, number: int) -> str:
    """The canonical name of an inline tag, a behaviour or a backchannel."""
    if _PAUSE.match(match.group(0)):
        raise ScriptError("a [pause:...] goes on a line of its own, between turns", line=number)
    key = _tag_key(match.group(1))
    name = TURN_TAGS.get(key) or BACKCHANNEL_TAGS.get(key)
    if name is None:
        raise ScriptError(f"unknown tag [{match.group(1)}]; {_known_tags()}", line=number)
    return name


def _split_tags(text: str, number: int) -> tuple[str, tuple[str, ...], tuple[Backchannel, ...]]:
    """A turn's spoken text without its tags, its behaviour tags, and its backchannels, each placed
    after the words spoken before its mark."""
    pieces: list[str] = []
    tags: list[str] = []
    backchannels: list[Backchannel] = []
    rest = 0
    for m in _TAG.finditer(text):
        pieces.append(text[rest:m.start()])
        rest = m.end()
        name = _tag_name(m, number)
        if name in BACKCHANNELS:
            backchannels.append(Backchannel(len(" ".join(pieces).split()), BACKCHANNELS[name]))
        else:
            tags.append(name)
    pieces.append(text[rest:])  # a tag parts the words either side of it, as a space would
    return " ".join(" ".join(pieces).split()), tuple(dict.fromkeys(tags)), tuple(backchannels)


def _stray_tag(line: str, number: int) -> ScriptError:
    """The error for a line that starts with a tag other than [S1]/[S2]."""
    tag = _TAG.match(line)
    if tag and _tag_key(tag.group(1)) in BACKCHANNEL_TAGS:
        return ScriptError(
            f"{tag.group(0)} stands outside a turn; mark a backchannel inside the other person's turn, where "
            "the listener says it, e.g. 'A: It took an hour [mm-hm] but it was worth it.'", line=number)
    shown = tag.group(0) if tag else line
    return ScriptError(
        f"unknown tag {shown}; a line may start with [S1] or [S2], and [pause:0.5s] stands on its own line",
        line=number)


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
            raise _stray_tag(line, number)
        label = _label(line, number)
        if label is None:
            raise ScriptError(
                "no speaker label; write a turn as 'Name: text', '[S1] text' or 'Speaker 1: text'", line=number)
        key, name, spoken = label
        index = _assign_speaker(key, name, number, speakers, found)
        spoken, tags, backchannels = _split_tags(spoken, number)
        if not spoken:
            hint = "; a backchannel goes inside the other person's turn" if backchannels else ""
            raise ScriptError(f"the turn of {found[index].name} has no text to speak{hint}", line=number)
        turns.append(Turn(index, spoken, pending_pause, tags, line=number, backchannels=backchannels))
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

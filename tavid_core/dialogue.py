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
    [voice A] Some call me nature.   the words said in A's voice recording (A, B, 1, 2 or a speaker's
                                     name), for speech engines that imitate a recording (F5-TTS)

Lines end at \n, \r\n or \r, as in any editor; a byte-order mark is ignored. Anything else, a control
character included, is a `ScriptError` naming the line and what is wrong. `format_script` writes a
`Dialogue` back as a script.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from decimal import Decimal

from .errors import ScriptError, TavidError
from .limits import MAX_PAUSE_S, MAX_TURN_CHARS
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

# any tag that means a pause, so that a malformed length gets its own message, not "unknown tag"
_PAUSE = re.compile(r"^\[\s*pause\s*(?:[:=](?P<value>[^\]]*))?\]$", re.IGNORECASE)
_PAUSE_LENGTH = re.compile(r"^(?P<sign>[-+]?)(?P<number>[0-9]*\.?[0-9]+)\s*(?P<unit>ms|s)?$", re.IGNORECASE)
# ASCII digits: int() of a long run of digits raises, so numbers are compared as text
_NUMBERED_BRACKET = re.compile(r"^\[\s*S\s*(?P<index>[0-9]+)\s*\]\s*(?P<text>.*)$", re.IGNORECASE)
_NUMBERED_NAME = re.compile(r"^speaker\s*(?P<index>[0-9]+)\s*:\s*(?P<text>.*)$", re.IGNORECASE)
_NOT_IN_NAMES = "[]:#"  # a colon ends a name, brackets start tags, # a comment
_NAMED = re.compile(rf"^(?P<name>[^{re.escape(_NOT_IN_NAMES)}]{{1,40}}?)\s*:\s*(?P<text>.*)$")
_TAG = re.compile(r"\[\s*([^\]]*?)\s*\]")
_VOICE = re.compile(r"^\[\s*voice\s+(?P<who>[^\]]*?)\s*\]\s*(?P<text>.*)$", re.IGNORECASE)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # what editors break lines at (str.splitlines also breaks at \x0b, \x1c, ...)
_BOM = "\ufeff"


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
            index = m.group("index").lstrip("0")
            if index not in ("1", "2"):
                raise ScriptError(
                    f"speaker number {m.group('index')} does not exist; a dialogue has speakers 1 and 2", line=number)
            return f"#{index}", f"Speaker {index}", m.group("text")
    m = _NAMED.match(line)
    if m and m.group("name").strip():
        name = " ".join(m.group("name").split())
        if name.upper() in ("A", "B"):  # the letters name the slots: B is person B even when B speaks first
            return f"#{'AB'.index(name.upper()) + 1}", name.upper(), m.group("text")
        return name.casefold(), name, m.group("text")
    return None


def _pause_seconds(match: re.Match, number: int) -> float:
    written = (match.group("value") or "").strip()
    length = _PAUSE_LENGTH.match(written)
    fix = f"Write a length from 0 to {MAX_PAUSE_S:g} seconds, e.g. [pause:0.5s] or [pause:800ms]."
    if length is None:
        said = f"'{written}' is not a length" if written else "a pause needs a length"
        raise ScriptError(f"{said} in {match.group(0)}", line=number, fix=fix)
    if length.group("sign") == "-":
        raise ScriptError(f"a pause cannot be negative: {match.group(0)}", line=number, fix=fix)
    value = float(length.group("number"))
    seconds = value / 1000.0 if (length.group("unit") or "s").lower() == "ms" else value
    if seconds > MAX_PAUSE_S:
        raise ScriptError(f"a pause of {written} is longer than the {MAX_PAUSE_S:g} s allowed", line=number, fix=fix)
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
    if tag and _PAUSE.match(tag.group(0)):
        return ScriptError(f"{tag.group(0)} stands on a line of its own", line=number,
                           fix="Put what follows it on the next line.")
    shown = tag.group(0) if tag else line
    return ScriptError(
        f"unknown tag {shown}; a line may start with [S1] or [S2], and [pause:0.5s] stands on its own line",
        line=number)


# Characters a script cannot hold, by Unicode category, and what to tell the user. Editors show control
# characters as nothing or a box and the voices would read them as noise; U+2028/U+2029 are line breaks
# to some editors and not to others, so line numbers would disagree; a lone surrogate (text damaged on
# its way, e.g. through JSON) cannot even be encoded as UTF-8 for espeak.
_UNFIT = {
    "Cc": ("an invisible control character", "Delete it; it often comes with text copied from a terminal or a PDF."),
    "Zl": ("an unusual line break", "Replace it with an ordinary line break."),
    "Zp": ("an unusual line break", "Replace it with an ordinary line break."),
    "Cs": ("half of a broken character", "Delete it; the text was damaged on its way here."),
}


def _control_character(line: str) -> tuple[int, str] | None:
    """(column, character) of the first character of `line` that a script cannot hold (a tab is a space)."""
    for column, ch in enumerate(line, start=1):
        if ch != "\t" and unicodedata.category(ch) in _UNFIT:
            return column, ch
    return None


def _check_characters(line: str, number: int) -> None:
    bad = _control_character(line)
    if bad:
        column, ch = bad
        what, fix = _UNFIT[unicodedata.category(ch)]
        raise ScriptError(f"{what} (U+{ord(ch):04X}) at column {column}", line=number, fix=fix)


def _read_turns(text: str, found: dict[str, _Speaker], turns: list[tuple[str, Turn]],
                voice_lines: list[tuple[str, str, int]], max_turn_chars: int | None) -> None:
    """The speakers, turns and [voice ...] lines (who, words, line) of a script line by line into `found`,
    `turns` and `voice_lines`, up to its first mistake, which is raised (what was read before it stays)."""
    pending_pause: float | None = None
    pause_line = 0

    # a byte-order mark says nothing (Notepad writes one at the start; pasted files carry theirs along)
    for number, raw in enumerate(_LINE_BREAK.split(text.replace(_BOM, "")), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        _check_characters(raw, number)
        pause = _PAUSE.match(line)
        if pause:
            pending_pause = (pending_pause or 0.0) + _pause_seconds(pause, number)
            if pending_pause > MAX_PAUSE_S:
                raise ScriptError(f"the pauses before this line add up to {pending_pause:g} s, more than the "
                                  f"{MAX_PAUSE_S:g} s allowed", line=number, fix="Shorten or remove some of them.")
            pause_line = number
            continue
        voice = _VOICE.match(line)
        if voice:
            if not voice.group("text").strip():
                raise ScriptError(f"{line} gives no words", line=number,
                                  fix="Write the words said in the recording after it: [voice A] Hello there.")
            voice_lines.append((voice.group("who"), " ".join(voice.group("text").split()), number))
            continue
        if line.startswith("[") and not _NUMBERED_BRACKET.match(line):
            raise _stray_tag(line, number)
        label = _label(line, number)
        if label is None:
            raise ScriptError(
                "no speaker label; write a turn as 'Name: text', '[S1] text' or 'Speaker 1: text'", line=number)
        key, name, spoken = label
        if key not in found:
            if len(found) == 2:
                raise _third_speaker(name, number, found.values())
            found[key] = _Speaker(key, name, number)
        spoken, tags, backchannels = _split_tags(spoken, number)
        who = found[key].name
        if not spoken:
            hint = "; a backchannel goes inside the other person's turn" if backchannels else ""
            raise ScriptError(f"the turn of {who} has no text to speak{hint}", line=number,
                              fix=f"Write what {who} says on the same line, after the label, or delete the line.")
        if max_turn_chars is not None and len(spoken) > max_turn_chars:
            raise ScriptError(
                f"the turn of {who} is {len(spoken):,} characters long, more than the {max_turn_chars:,} a turn "
                "may hold", line=number,
                fix=f"Split it into several turns of {who}, each on a line of its own that starts with the label.")
        turns.append((key, Turn(0, spoken, pending_pause, tags, line=number, backchannels=backchannels)))
        pending_pause = None

    if pending_pause is not None:
        raise ScriptError("a pause after the last turn has no turn to precede; remove it", line=pause_line)


def parse_script(text: str, speaker_names: tuple[str | None, str | None] = (None, None), *,
                 max_turn_chars: int | None = MAX_TURN_CHARS) -> Dialogue:
    """Parse a dialogue script. `speaker_names` renames speaker A and/or B (None keeps the script's);
    a turn may hold at most `max_turn_chars` characters of speech (None: any number)."""
    found: dict[str, _Speaker] = {}  # by identity, in order of appearance
    turns: list[tuple[str, Turn]] = []  # (speaker identity, turn as speaker 0) until the slots are known
    voice_lines: list[tuple[str, str, int]] = []
    _read_turns(text, found, turns, voice_lines, max_turn_chars)
    return _dialogue(found, turns, voice_lines, speaker_names)


def _dialogue(found: dict[str, _Speaker], turns: list[tuple[str, Turn]], voice_lines: list[tuple[str, str, int]],
              speaker_names: tuple[str | None, str | None]) -> Dialogue:
    """The Dialogue of what `_read_turns` read, after the checks only the whole script can fail: no turns, one
    speaker, two speakers of one name, [voice ...] lines naming no one or one person twice."""
    if not turns:
        raise ScriptError("the script has no turns; write at least one line like 'A: Hello.'", where="script")
    if len(found) < 2:
        raise ScriptError(
            f"only one speaker ({next(iter(found.values())).name}) in the script; a dialogue needs two", where="script",
            fix="Add turns for a second speaker.")

    slots = _slots(found)
    by_slot = sorted(found.values(), key=lambda s: slots[s.key])
    names = tuple(override.strip() if override and override.strip() else s.name
                  for override, s in zip(speaker_names, by_slot))
    if names[0].casefold() == names[1].casefold():
        raise ScriptError(f"both speakers are named {names[0]!r}; give them different names", where="speaker names")
    return Dialogue(speakers=names, turns=tuple(replace(turn, speaker=slots[key]) for key, turn in turns),
                    voice_texts=_voice_texts(voice_lines, found, slots))


def _voice_texts(lines: list[tuple[str, str, int]], found: dict[str, _Speaker], slots: dict[str, int]
                 ) -> tuple[str | None, str | None]:
    """The words of each person's [voice ...] line: A, B, 1, 2, S1, S2 or a speaker's name says whose."""
    texts: list[str | None] = [None, None]
    for who, words, number in lines:
        key = who.strip().casefold()
        slot = {"a": 0, "b": 1, "1": 0, "2": 1, "s1": 0, "s2": 1}.get(key)
        if slot is None:
            slot = next((slots[k] for k, s in found.items() if s.name.casefold() == key), None)
        if slot is None:
            names = " and ".join(s.name for s in found.values())
            raise ScriptError(f"[voice {who}] names no speaker of the dialogue ({names})", line=number,
                              fix="Write [voice A], [voice B] or a speaker's name.")
        if texts[slot] is not None:
            raise ScriptError(f"a second [voice ...] line for speaker {'AB'[slot]}", line=number,
                              fix="Give each recording's words once.")
        texts[slot] = words
    return texts[0], texts[1]


def _slots(found: dict[str, _Speaker]) -> dict[str, int]:
    """Index 0/1 of each of the two speakers: numbered labels and A/B fix theirs, names take the other
    ones in order of appearance ("Sam: hi" then "A: yo" makes Sam speaker B)."""
    slots = {key: int(key[1:]) - 1 for key in found if key.startswith("#")}
    free = [i for i in (0, 1) if i not in slots.values()]
    slots.update(zip((key for key in found if key not in slots), free))
    return slots


def _third_speaker(name: str, number: int, found) -> ScriptError:
    known = " and ".join(f"{s.name} (line {s.line})" for s in found)
    return ScriptError(f"a third speaker {name!r}; a dialogue has exactly two: {known}", line=number)


def script_outline(text: str, speaker_names: tuple[str | None, str | None] = (None, None)) -> dict:
    """How the parser reads a script, for an editor that colours it: the speaker (0 for A, 1 for B) of each
    turn by line number, the speakers' names by slot, the tags it knows (behaviours, and backchannels, which
    the listener says), and the script's first mistake with its line (None when it parses). The turns above
    a mistake are given as they read so far."""
    found: dict[str, _Speaker] = {}
    turns: list[tuple[str, Turn]] = []
    voice_lines: list[tuple[str, str, int]] = []
    error = None
    try:
        _read_turns(text, found, turns, voice_lines, MAX_TURN_CHARS)
        _dialogue(found, turns, voice_lines, speaker_names)
    except ScriptError as e:
        error = {"line": e.line, "message": e.message, "fix": e.fix}
    slots = _slots(found)
    names = [None, None]
    for speaker in found.values():
        names[slots[speaker.key]] = speaker.name
    for slot, override in enumerate(speaker_names):
        if override and override.strip():
            names[slot] = override.strip()
    return {"turns": {str(turn.line): slots[key] for key, turn in turns}, "speakers": names, "error": error,
            "tags": sorted(TURN_TAGS), "backchannels": sorted(BACKCHANNEL_TAGS)}


def read_script(path: str, speaker_names: tuple[str | None, str | None] = (None, None)) -> Dialogue:
    """Parse a script file; errors name the file and the line."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ScriptError(f"cannot read the script: {e.strerror}", where=path) from None
    try:
        return parse_script(data.decode("utf-8"), speaker_names)
    except UnicodeDecodeError as e:
        error = ScriptError(f"the script is not UTF-8 text (byte 0x{data[e.start]:02X})",
                            line=data.count(b"\n", 0, e.start) + 1,
                            fix="Save it as UTF-8; most editors offer the encoding when saving.")
        raise error.located(path) from None
    except ScriptError as e:
        raise e.located(path) from None


def format_script(dialogue: Dialogue) -> str:
    """The script that `parse_script` reads back as `dialogue` (line numbers aside): one 'Name: text' line
    per turn, its tags before its words, its backchannels at their marks, its pause on a line of its own
    before it. A `TavidError` says what a script cannot hold: a name the parser reads otherwise, text
    in square brackets (read as tags), a backchannel or tag the parser does not know."""
    labels = _script_labels(dialogue)
    lines = [f"[voice {'AB'[i]}] {text}" for i, text in enumerate(dialogue.voice_texts) if text]
    for number, turn in enumerate(dialogue.turns, start=1):
        if turn.pause_before_s is not None:
            # the shortest digits that give the float back, never in exponent form (the parser reads none)
            lines.append(f"[pause:{Decimal(repr(float(turn.pause_before_s))):f}s]")
        lines.append(f"{labels[turn.speaker]}: {_script_text(turn, f'turn {number}')}")
    return "\n".join(lines) + "\n"


def _script_labels(dialogue: Dialogue) -> tuple[str, str]:
    """The two speaker names as labels, each checked to read back as the same name in the same slot."""
    keys = []
    for index, name in enumerate(dialogue.speakers):
        where = f"speaker {'AB'[index]}"
        try:
            unfit = _BOM in name or _control_character(name) or any(ch in name for ch in _NOT_IN_NAMES)
            label = None if unfit else _label(f"{name}: x", 0)
        except ScriptError:  # "Speaker 3"
            label = None
        if label is None:
            raise TavidError(f"a script cannot hold the name {name!r}", where=where,
                             fix="Use a name of up to 40 characters without ':', '[', ']', '#' or control characters.")
        key, read_as, _ = label
        if read_as != name:
            raise TavidError(f"a script reads the name {name!r} as {read_as!r}", where=where,
                             fix=f"Rename the speaker {read_as!r}.")
        if key.startswith("#") and key != f"#{index + 1}":
            raise TavidError(f"in a script, {name!r} always names speaker {'AB'[int(key[1:]) - 1]}", where=where,
                             fix="Swap the two names, or choose another.")
        keys.append(key)
    if keys[0] == keys[1]:
        raise TavidError(f"a script does not tell {dialogue.speakers[0]!r} and {dialogue.speakers[1]!r} apart",
                         where="speakers", fix="Give the speakers names that differ in more than letter case.")
    if not any(k.startswith("#") for k in keys) and dialogue.turns[0].speaker == 1:
        raise TavidError(f"{dialogue.speakers[1]} speaks first, and a script gives the first name in it to speaker A",
                         where="speakers", fix="Name the speakers A and B in the script and pass their names "
                                               "to parse_script(speaker_names=...).")
    return dialogue.speakers[0], dialogue.speakers[1]


_SAID_AS = {said: name for name, said in BACKCHANNELS.items()}


def _script_text(turn: Turn, where: str) -> str:
    """A turn's text with its tags in front and its backchannels marked, checked to read back the same."""
    unknown = [b.text for b in turn.backchannels if b.text not in _SAID_AS]
    if unknown:
        raise TavidError(f"a script cannot mark the backchannel {unknown[0]!r}", where=where,
                         fix=f"Use one of {', '.join(map(repr, _SAID_AS))}.")
    unknown = [tag for tag in turn.tags if tag not in TURN_TAGS]
    if unknown:
        raise TavidError(f"a script has no tag [{unknown[0]}]", where=where, fix=_known_tags().capitalize() + ".")
    words = turn.text.split()
    marks: dict[int, list[str]] = {}
    for b in turn.backchannels:
        marks.setdefault(b.after_words, []).append(f"[{_SAID_AS[b.text]}]")
    tokens = [f"[{tag}]" for tag in dict.fromkeys(turn.tags)]
    for place in range(len(words) + 1):
        tokens += marks.get(place, [])
        tokens += words[place:place + 1]
    written = " ".join(tokens)
    wanted = (" ".join(words), tuple(dict.fromkeys(turn.tags)), turn.backchannels)
    try:
        if _BOM not in written and not _control_character(written) and _split_tags(written, 0) == wanted:
            return written
    except ScriptError:  # brackets in the text read as an unknown tag
        pass
    raise TavidError(f"a script cannot hold the text {turn.text!r}", where=where,
                     fix="Remove its square brackets (a script reads them as tags) and control characters.")

"""The reliability table for scripts: every script a user may write or paste either becomes the
dialogue they meant (read, encoded by the built-in text encoder and, where the voices matter, spoken
by joe and heart) or stops at a ScriptError that names the line and says what to do. Hypothesis adds
that no text makes the parser fail any other way, and that format_script is its inverse."""
import codecs
import re
from dataclasses import dataclass, replace
from typing import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.reliability import Row, check_row, rows_as_params
from tavid_core.dialogue import BACKCHANNELS, TURN_TAGS, format_script, parse_script, read_script
from tavid_core.errors import ScriptError
from tavid_core.limits import MAX_TURN_CHARS
from tavid_core.types import Backchannel, Dialogue, Turn, Voice

PLAIN = "A: Hello there.\n[pause:1s]\nB: Hi, how are you?\n"


@dataclass(frozen=True)
class Script:
    """A row's input: script text, or bytes for a file read with read_script."""

    text: str | bytes
    same_as: str | None = None                       # must read exactly like this script
    checks: tuple[Callable, ...] = ()                 # each called with (dialogue, encoded text, speech or None)
    speak: bool = False                              # also speak it: A with joe, B with heart


def _long(chars: int) -> str:
    """English text of exactly `chars` characters."""
    phrase = "We walked along the river and talked about the old days. "
    return (phrase * (chars // len(phrase) + 1))[:chars - 1] + "."


def _text_is(turn: int, wanted: str):
    def check(dialogue, text, speech):
        assert text.turns[turn].text == wanted
    return check


def _spoken_words(*wanted):
    def check(dialogue, text, speech):
        assert [[w.text for w in seg.words] for seg in speech.timeline] == list(map(list, wanted))
    return check


def _turn_length(chars: int):
    def check(dialogue, text, speech):
        assert len(dialogue.turns[0].text) == chars
    return check


def _speakers(*names):
    def check(dialogue, text, speech):
        assert dialogue.speakers == names
    return check


CANNOT_READ = ("cannot read", "they read english", "write the turn in english")
CONTROL = ("invisible control character", "delete it")

ROWS = [
    Row("empty script", Script(""), ("no turns", "'a: hello.'"), "script"),
    Row("only comments", Script("# a title\n   # and a note\n\n"), ("no turns",), "script"),
    Row("one speaker", Script("A: Hello.\nA: Anyone?"), ("only one speaker (a)", "add turns for a second"),
        "script"),
    Row("three speakers", Script("A: Hi.\nB: Hello.\nC: Hey."),
        ("third speaker 'c'", "exactly two: a (line 1) and b (line 2)"), "line 3"),
    Row("a name, then A", Script("Sam: Hi.\nA: Hello.", checks=(_speakers("A", "Sam"),))),
    Row("unknown tag", Script("A: Hi [waves] there.\nB: Hello."), ("unknown tag [waves]", "known tags: [laughs]"),
        "line 1"),
    Row("negative pause", Script("A: Hi.\n[pause:-2s]\nB: Hello."), ("cannot be negative", "from 0 to 60 seconds"),
        "line 2"),
    Row("absurd pause", Script("A: Hi.\n[pause:99999s]\nB: Hello."), ("99999s is longer than the 60 s allowed",),
        "line 2"),
    Row("pauses adding up past the limit", Script("A: Hi.\n[pause:40s]\n[pause:40s]\nB: Hello."),
        ("add up to 80 s", "shorten"), "line 3"),
    Row("pause without a length", Script("A: Hi.\n[pause: soon]\nB: Hello."),
        ("'soon' is not a length", "[pause:0.5s]"), "line 2"),
    Row("a 10,000-character turn", Script(f"A: {_long(10_000)}\nB: Yes."),
        (f"10,000 characters long, more than the {MAX_TURN_CHARS:,}", "split it into several turns of a"), "line 1"),
    Row("a turn at the character limit",
        Script(f"A: {_long(MAX_TURN_CHARS)}\nB: Yes.", checks=(_turn_length(MAX_TURN_CHARS),))),
    Row("only emoji", Script("A: Hello.\nB: 😀😀 👍"),
        ("no words to say", "emoji are not read aloud", "write at least one word"), "line 2"),
    Row("emoji among words", Script("A: OK 👍 great 😀\nB: Sure 🇫🇷, merci 👨‍👩‍👧!", speak=True, checks=(
        _text_is(1, "Sure, merci!"), _spoken_words(["OK", "great"], ["Sure", "merci"])))),
    Row("only punctuation", Script("A: Hello.\nB: ..."), ("no words to say",), "line 2"),
    Row("Chinese", Script("A: 你好\nB: 谢谢"), CANNOT_READ + ("'你好'",), "line 1"),
    Row("a Chinese word in English", Script("A: Hello.\nB: I flew to 北京 last year."), CANNOT_READ + ("'北京'",),
        "line 2"),
    Row("Arabic", Script("A: Hello.\nB: مرحبا بك"), CANNOT_READ + ("'مرحبا'",), "line 2"),
    Row("Hebrew", Script("A: שלום\nB: Hello."), CANNOT_READ + ("'שלום'",), "line 1"),
    Row("right-to-left marks around English",
        Script("A: \u200fHello\u200f there.\nB: Hi.", checks=(_text_is(0, "Hello there."),))),
    Row("accents and names in other scripts", Script(
        "Zoë: Café au lait, naïve Ærøskøbing.\n李明: Sounds nice.", speak=True,
        checks=(_spoken_words(["Café", "au", "lait", "naïve", "Ærøskøbing"], ["Sounds", "nice"]),))),
    Row("NUL character", Script("A: He\x00llo.\nB: Hi."), CONTROL + ("u+0000", "column 6"), "line 1"),
    Row("bell character", Script("A: Hello.\nB: Hi!\x07"), CONTROL + ("u+0007", "column 7"), "line 2"),
    Row("terminal colour codes", Script("A: \x1b[31mHello\x1b[0m\nB: Hi."), CONTROL + ("u+001b", "column 4"),
        "line 1"),
    Row("Unicode line separator", Script("A: Hello.\u2028B: Hi."),
        ("unusual line break (u+2028)", "ordinary line break"), "line 1"),
    Row("lone surrogate (text damaged on its way)", Script("A: Hello.\nB: Hi \ud83d there."),
        ("half of a broken character (u+d83d)", "column 7", "delete it"), "line 2"),
    Row("control character in a comment", Script("# \x07 copied from a terminal\n" + PLAIN, same_as="\n" + PLAIN)),
    Row("tabs", Script("A:\tHello\tthere.\nB:\tHi.", same_as="A: Hello there.\nB: Hi.")),
    Row("Windows line endings", Script(PLAIN.replace("\n", "\r\n"), same_as=PLAIN, speak=True,
                                       checks=(_spoken_words(["Hello", "there"], ["Hi", "how", "are", "you"]),))),
    Row("old Mac line endings", Script(PLAIN.replace("\n", "\r"), same_as=PLAIN)),
    Row("byte-order mark", Script("\ufeff" + PLAIN, same_as=PLAIN, checks=(_speakers("A", "B"),))),
    Row("byte-order mark before a comment", Script("\ufeff# title\n" + PLAIN, same_as="# title\n" + PLAIN)),
    Row("file from Notepad (BOM, CRLF)",
        Script(codecs.BOM_UTF8 + PLAIN.replace("\n", "\r\n").encode(), same_as=PLAIN)),
    Row("file not in UTF-8", Script("A: Hello.\nB: Café.".encode("latin-1")),
        ("not utf-8 text (byte 0xe9)", "save it as utf-8"), "talk.txt / line 2"),
    Row("label with nothing after it", Script("A: Hello.\nB:"),
        ("turn of b has no text to speak", "write what b says"), "line 2"),
    Row("label with the words on the next line", Script("A:\nHello.\nB: Hi."), ("turn of a has no text to speak",),
        "line 1"),
]


def _read(script: Script, folder) -> Dialogue:
    if isinstance(script.text, bytes):
        path = folder / "talk.txt"
        path.write_bytes(script.text)
        return read_script(str(path))
    return parse_script(script.text)


VOICES = (Voice("builtin", preset="joe"), Voice("builtin", preset="heart"))


def _without_lines(dialogue: Dialogue) -> Dialogue:
    return replace(dialogue, turns=tuple(replace(t, line=None) for t in dialogue.turns))


@pytest.mark.parametrize("row", rows_as_params(ROWS))
def test_scripts_table(row, engines, runtime, tmp_path):
    script = row.value

    def run():
        dialogue = _read(script, tmp_path)
        text = engines.text_encoder.encode(dialogue, runtime=runtime)
        speech = engines.speech_model.generate(text, VOICES, runtime=runtime, seed=1) if script.speak else None
        return dialogue, text, speech

    result = check_row(row, run)
    if row.expect is None:
        if script.same_as is not None:  # the same turns on the same lines
            assert result[0] == parse_script(script.same_as)
        for check in script.checks:
            check(*result)


def test_invisible_characters_from_outside_a_script_are_not_spoken(engines, runtime):
    """A Dialogue built in code skips the parser's checks; the encoder still drops what no voice can say
    (NUL stopped piper with a ValueError, a lone surrogate stops espeak with a UnicodeEncodeError)."""
    dialogue = Dialogue(("A", "B"), (Turn(0, "He\x00llo \x1b there."), Turn(1, "Fi\u00adne \ud83d \u200bthanks.")))
    text = engines.text_encoder.encode(dialogue, runtime=runtime)
    assert [t.text for t in text.turns] == ["He llo there.", "Fine thanks."]
    speech = engines.speech_model.generate(text, VOICES, runtime=runtime, seed=1)
    assert [[w.text for w in seg.words] for seg in speech.timeline] == [["He", "llo", "there"], ["Fine", "thanks"]]


def test_a_longer_limit_can_be_asked_for():
    assert len(parse_script(f"A: {_long(10_000)}\nB: Yes.", max_turn_chars=None).turns[0].text) == 10_000


@pytest.mark.parametrize("dialogue, words, where", [
    (Dialogue(("Sam", "Ann"), (Turn(1, "Hi."), Turn(0, "Yo."))), ("ann speaks first", "speaker_names"), "speakers"),
    (Dialogue(("B", "A"), (Turn(0, "Hi."), Turn(1, "Yo."))), ("'b' always names speaker b",), "speaker a"),
    (Dialogue(("Kim", "kim"), (Turn(0, "Hi."), Turn(1, "Yo."))), ("does not tell 'kim' and 'kim' apart",), "speakers"),
    (Dialogue(("Dr: Who", "B"), (Turn(0, "Hi."), Turn(1, "Yo."))), ("cannot hold the name 'dr: who'",), "speaker a"),
    (Dialogue(("a", "B"), (Turn(0, "Hi."), Turn(1, "Yo."))), ("reads the name 'a' as 'a'",), "speaker a"),
    (Dialogue(("A", "B"), (Turn(0, "Hi [there]."), Turn(1, "Yo."))), ("cannot hold the text", "square brackets"),
     "turn 1"),
    (Dialogue(("A", "B"), (Turn(0, "Hi [ there.", backchannels=(Backchannel(2, "Yeah."),)), Turn(1, "Yo."))),
     ("cannot hold the text 'hi [ there.'",), "turn 1"),
    (Dialogue(("A", "B"), (Turn(0, "Hi.", tags=("waves",)), Turn(1, "Yo."))), ("no tag [waves]", "known tags"),
     "turn 1"),
    (Dialogue(("A", "B"), (Turn(0, "Hi.", backchannels=(Backchannel(1, "Sure."),)), Turn(1, "Yo."))),
     ("cannot mark the backchannel 'sure.'",), "turn 1"),
])
def test_format_script_says_what_a_script_cannot_hold(dialogue, words, where):
    check_row(Row("format", dialogue, words, where), lambda: format_script(dialogue))


# ------------------------------------------------------------------------------------------ properties
# Dialogues a script can hold: names the parser reads back as written, words without brackets or
# control characters, the tags and backchannels it knows, pauses anywhere from 0 to 60 s.
_SLOT_NAME = re.compile(r"[ab]|speaker\s*[0-9]+", re.IGNORECASE)  # names the parser gives a fixed slot
WORD = st.text(st.characters(exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp"), exclude_characters="[]\ufeff"),
               min_size=1, max_size=8)
NAME_PART = st.text(st.characters(categories=("L", "N", "Pd", "Po"), exclude_characters="[]:#"), min_size=1, max_size=8)
NAME = st.lists(NAME_PART, min_size=1, max_size=3).map(" ".join).filter(lambda n: not _SLOT_NAME.fullmatch(n))
NAMES = st.one_of(st.just(("A", "B")), st.just(("Speaker 1", "Speaker 2")), st.tuples(st.just("A"), NAME),
                  st.tuples(NAME, st.just("B")),
                  st.tuples(NAME, NAME).filter(lambda p: p[0].casefold() != p[1].casefold()))


@st.composite
def turns(draw, speaker: int) -> Turn:
    words = draw(st.lists(WORD, min_size=1, max_size=8))
    places = sorted(draw(st.lists(st.integers(0, len(words)), max_size=3)))
    tags = draw(st.lists(st.sampled_from(sorted(set(TURN_TAGS.values()))), unique=True, max_size=2))
    said = [draw(st.sampled_from(sorted(BACKCHANNELS.values()))) for _ in places]
    return Turn(speaker, " ".join(words), pause_before_s=draw(st.none() | st.floats(0.0, 60.0)), tags=tuple(tags),
                backchannels=tuple(map(Backchannel, places, said)))


@st.composite
def dialogues(draw) -> Dialogue:
    names = draw(NAMES)
    # two names without a fixed slot take theirs in order of appearance: A speaks first
    first = st.sampled_from((0, 1)) if any(map(_SLOT_NAME.fullmatch, names)) else st.just(0)
    order = [draw(first)] + draw(st.lists(st.sampled_from((0, 1)), min_size=1, max_size=5))
    if len(set(order)) == 1:
        order.append(1 - order[0])
    return Dialogue(names, tuple(draw(turns(s)) for s in order))


@settings(max_examples=200, deadline=None)
@given(dialogues())
def test_a_formatted_dialogue_reads_back_the_same(dialogue):
    assert _without_lines(parse_script(format_script(dialogue))) == dialogue


ANY_CHARACTER = st.characters(exclude_categories=("Cs",))
# what a random edit puts into a good script: script syntax, line breaks of every kind, invisible
# characters, numbers too long for int(), or any text at all
PIECE = st.one_of(st.sampled_from([
    "A:", "B:", "C:", "Speaker 2:", "[S1] ", "[S0003]", "[S" + "9" * 5000 + "]", "speaker " + "1" * 5000 + ":",
    "[pause:", "-1", "99999", "9" * 400, "ms]", "[laughs]", "[mm-hm]", "[", "]", "#", ":", "\n", "\r\n", "\r", "\u2028", "\x00",
    "\x1b", "\ufeff", "\t", "😀", "你好"]), st.text(ANY_CHARACTER, max_size=4))


@st.composite
def edited_scripts(draw) -> str:
    """A well-formed script with a few random edits: a piece put in, a few characters cut out."""
    text = format_script(draw(dialogues()))
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(text)))
        cut = draw(st.integers(0, 4))
        text = text[:at] + (draw(PIECE) if cut == 0 else "") + text[at + cut:]
    return text


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(ANY_CHARACTER), edited_scripts()))
def test_any_text_is_a_dialogue_or_a_script_error(text):
    try:
        assert isinstance(parse_script(text), Dialogue)
    except ScriptError as error:
        assert error.where and str(error)

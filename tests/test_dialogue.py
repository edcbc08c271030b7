import re

import pytest

from tavid_core.dialogue import parse_script, read_script
from tavid_core.errors import ScriptError
from tavid_core.types import Backchannel


def test_named_speakers_pauses_comments_and_tags():
    d = parse_script("""
# a comment
Grace: Hello there.

Sam: [laughs] Hi Grace!
[pause:0.8s]
[pause: 200ms]
Grace: How are you?
""")
    assert d.speakers == ("Grace", "Sam")
    assert [t.speaker for t in d.turns] == [0, 1, 0]
    assert d.turns[1].text == "Hi Grace!" and d.turns[1].tags == ("laughs",)
    assert d.turns[2].pause_before_s == pytest.approx(1.0)
    assert d.turns[0].pause_before_s is None
    assert [t.line for t in d.turns] == [3, 5, 8]


def test_backchannels_sit_after_the_words_before_their_mark():
    d = parse_script("""
Nora: We waited for almost an hour [mm-hm] but it was worth it.
Theo: [Uh Huh] That sounds awful.[MHM] Did they have anything about the ocean? [yeah]
Nora: Sure [laughs] [ok]
""")
    assert d.turns[0].text == "We waited for almost an hour but it was worth it."
    assert d.turns[0].backchannels == (Backchannel(6, "Hmm hmm."),)
    assert d.turns[1].text == "That sounds awful. Did they have anything about the ocean?"
    assert d.turns[1].backchannels == (Backchannel(0, "Uh-huh."), Backchannel(3, "Hmm hmm."), Backchannel(10, "Yeah."))
    assert d.turns[2].tags == ("laughs",) and d.turns[2].backchannels == (Backchannel(1, "Okay."),)
    assert d.to_dict()["turns"][0]["backchannels"] == [{"after_words": 6, "text": "Hmm hmm."}]


@pytest.mark.parametrize("tag, said", [
    ("mm-hm", "Hmm hmm."), ("mhm", "Hmm hmm."), ("Mm-hmm", "Hmm hmm."), ("mm  hm", "Hmm hmm."),
    ("uhhuh", "Uh-huh."), ("yep", "Yeah."), ("OK", "Okay."), ("right", "Right."), ("wow", "Wow."), ("oh", "Oh."),
])
def test_backchannel_aliases(tag, said):
    d = parse_script(f"A: one two [{tag}] three\nB: four")
    assert d.turns[0].backchannels == (Backchannel(2, said),) and d.turns[0].text == "one two three"


@pytest.mark.parametrize("script, names", [
    ("[S1] one\n[S2] two", ("Speaker 1", "Speaker 2")),
    ("Speaker 2: two\nSpeaker 1: one", ("Speaker 1", "Speaker 2")),
    ("A: one\nB: two", ("A", "B")),
])
def test_numbered_and_lettered_speakers_keep_their_slot(script, names):
    d = parse_script(script)
    assert d.speakers == names
    assert {t.text: t.speaker for t in d.turns} == {"one": 0, "two": 1}


def test_b_speaking_first_is_still_person_b():
    d = parse_script("B: first\nA: second")
    assert [t.speaker for t in d.turns] == [1, 0]


def test_formats_mix_to_the_same_two_people():
    d = parse_script("[S1] hi\nSpeaker 2: hello\nA: again")
    assert [t.speaker for t in d.turns] == [0, 1, 0]


def test_names_can_be_overridden():
    d = parse_script("A: hi\nB: yo", ("Ada", None))
    assert d.speakers == ("Ada", "B")


def test_pause_units():
    d = parse_script("A: x\n[pause:1.5]\nB: y\n[pause:250ms]\nA: z")
    assert [t.pause_before_s for t in d.turns] == [None, 1.5, 0.25]


@pytest.mark.parametrize("script, line, words", [
    ("A: hi\nB: yo\nC: no", 3, "third speaker 'C'"),
    ("A: hi\nB: [laughs]", 2, "no text"),
    ("A: hi\nB:   ", 2, "no text"),
    ("A: hi [wave]\nB: x", 1, "unknown tag [wave]"),
    ("A: hi [mm-hmmm]\nB: x", 1, "said by the listener: [mm-hm], [uh-huh]"),
    ("A: hi\n[mm-hm]\nB: x", 2, "inside the other person's turn"),
    ("A: hi\nB: [mhm]", 2, "no text to speak; a backchannel goes inside"),
    ("A: hi\n[music]\nB: x", 2, "unknown tag [music]"),
    ("A: hi\njust words\nB: x", 2, "no speaker label"),
    ("A: x\nB: y\n[pause:2s]", 3, "after the last turn"),
    ("[S3] hi\nA: x", 1, "speaker number 3"),
    ("A: hi\n[pause:90s]\nB: x", 2, "longer than"),
    ("A: wait [pause:1s] then\nB: x", 1, "line of its own"),
])
def test_errors_name_the_line_and_the_problem(script, line, words):
    with pytest.raises(ScriptError) as err:
        parse_script(script)
    assert err.value.line == line
    assert f"line {line}" in str(err.value)
    assert words in str(err.value)


@pytest.mark.parametrize("script, words", [
    ("", "no turns"),
    ("# only comments\n\n", "no turns"),
    ("A: alone\nA: still alone", "only one speaker"),
])
def test_whole_script_errors(script, words):
    with pytest.raises(ScriptError, match=words):
        parse_script(script)


def test_same_names_after_override_is_an_error():
    with pytest.raises(ScriptError, match="both speakers are named"):
        parse_script("A: x\nB: y", ("Kim", "kim"))


def test_read_script_names_the_file(tmp_path):
    path = tmp_path / "talk.txt"
    path.write_text("A: one\nB: two\nC: three\n", encoding="utf-8")
    with pytest.raises(ScriptError) as err:
        read_script(str(path))
    assert str(path) in str(err.value) and "line 3" in str(err.value)
    with pytest.raises(ScriptError, match="cannot read"):
        read_script(str(tmp_path / "missing.txt"))


def test_example_script_parses():
    from tavid_core.examples import EXAMPLE_SCRIPT
    d = read_script(str(EXAMPLE_SCRIPT))
    assert d.speakers == ("Ada", "Sam") and len(d.turns) == 10
    assert any(t.pause_before_s for t in d.turns) and any("laughs" in t.tags for t in d.turns)


def test_voice_lines_give_the_words_of_each_recording():
    from tavid_core.dialogue import format_script
    d = parse_script("[voice Sam] I am   Sam.\nAda: Hi.\nSam: Hello.\n[VOICE 1] Me, Ada.")
    assert d.voice_texts == ("Me, Ada.", "I am Sam.") and len(d.turns) == 2
    assert parse_script(format_script(d)).voice_texts == d.voice_texts
    for script, words in (("[voice Bob] x\nA: hi\nB: yo", "line 1: [voice Bob] names no speaker"),
                          ("A: hi\nB: yo\n[voice A]", "line 3: [voice A] gives no words"),
                          ("[voice A] x\n[voice 1] y\nA: hi\nB: yo",
                           "line 2: a second [voice ...] line for speaker A")):
        with pytest.raises(ScriptError, match=re.escape(words)):
            parse_script(script)


def test_outline_says_who_speaks_on_each_line_and_where_the_first_mistake_is():
    """What the Dialogue Script widget colours by (POST /tavid/script_outline answers with it)."""
    from tavid_core.dialogue import script_outline
    outline = script_outline("# c\nSam: hi [laughs]\n[pause:1s]\nA: yo [mm-hm] there\nSam: ok\nC: third\nA: after")
    assert outline["turns"] == {"2": 1, "4": 0, "5": 1}   # A is always A, so Sam, first named, is B
    assert outline["speakers"] == ["A", "Sam"]
    assert outline["error"]["line"] == 6 and outline["error"]["message"].startswith("a third speaker 'C'")
    assert "laughs" in outline["tags"] and "mm-hm" in outline["backchannels"] and "mm-hm" not in outline["tags"]
    whole = script_outline(EXAMPLE_LIKE, ("Ada", None))
    assert whole["error"] is None and whole["speakers"] == ["Ada", "Bo"] and len(whole["turns"]) == 3
    lonely = script_outline("Sam: hi\nSam: again")   # only the whole script can say what is missing
    assert lonely["turns"] == {"1": 0, "2": 0} and lonely["error"]["line"] is None
    assert "only one speaker" in lonely["error"]["message"]
    assert script_outline("Ann: hi\nBo: [wat] x")["error"]["line"] == 2


EXAMPLE_LIKE = "A: Hello.\nBo: Hi.\n[pause:0.5s]\nA: Bye."

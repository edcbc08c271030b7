import numpy as np
import pytest

from tavid_core.errors import TavidError
from tavid_core.types import (EXPR_CHANNELS, Backchannel, Dialogue, EncodedText, EncodedTurn, Motion, Segment, Speech,
                              Turn, Voice, Word, num_frames)


def _motion(frames=10, **changes):
    fields = dict(fps=25.0, pose=np.zeros((frames, 6)), expr=np.zeros((frames, len(EXPR_CHANNELS))),
                  speaking=np.zeros(frames))
    fields.update(changes)
    return Motion(**fields)


def _speech(**changes):
    fields = dict(sample_rate=1000, tracks=np.zeros((2, 2000)), features=np.zeros((2, 200, 3)), feature_rate=100.0,
                  feature_names=("energy", "pitch", "voiced"),
                  timeline=(Segment(0, 0, 0.1, 0.9, "hi", (Word("hi", 0.1, 0.9),)), Segment(1, 1, 1.0, 1.8, "yo")))
    fields.update(changes)
    return Speech(**fields)


def test_frame_count_rule():
    assert num_frames(30.88, 25) == 772
    assert num_frames(1.0199, 25) == 25 and num_frames(1.021, 25) == 26


def test_dialogue_needs_two_distinct_speakers_and_turns():
    turn = Turn(0, "hello")
    assert Dialogue(("A", "B"), (turn,)).to_dict()["turns"][0]["text"] == "hello"
    for speakers, turns in ((("A",), (turn,)), (("A", "A"), (turn,)), (("A", "B"), ()), (("A", " "), (turn,))):
        with pytest.raises(TavidError):
            Dialogue(speakers, turns)


@pytest.mark.parametrize("kwargs", [dict(speaker=2, text="x"), dict(speaker=0, text="  "),
                                    dict(speaker=0, text="x", pause_before_s=-1),
                                    dict(speaker=0, text="two words", backchannels=(Backchannel(3, "Oh."),)),
                                    dict(speaker=0, text="two words", backchannels=(Backchannel(2, "Oh."),
                                                                                   Backchannel(1, "Wow.")))])
def test_turn_validation(kwargs):
    with pytest.raises(TavidError):
        Turn(**kwargs)


def test_backchannel_places():
    assert Turn(0, "two words", backchannels=[Backchannel(0, "Oh."), Backchannel(2, "Wow.")]).backchannels[1].after_words == 2
    for bad in (dict(after_words=-1, text="Oh."), dict(after_words=0, text=" "), dict(after_words=1.5, text="Oh.")):
        with pytest.raises(TavidError):
            Backchannel(**bad)
    with pytest.raises(TavidError, match="after word 2"):
        EncodedTurn(0, "one.", backchannels=(Backchannel(2, "Oh."),))


def test_voice_validation_and_adjustment():
    v = Voice(engine="builtin", preset="joe", pitch_semitones=1.0, rate=1.1)
    tuned = v.adjusted(pitch_shift=2.0, speed=1.5)
    assert tuned.pitch_semitones == pytest.approx(3.0) and tuned.rate == pytest.approx(1.65)
    assert v.adjusted(pitch_shift=40).pitch_semitones == 12.0 and v.adjusted(speed=10).rate == 2.0
    assert Voice(engine="neural", embedding=[0.1, 0.2]).embedding.dtype == np.float32
    for bad in (dict(engine="x", preset="joe"), dict(engine="builtin"), dict(engine="builtin", preset="joe", rate=3),
                dict(engine="builtin", preset="joe", source="guess"), dict(engine="neural", embedding=[[1.0]])):
        with pytest.raises(TavidError):
            Voice(**bad)


def test_speech_contract():
    s = _speech()
    assert s.duration_s == 2.0 and s.mix.shape == (2000,)
    assert s.feature("pitch").shape == (2, 200)
    assert s.num_frames(25) == 50
    active = s.activity(0, 50, 25.0)
    assert active[:2].sum() == 0 and active[3:22].all() and active[23:].sum() == 0
    assert [seg.turn for seg in s.segments_of(1)] == [1]
    assert s.timeline_dict()[0]["words"][0] == {"word": "hi", "start": 0.1, "end": 0.9}


@pytest.mark.parametrize("change, message", [
    (dict(tracks=np.zeros((3, 10))), "tracks must be"),
    (dict(tracks=np.zeros(10)), "dimensions"),
    (dict(features=np.zeros((2, 10))), "dimensions"),
    (dict(feature_names=("a",)), "feature names"),
    (dict(timeline=(Segment(0, 0, 1.5, 2.5, "late"),)), "outside"),
    (dict(tracks=np.full((2, 2000), np.nan)), "NaN"),
])
def test_speech_validation(change, message):
    with pytest.raises(TavidError, match=message):
        _speech(**change)


def test_motion_contract_and_windows():
    m = _motion(frames=50, codes=np.zeros((50, 4)))
    assert m.num_frames == 50 and m.duration_s == 2.0
    assert m.channel("jaw_open").shape == (50,) and m.channel("yaw").shape == (50,)
    w = m.window(10, 20)
    assert w.num_frames == 10 and w.codes.shape == (10, 4)
    with pytest.raises(TavidError):
        m.channel("nose_wiggle")


@pytest.mark.parametrize("change, message", [
    (dict(pose=np.zeros((10, 5))), "pose must be"),
    (dict(expr=np.zeros((10, 3))), "expr must be"),
    (dict(speaking=np.zeros(9)), "speaking must be"),
    (dict(expr_names=("jaw_open",) * len(EXPR_CHANNELS)), "lacks"),
    (dict(codes=np.zeros((9, 2))), "codes must"),
    (dict(fps=0), "fps"),
])
def test_motion_validation(change, message):
    with pytest.raises(TavidError, match=message):
        _motion(**change)


def test_encoded_text_matches_its_dialogue():
    d = Dialogue(("A", "B"), (Turn(0, "x"), Turn(1, "y")))
    EncodedText(d, (EncodedTurn(0, "x"), EncodedTurn(1, "y")), "test")
    with pytest.raises(TavidError):
        EncodedText(d, (EncodedTurn(0, "x"),), "test")

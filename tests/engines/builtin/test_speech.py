"""The built-in speech generator: two voices on one timeline, real audio."""
import numpy as np
import pytest

from tavid_core.analysis.audio_features import energy_db, median_pitch_hz
from tavid_core.errors import TavidError
from tavid_core.types import Voice


def test_two_tracks_on_one_timeline(short_speech, short_dialogue):
    s = short_speech
    assert s.sample_rate == 24000 and s.tracks.shape[0] == 2
    assert [seg.speaker for seg in s.timeline] == [t.speaker for t in short_dialogue.turns]
    ends = [seg.end_s for seg in s.timeline]
    starts = [seg.start_s for seg in s.timeline]
    assert all(b > a for a, b in zip(ends, starts[1:])), "turns must not overlap"
    assert s.features.shape == (2, int(np.ceil(s.num_samples / 240)), 3)
    assert np.abs(s.mix - np.clip(s.tracks.sum(0), -1, 1)).max() == 0


def test_each_track_is_silent_outside_its_turns(short_speech):
    s = short_speech
    for seg in s.timeline:
        own = s.tracks[seg.speaker, int(seg.start_s * s.sample_rate):int(seg.end_s * s.sample_rate)]
        other = s.tracks[1 - seg.speaker, int(seg.start_s * s.sample_rate):int(seg.end_s * s.sample_rate)]
        assert energy_db(own, s.sample_rate).max() > -30
        assert np.abs(other).max() == 0


def test_script_pause_and_natural_gaps(short_speech):
    starts = [seg.start_s for seg in short_speech.timeline]
    ends = [seg.end_s for seg in short_speech.timeline]
    assert starts[1] - ends[0] == pytest.approx(0.8, abs=0.001)   # [pause:0.8s]
    assert 0.12 <= starts[2] - ends[1] <= 0.5                      # natural floor transfer
    # the timeline marks real speech: the audio is loud right after each start and before each end
    s = short_speech
    for seg in s.timeline:
        head = s.tracks[seg.speaker, int(seg.start_s * s.sample_rate):int((seg.start_s + 0.15) * s.sample_rate)]
        assert energy_db(head, s.sample_rate).max() > -35


def test_words_and_phones_lie_inside_their_turn(short_speech):
    for seg in short_speech.timeline:
        assert seg.words and seg.phones
        assert all(seg.start_s - 1e-6 <= w.start_s < w.end_s <= seg.end_s + 1e-6 for w in seg.words)
        assert all(seg.start_s - 1e-6 <= p.start_s <= p.end_s <= seg.end_s + 1e-6 for p in seg.phones)
    assert [w.text for w in short_speech.timeline[1].words][:3] == ["Maybe", "a", "bit"]


def test_faces_get_two_clearly_different_voices(short_speech):
    names = [v.preset for v in short_speech.voices]
    assert names[0] != names[1]
    pitches = []
    for seg in short_speech.timeline[:2]:
        audio = short_speech.tracks[seg.speaker, int(seg.start_s * 24000):int(seg.end_s * 24000)]
        pitches.append(median_pitch_hz(audio, 24000))
    assert abs(12 * np.log2(pitches[0] / pitches[1])) > 5  # joe and heart sit most of an octave apart


def test_same_seed_same_speech_and_different_seed_different_gaps(engines, runtime, short_dialogue, voices, short_speech):
    text = engines.text_encoder.encode(short_dialogue, runtime=runtime)
    again = engines.speech_model.generate(text, voices, runtime=runtime, seed=7)
    assert np.array_equal(again.tracks, short_speech.tracks)
    other = engines.speech_model.generate(text, voices, runtime=runtime, seed=8)
    assert other.timeline[2].start_s != short_speech.timeline[2].start_s


def test_the_second_face_moves_to_its_next_voice_when_both_rank_the_same(engines):
    a = Voice(engine="builtin", preset="heart", source="face", alternatives=("joe",))
    b = Voice(engine="builtin", preset="heart", source="face", alternatives=("joe",))
    assert engines.speech_model.resolve_voices((a, b)) == ("heart", "joe")
    assert [v.reason for v in engines.speech_model.resolved_voices((a, b))] == ["", "joe, as heart is A's"]
    manual = Voice(engine="builtin", preset="heart", source="manual")
    assert engines.speech_model.resolve_voices((manual, b)) == ("heart", "joe")
    assert engines.speech_model.resolve_voices((manual, manual)) == ("heart", "heart")  # the user asked for it


def test_neural_voice_on_builtin_engine_is_a_clear_error(engines, runtime, short_dialogue):
    text = engines.text_encoder.encode(short_dialogue, runtime=runtime)
    neural = Voice(engine="neural", embedding=np.ones(8))
    with pytest.raises(TavidError, match="neural speaker embedding"):
        engines.speech_model.generate(text, (neural, neural), runtime=runtime)


def test_text_encoder_normalises_and_phonemizes(engines, runtime):
    from tavid_core.dialogue import parse_script
    text = engines.text_encoder.encode(parse_script("A: Tom & Jerry’s cat\nB: yes!"), runtime=runtime)
    assert text.turns[0].text == "Tom and Jerry's cat."
    assert text.turns[1].text == "yes!"
    assert text.turns[0].phonemes.startswith("tˈɑːm")


BACKCHANNEL_SCRIPT = """\
A: We waited almost an hour [yeah] but it was worth it.
B: That sounds awful. [uh-huh]
A: It was fine.
"""


@pytest.fixture(scope="module")
def backchannel_speech(engines, runtime, voices):
    from tavid_core.dialogue import parse_script
    text = engines.text_encoder.encode(parse_script(BACKCHANNEL_SCRIPT), runtime=runtime)
    return engines.speech_model.generate(text, voices, runtime=runtime, seed=5)


def _backchannels(speech):
    return [seg for seg in speech.timeline if seg.tags == ("backchannel",)]


def test_backchannels_are_the_listeners_segments_on_the_timeline(backchannel_speech):
    s = backchannel_speech
    assert [s.start_s for s in s.timeline] == sorted(s.start_s for s in s.timeline)
    assert [(seg.turn, seg.speaker, seg.text) for seg in _backchannels(s)] == [(0, 1, "Yeah."), (1, 0, "Uh-huh.")]
    assert [seg.speaker for seg in s.timeline if not seg.tags] == [0, 1, 0]
    for seg in _backchannels(s):
        assert seg.words and seg.phones and seg.start_s <= seg.words[0].start_s
        assert seg.to_dict()["tags"] == ["backchannel"]


def test_a_backchannel_sounds_on_the_listeners_track_inside_the_partners_turn(backchannel_speech):
    s = backchannel_speech
    turn, reply = s.timeline[0], _backchannels(s)[0]
    hour = turn.words[4]
    assert hour.text == "hour"
    assert 0.15 - 1e-3 <= reply.start_s - hour.end_s <= 0.25 + 1e-3
    assert turn.start_s < reply.start_s and reply.end_s < turn.end_s  # said over A's turn, as the script asks
    sr = s.sample_rate
    heard = s.tracks[1, int(reply.start_s * sr):int(reply.end_s * sr)]
    assert energy_db(heard, sr).max() > -35
    assert np.abs(s.tracks[1, int(turn.start_s * sr):int(reply.start_s * sr) - 1]).max() == 0
    # quieter than the listener's own turn
    own = s.tracks[1, int(s.timeline[2].start_s * sr):int(s.timeline[2].end_s * sr)]
    assert energy_db(heard, sr).max() < energy_db(own, sr).max() - 2


def test_a_backchannel_after_the_last_word_holds_the_next_turn_back(backchannel_speech):
    s = backchannel_speech
    turns = [seg for seg in s.timeline if not seg.tags]
    reply = _backchannels(s)[1]
    assert turns[1].end_s + 0.15 - 1e-3 <= reply.start_s <= turns[1].end_s + 0.25 + 1e-3
    assert turns[2].start_s >= reply.end_s + 0.12 - 1e-3   # a natural gap after the backchannel
    assert s.duration_s >= max(seg.end_s for seg in s.timeline)


def test_one_persons_segments_never_overlap(backchannel_speech):
    for person in (0, 1):
        own = backchannel_speech.segments_of(person)
        assert len(own) == (3, 2)[person]   # A: two turns and an "uh-huh"; B: a turn and a "yeah"
        assert all(b.start_s >= a.end_s for a, b in zip(own, own[1:]))


def test_the_listener_opens_the_jaw_for_a_backchannel(engines, runtime, backchannel_speech):
    fps = 25.0
    motions = engines.motion_mapper.map(backchannel_speech, runtime=runtime, fps=fps, seed=3)
    times = (np.arange(motions[1].num_frames) + 0.5) / fps
    turn, reply = backchannel_speech.timeline[0], _backchannels(backchannel_speech)[0]
    jaw = motions[1].channel("jaw_open")
    during = (times >= reply.start_s) & (times < reply.end_s)
    listening = (times >= turn.start_s) & (times < reply.start_s - 0.1)
    assert jaw[during].max() > 0.2 and motions[1].speaking[during].max() > 0.5
    assert jaw[listening].max() < 0.02   # mouth closed while only listening


def test_text_encoder_keeps_backchannels_between_the_same_words(engines, runtime):
    from tavid_core.dialogue import parse_script
    text = engines.text_encoder.encode(parse_script("A: Tom&Jerry [oh] ran off\nB: yes"), runtime=runtime)
    assert text.turns[0].text == "Tom and Jerry ran off."
    assert text.turns[0].backchannels[0].after_words == 3


TWO_OF_A_KIND = """\
A: Good morning. I read your report on the new harbour bridge last night.
B: Honestly, I think the budget is far too small for a project of that size.
A: We could ask the city council for another two million before the summer.
B: That sounds reasonable, but who is going to explain it to the mayor?
"""


@pytest.mark.parametrize("portrait, sex", [("astronaut", "female"), ("grace_hopper", "male")])
def test_two_faces_of_one_apparent_sex_get_two_voices_of_it_told_apart(engines, runtime, faces, portrait, sex):
    """The photo and its mirror image read as the same sex: the pipeline gives them that sex's two voices, and
    the speaker encoder tells the two people apart (one voice with itself: about 0.97)."""
    from tavid_core.analysis.speaker_encoder import cosine, speaker_encoder
    from tavid_core.analysis.wheel_models import fallback_note, model_path
    from tavid_core.dialogue import parse_script
    from tavid_core.engines.builtin.tts.catalog import voice_info
    from tavid_core.media.audio import resample
    from tavid_core.pipeline import GenerateSettings, TavidPipeline
    for name in ("age", "sex", "speaker-encoder"):
        if model_path(name) is None:
            pytest.skip(fallback_note(name))
    pipeline, settings = TavidPipeline(engines, runtime), GenerateSettings()
    face = faces[portrait]
    voices = pipeline.voices(face, np.ascontiguousarray(face[:, ::-1]), settings)
    speech = pipeline.speech(parse_script(TWO_OF_A_KIND), voices, settings)
    names = [v.preset for v in speech.voices]
    assert names[0] != names[1] and {voice_info(n).sex for n in names} == {sex}
    assert voices[0].preset == voices[1].preset == names[0]   # both faces were given that sex's main voice ...
    assert speech.voices[1].reason.endswith(f"; {names[1]}, as {names[0]} is A's")   # ... and B moved, saying so
    turns = [speech.tracks[seg.speaker, int(seg.start_s * 24000):int(seg.end_s * 24000)] for seg in speech.timeline]
    embed = [speaker_encoder().embed(resample(t, 24000, 16000), 16000) for t in turns]
    same = min(cosine(embed[0], embed[2]), cosine(embed[1], embed[3]))
    across = max(cosine(embed[0], embed[1]), cosine(embed[2], embed[3]), cosine(embed[0], embed[3]))
    assert same > 0.85 and across < same - 0.15, (same, across)   # measured 0.90 / 0.70 (women), 0.90 / 0.62 (men)


@pytest.mark.parametrize("variant, base, semitones", [("joe-high", "joe", 4.0), ("heart-low", "heart", -3.0)])
def test_a_variant_is_its_base_voice_shifted_with_its_timings(engines, variant, base, semitones):
    text = "We could ask the city council for another two million before the summer."
    said = {name: engines.speech_model.speak(text, name, Voice(engine="builtin", preset=name), seed=4)
            for name in (variant, base)}
    pitch = {name: median_pitch_hz(u.audio, u.sample_rate) for name, u in said.items()}
    assert 12 * np.log2(pitch[variant] / pitch[base]) == pytest.approx(semitones, abs=0.7)
    # the backends' rate controls are not quite proportional: joe-high ends up 8 % quicker, heart-low 14 % slower
    pace = said[variant].words[-1].end_s / said[base].words[-1].end_s
    assert 0.85 < pace < 1.2
    assert [w.text for w in said[variant].words] == [w.text for w in said[base].words]
    spoken = said[variant]
    assert spoken.words[-1].end_s == pytest.approx(len(spoken.audio) / spoken.sample_rate, abs=0.05)

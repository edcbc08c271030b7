"""The built-in motion mapper on real generated speech."""
import numpy as np

from tavid_core.engines.builtin.visemes import VISEME_NAMES, viseme_of


def test_frame_count_follows_the_audio(short_speech, short_motion):
    for m in short_motion:
        assert m.num_frames == round(short_speech.duration_s * 25) and m.fps == 25.0


def test_mouth_moves_only_for_its_own_speech(short_speech, short_motion):
    for person, m in enumerate(short_motion):
        own = short_speech.activity(person, m.num_frames, 25.0) > 0
        other = short_speech.activity(1 - person, m.num_frames, 25.0) > 0
        jaw = m.channel("jaw_open")
        assert jaw[own].mean() > 0.15 and jaw[own].std() > 0.08
        assert np.all(jaw[other] == 0) and np.all(m.channel("mouth_round")[other] == 0)
        assert np.corrcoef(m.speaking, own)[0, 1] > 0.9


def test_lips_close_on_bilabials(short_speech, short_motion):
    closed = 0
    for seg in short_speech.timeline:
        jaw = short_motion[seg.speaker].channel("jaw_open")
        for phone in seg.phones:
            if viseme_of(phone.symbol) == "PP":
                centre = int((phone.start_s + phone.end_s) / 2 * 25)
                d = phone.end_s - phone.start_s
                frames = [f for f in range(int(phone.start_s * 25), int(phone.end_s * 25) + 1)
                          if phone.start_s + 0.2 * d <= (f + 0.5) / 25 < phone.end_s - 0.2 * d]
                assert all(jaw[f] == 0 for f in frames), (phone, centre)
                closed += len(frames)
    assert closed >= 3  # "Maybe", "bit", "but", "happy": there were closures to check


def test_listener_nods_after_partner_phrases_and_blinks(short_speech, short_motion):
    b = short_motion[1]
    a_end = short_speech.timeline[0].end_s   # A's question ends; B listens through the 0.8 s pause
    pitch = b.channel("pitch")
    window = pitch[int(a_end * 25):int((a_end + 0.8) * 25)]
    assert window.max() - pitch[int((a_end - 0.6) * 25):int(a_end * 25)].mean() > 0.02
    for m in short_motion:
        blinks = np.sum(np.diff((m.channel("blink_left") > 0.5).astype(int)) == 1)
        minutes = m.duration_s / 60
        assert 1 <= blinks <= 45 * minutes + 1
        assert np.array_equal(m.channel("blink_left"), m.channel("blink_right"))


def test_gaze_turns_toward_the_partner(short_motion):
    a, b = short_motion
    assert a.channel("gaze_x").mean() > 0.1 and b.channel("gaze_x").mean() < -0.1


def test_motion_is_bounded_and_seeded(engines, runtime, short_speech, short_motion):
    for m in short_motion:
        assert np.abs(m.pose[:, :3]).max() < 0.35
        assert np.all((m.expr[:, :1] >= 0) & (m.expr[:, :1] <= 1))
    again = engines.motion_mapper.map(short_speech, runtime=runtime, fps=25.0, seed=3)
    other = engines.motion_mapper.map(short_speech, runtime=runtime, fps=25.0, seed=4)
    assert np.array_equal(again[0].expr, short_motion[0].expr) and np.array_equal(again[1].pose, short_motion[1].pose)
    assert not np.array_equal(other[0].pose, short_motion[0].pose)
    assert np.array_equal(other[0].channel("jaw_open"), short_motion[0].channel("jaw_open"))  # lips follow speech only


def test_expressiveness_scales_head_motion(engines, runtime, short_speech, short_motion):
    calm = engines.motion_mapper.map(short_speech, runtime=runtime, fps=25.0, seed=3, expressiveness=0.0)
    assert np.abs(calm[0].pose[:, :3]).max() < 1e-6
    assert np.abs(short_motion[0].pose[:, :3]).max() > 0.01


def test_viseme_table_covers_both_phoneme_alphabets():
    assert viseme_of("p") == viseme_of("b") == viseme_of("m") == "PP"
    assert viseme_of("tʃ") == viseme_of("ʧ") == "CH"
    assert viseme_of("ɑː") == viseme_of("I") == "aa"      # espeak IPA and hibari's misaki letters
    assert viseme_of("eɪ") == viseme_of("A") == "E"
    assert viseme_of("oʊ") == viseme_of("O") == "oh"
    assert viseme_of("") == "sil" and len(VISEME_NAMES) >= 8


def test_listener_smiles_when_the_partner_laughs_and_keeps_lips_closed(engines, runtime, voices):
    """A laugh makes the listener smile more, up to the cap that keeps a photo's closed lips reading closed."""
    from tavid_core.dialogue import parse_script
    from tavid_core.engines.builtin.motion_mapper import MAX_LISTENING_SMILE

    def listener_smile(script):
        text = engines.text_encoder.encode(parse_script(script), runtime=runtime)
        speech = engines.speech_model.generate(text, voices, runtime=runtime, seed=2)
        motion = engines.motion_mapper.map(speech, runtime=runtime, fps=25.0, seed=2)[1]
        turn = speech.activity(0, motion.num_frames, 25.0) > 0
        return motion.channel("smile")[turn]

    laughing = listener_smile("A: [laughs] You should have seen his face.\nB: I can imagine.")
    plain = listener_smile("A: You should have seen his face.\nB: I can imagine.")
    assert laughing.mean() > plain.mean() + 0.05
    assert laughing.max() <= MAX_LISTENING_SMILE + 1e-6


def test_listener_reactions_vary_from_phrase_to_phrase(engines, runtime, voices):
    """After each of the partner's phrases the listener reacts, and not with the same movement each time:
    nods of different depths, and smiles or raised brows among them."""
    from tavid_core.dialogue import parse_script
    script = ("A: I went out early. The shop was still closed. So I waited by the door. Then it started to rain. "
              "I got soaked through. Still, the bread was worth it.\nB: Sounds like quite a morning.")
    text = engines.text_encoder.encode(parse_script(script), runtime=runtime)
    speech = engines.speech_model.generate(text, voices, runtime=runtime, seed=4)
    listener = engines.motion_mapper.map(speech, runtime=runtime, fps=25.0, seed=4)[1]
    turn = speech.timeline[0]
    ends = [a.end_s for a, b in zip(turn.words, turn.words[1:]) if b.start_s - a.end_s >= 0.12] + [turn.end_s]
    assert len(ends) >= 5

    def rise(channel, end):  # how far a channel climbs in the second after a phrase end
        values = listener.channel(channel)
        return values[int(end * 25):int((end + 1.0) * 25)].max() - values[int(end * 25)]
    nods = np.array([rise("pitch", end) for end in ends])
    others = np.array([max(rise("smile", end), rise("brow_raise", end)) for end in ends])
    assert np.mean(nods > 0.02) >= 0.7                      # a visible nod after most phrase ends
    assert nods.std() > 0.15 * nods.mean()                  # of different depths
    assert 1 <= np.sum(others > 0.05) < len(ends)           # smiles or brows after some, not all

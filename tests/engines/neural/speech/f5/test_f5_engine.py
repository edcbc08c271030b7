"""The F5-TTS engines on a tiny seeded speech model and the full-size Vocos: voice prompts from the
speaker mapper (a recording with its transcript, or the face's built-in voice), each person's previous turn
as their next prompt, the reference's duration rule, our timeline's pauses and backchannels, and the DiT's
hidden layer in Speech.features. The speech is noise (the weights are random); its timing is not."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from helpers.f5_files import TINY, write_f5_files
from tavid_core.dialogue import parse_script
from tavid_core.engines.builtin import load_builtin_engines
from tavid_core.engines.neural.speech.f5 import generator as f5_generator
from tavid_core.engines.neural.speech.f5.duration import normalise_ref_text, total_frames
from tavid_core.engines.neural.speech.f5.prompts import PROMPT_SENTENCE
from tavid_core.engines.neural.speech.f5.side import load_f5_side
from tavid_core.errors import TavidError

SCRIPT = "A: Good morning, how are you?\nB: Fine, thanks [mm-hm] and you?\n[pause:0.7s]\nA: Never better."


@pytest.fixture(scope="module")
def side(tmp_path_factory):
    speech, vocoder = write_f5_files(tmp_path_factory.mktemp("f5_tts"))
    builtin = load_builtin_engines()
    return load_f5_side([speech, vocoder], faces=builtin.speaker_mapper, prompt_voices=builtin.speech_model, cfg=TINY)


@pytest.fixture(scope="module")
def recording():
    """Four seconds of a built-in voice, standing in for a user's recording (44.1 kHz, as files often are)."""
    from tavid_core.engines.builtin.speech import BuiltinSpeechGenerator
    from tavid_core.engines.builtin.tts.catalog import VoiceCatalog
    from tavid_core.media.audio import resample
    from tavid_core.types import Voice
    said = BuiltinSpeechGenerator(VoiceCatalog()).speak("This is how I sound when I talk.", "heart",
                                                        Voice(engine="builtin", preset="heart"), seed=1)
    quiet = np.zeros(said.sample_rate // 2, np.float32)   # half a second of silence either side, as recorded
    audio = np.concatenate([quiet, said.audio, quiet])
    return resample(audio, said.sample_rate, 44100), 44100, "This is how I sound when I talk."


def voices(side, faces, runtime, recording=None, transcript=None):
    mapper = side["speaker_mapper"]
    a = mapper.map_face(faces["grace_hopper"], runtime=runtime, where="face A")
    b = mapper.map_face(faces["astronaut"], runtime=runtime, where="face B",
                        reference_audio=None if recording is None else recording[:2], reference_text=transcript)
    return a, b


def test_a_dialogue_on_our_timeline_with_hidden_features(side, faces, runtime, recording, monkeypatch):
    said = []
    speak = f5_generator.F5SpeechGenerator._speak

    def spy(self, text, voice, prompt, *args):
        said.append((text, prompt.text, prompt.as_voice))
        return speak(self, text, voice, prompt, *args)

    monkeypatch.setattr(f5_generator.F5SpeechGenerator, "_speak", spy)
    text = side["text_encoder"].encode(parse_script(SCRIPT), runtime=runtime)
    pair = voices(side, faces, runtime, recording, transcript=recording[2])
    assert pair[0].engine == "builtin" and pair[0].preset and pair[1].prompt is not None
    speech = side["speech_model"].generate(text, pair, runtime=runtime, seed=3, steps=2)
    # prompts: A's built-in voice, B's recording, the listener's latest prompt for the backchannel, then A's first turn
    assert said == [("Good morning, how are you?", PROMPT_SENTENCE, True),
                    ("Fine, thanks and you?", recording[2], False),
                    ("Hmm hmm.", "Good morning, how are you?", True),
                    ("Never better.", "Good morning, how are you?", True)]
    turns = [s for s in speech.timeline if not s.is_backchannel]
    backchannel = next(s for s in speech.timeline if s.is_backchannel)
    assert [s.speaker for s in turns] == [0, 1, 0] and backchannel.speaker == 0
    assert turns[2].start_s - max(turns[1].end_s, backchannel.end_s) == pytest.approx(0.7, abs=1e-3)
    assert 0.12 <= turns[1].start_s - turns[0].end_s <= 0.5
    assert speech.feature_rate == pytest.approx(31.25) and speech.features.shape[2] == 3 + TINY.dim
    hidden = speech.features[:, :, 3:]
    at = int(turns[1].start_s * speech.feature_rate) + 2
    assert np.abs(hidden[1, at]).sum() > 0 and np.abs(hidden[0, at]).sum() == 0   # the speaker's, not the listener's
    again = side["speech_model"].generate(text, pair, runtime=runtime, seed=3, steps=2)
    assert np.array_equal(again.tracks, speech.tracks)


def test_the_duration_follows_the_prompts_pace(side, faces, runtime):
    from tavid_core.engines.neural.common.inference import seeded
    engine = side["speech_model"]
    voice = voices(side, faces, runtime)[0]
    prompt = engine.first_prompts((voice, voice.with_preset("heart")), seed=0)[0]
    for text in ("Short.", "A somewhat longer sentence to say than that."):
        said = engine._speak(text, voice, prompt, seeded(0), (1, "euler", 2.0), runtime, "t")
        frames = total_frames(len(prompt.audio), normalise_ref_text(prompt.text), text)
        assert len(said.audio) == (frames - len(prompt.audio) // 256) * 256
        assert said.features.shape == (frames - len(prompt.audio) // 256, TINY.dim)


def test_a_recording_without_its_transcript_is_named(side, faces, runtime, recording):
    text = side["text_encoder"].encode(parse_script(SCRIPT), runtime=runtime)
    with pytest.raises(TavidError, match="the voice recording has no transcript") as caught:
        side["speech_model"].generate(text, voices(side, faces, runtime, recording), runtime=runtime, steps=1)
    assert caught.value.where == "voice_b" and "transcript" in caught.value.fix


def test_recordings_too_short_or_long_are_refused_at_the_mapper(side, faces, runtime):
    for seconds in (0.5, 20.0):
        with pytest.raises(TavidError, match=f"the recording is {seconds:.1f} s long"):
            side["speaker_mapper"].map_face(faces["astronaut"], runtime=runtime, where="image",
                                            reference_audio=(np.ones(int(seconds * 16000), np.float32) * 0.1, 16000))


def test_chinese_text_without_the_chinese_tools_names_the_line(side, runtime, monkeypatch):
    monkeypatch.setitem(sys.modules, "rjieba", None)
    with pytest.raises(TavidError, match="Chinese text needs rjieba and pypinyin") as caught:
        side["text_encoder"].encode(parse_script("A: Hello.\nB: \u4f60\u597d\u3002"), runtime=runtime)
    assert caught.value.where.startswith("line 2") and "comfyui-tavid[zh]" in caught.value.fix


def test_the_scripts_voice_line_gives_the_recordings_transcript(side, faces, runtime, recording):
    dialogue = parse_script(f"[voice B] {recording[2]}\n{SCRIPT}")
    pair = voices(side, faces, runtime, recording)
    prompts = side["speech_model"].first_prompts(pair, 0, dialogue.voice_texts)
    assert prompts[1].text == recording[2] and not prompts[1].as_voice
    assert prompts[0].text == PROMPT_SENTENCE and prompts[0].as_voice
    assert len(prompts[1].audio) < (len(recording[0]) / 44100 - 0.9) * 24000   # trimmed of its silence, at 24 kHz
    assert not prompts[1].audio[-1200:].any()   # and the reference's 50 ms of silence after it

"""Dub mode on a recording whose truth is known: the built-in voices' short dialogue (its timeline says who speaks
when, word by word), as two own tracks with bleed and a level difference, and as one mix with room noise. The
targets are the issue's: speech given to the right person >= 97 % (tracks) and >= 92 % (mix), turn starts
and ends within 60 ms (median), aligned word boundaries within 40 ms (median)."""
import json

import numpy as np
import pytest
import soundfile as sf

from helpers.dub_truth import mixed, own_tracks, right_share, turn_errors, word_errors
from tavid_core.analysis.audio_features import SPEECH_FEATURES
from tavid_core.dub import DubSettings, dub_speech, load_recording
from tavid_core.media.audio import load_audio
from tavid_core.pipeline import GenerateSettings, TavidPipeline

RATE = 24000


@pytest.fixture(scope="module")
def truth(short_speech):
    return short_speech.timeline


@pytest.fixture(scope="module")
def recordings(short_speech, tmp_path_factory):
    """Paths: A's and B's own tracks (B 8 dB quieter, each hearing the other 14 dB down, room noise), and a mix
    with room noise."""
    folder = tmp_path_factory.mktemp("dub")
    a, b = short_speech.tracks
    track_a, track_b = own_tracks(a, b, RATE)
    mix = mixed(a, b)
    paths = {}
    for name, audio in (("a", track_a), ("b", track_b), ("mix", mix)):
        paths[name] = str(folder / f"{name}.wav")
        sf.write(paths[name], np.clip(audio, -1, 1), RATE, subtype="PCM_16")
    return paths


@pytest.fixture(scope="module")
def script_dialogue(short_dialogue):
    return short_dialogue


def test_two_tracks_with_bleed_and_a_script(recordings, truth, script_dialogue, runtime):
    recording = load_recording(a=recordings["a"], b=recordings["b"])
    result = dub_speech(recording, script_dialogue, runtime=runtime)
    speech = result.speech
    right, wrong = right_share(truth, speech.timeline, speech.duration_s)
    assert right >= 0.97 and wrong <= 0.03, (right, wrong)
    assert np.median(turn_errors(truth, speech.timeline)) <= 0.06
    errors, count = word_errors(truth, speech.timeline)
    assert len(errors) >= 2 * 0.9 * count and np.median(errors) <= 0.04, (len(errors), count, np.median(errors))
    assert [s.text for s in speech.timeline] == [t.text for t in script_dialogue.turns]
    assert all(s.phones for s in speech.timeline)
    assert speech.feature_names == SPEECH_FEATURES
    assert speech.features.shape[:2] == (2, np.ceil(speech.duration_s * 100))
    assert result.method["words"].startswith("transcript") and not result.notes


def test_one_mix_with_room_noise_and_a_script(recordings, truth, script_dialogue, runtime):
    result = dub_speech(load_recording(mix=recordings["mix"]), script_dialogue, runtime=runtime)
    speech = result.speech
    right, wrong = right_share(truth, speech.timeline, speech.duration_s)
    assert right >= 0.92 and wrong <= 0.05, (right, wrong)
    assert np.median(turn_errors(truth, speech.timeline)) <= 0.06
    assert [s.speaker for s in speech.timeline] == [t.speaker for t in script_dialogue.turns]
    # the two tracks are the recording split by who speaks: where someone speaks, they sum to it
    mix = load_recording(mix=recordings["mix"]).tracks[0]
    t = np.arange(len(mix)) / speech.sample_rate
    inside = np.zeros(len(mix), bool)
    for seg in speech.timeline:
        inside |= (t >= seg.start_s + 0.001) & (t < seg.end_s - 0.001)
    assert inside.mean() > 0.5
    assert np.allclose(speech.tracks.sum(axis=0)[inside], mix[inside], atol=1e-6)


def test_without_a_script_whisper_hears_the_words(recordings, truth, runtime):
    """Whisper's words, placed again by the aligner for phonemes; the voice heard first is A (or B, if asked)."""
    pytest.importorskip("faster_whisper", reason="the [eval] extra is not installed")
    speech = dub_speech(load_recording(mix=recordings["mix"]), runtime=runtime).speech
    errors, count = word_errors(truth, speech.timeline)
    assert len(errors) >= 2 * 0.8 * count and np.median(errors) <= 0.06, (len(errors), count)
    assert speech.timeline[0].speaker == 0 and "how are you" in speech.timeline[0].text.lower()
    flipped = dub_speech(load_recording(mix=recordings["mix"]), settings=DubSettings(first_speaker="b",
                                                                                    words="energy"),
                         runtime=runtime).speech
    assert [1 - s.speaker for s in flipped.timeline] == [s.speaker for s in speech.timeline]
    assert not any(s.words or s.phones for s in flipped.timeline)   # energy: mouths follow the loudness


def test_the_video_carries_the_recording_untouched(recordings, faces, engines, runtime, tmp_path, script_dialogue):
    """The dubbed MP4's sound is the file's own (its rate and channels, the same samples up to AAC), and the
    listener's mouth stays shut while the other speaks."""
    stereo = tmp_path / "stereo.wav"
    audio, rate = load_audio(recordings["mix"])
    sf.write(stereo, np.stack([audio[0], audio[0] * 0.5]).T, rate, subtype="PCM_16")
    out = tmp_path / "dub.mp4"
    result = TavidPipeline(engines, runtime).dub(load_recording(mix=str(stereo)), faces["grace_hopper"],
                                                 faces["astronaut"], str(out), GenerateSettings(size=64),
                                                 script_dialogue)
    heard, heard_rate = load_audio(str(out))
    assert heard_rate == rate and heard.shape[0] == 2
    n = min(heard.shape[1], audio.shape[1])
    assert np.corrcoef(heard[0, :n], audio[0, :n])[0, 1] > 0.99
    assert abs(np.std(heard[1, :n]) / np.std(heard[0, :n]) - 0.5) < 0.05
    report = json.loads((tmp_path / "dub.json").read_text())
    assert report["dub"]["input"] == "a mix" and len(report["timeline"]) == 3
    speech = result.speech
    motion_a, motion_b = engines.motion_mapper.map(speech, runtime=runtime, fps=25.0)
    listening = speech.activity(1, motion_a.num_frames, 25.0) > 0
    only_b = listening & (speech.activity(0, motion_a.num_frames, 25.0) == 0)
    assert only_b.sum() > 25 and motion_a.channel("jaw_open")[only_b].max() < 0.05


def test_tavid_eval_of_a_dubbed_mix_finds_lip_sync_and_a_shut_listener(recordings, faces, engines, runtime, tmp_path,
                                                                        script_dialogue):
    """The issue's video targets on the short noisy mix: lip sync >= 0.5 and the listener's mouth closed >= 97 %
    of the time, for both faces, measured by tavid eval (MediaPipe or dlib faces) on the MP4 itself."""
    pytest.importorskip("silero_vad", reason="the [eval] extra is not installed")
    from tavid_core.eval import evaluate_video
    out = tmp_path / "dub.mp4"
    TavidPipeline(engines, runtime).dub(load_recording(mix=recordings["mix"]), faces["grace_hopper"],
                                        faces["astronaut"], str(out), GenerateSettings(size=256, seed=1),
                                        script_dialogue)
    report = evaluate_video(str(out), runtime=runtime)
    for p in "AB":
        assert report["realism"][p]["lip_sync_corr"] >= 0.5, report["realism"][p]
        assert report["listening"][p]["mouth_closed_share"] >= 0.97, report["listening"][p]

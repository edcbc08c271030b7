"""The built-in voice families, on real synthesis (Kokoro's where `tavid models fetch` has fetched it)."""
import numpy as np
import pytest

from tavid_core.analysis.audio_features import median_pitch_hz
from tavid_core.analysis.wheel_models import model_path
from tavid_core.engines.builtin.tts.catalog import NEURAL_VOICES, VoiceCatalog, backend_voice_id, voice_info
from tavid_core.errors import TavidError

TEXT = "Maybe we can meet at the park by noon."
KOKORO = pytest.param("kumo", "jm_kumo", marks=pytest.mark.skipif(
    model_path("kokoro-1") is None, reason="Kokoro not fetched (tavid models fetch)"))
FAMILIES = [("joe", "joe"), ("heart", "heart"), ("espeak:en-us+f3", "en-us+f3"), KOKORO]


@pytest.fixture(scope="module")
def catalog():
    return VoiceCatalog()


@pytest.mark.parametrize("name, voice", FAMILIES)
def test_voice_speaks_with_timings(catalog, name, voice):
    backend = catalog.backend(voice_info(name).family)
    utt = backend.synthesize(TEXT, voice=voice, rate=1.0, pitch=1.0, seed=1)
    assert utt.sample_rate == backend.sample_rate
    assert 1.5 < utt.duration_s < 5.0
    assert np.abs(utt.audio).max() > 0.05
    assert [w.text for w in utt.words] == ["Maybe", "we", "can", "meet", "at", "the", "park", "by", "noon"]
    starts = [w.start_s for w in utt.words]
    assert starts == sorted(starts) and all(w.end_s > w.start_s for w in utt.words)
    assert utt.words[-1].end_s <= utt.duration_s + 1e-6
    symbols = [p.symbol for p in utt.phones]
    assert symbols[0] == "m" and "p" in symbols and "n" in symbols
    assert all(p.end_s >= p.start_s for p in utt.phones)
    # the phones carry real timing: the bilabial 'm' of "Maybe" comes before the 'p' of "park"
    m_time = next(p.start_s for p in utt.phones if p.symbol == "m")
    park = next(w for w in utt.words if w.text == "park")
    p_time = next(p.start_s for p in utt.phones if p.symbol == "p" and p.start_s >= park.start_s - 0.05)
    assert m_time < utt.words[1].start_s < p_time


@pytest.mark.parametrize("name, voice", FAMILIES)
def test_same_seed_same_audio(catalog, name, voice):
    backend = catalog.backend(voice_info(name).family)
    a = backend.synthesize(TEXT, voice=voice, rate=1.0, pitch=1.0, seed=5)
    b = backend.synthesize(TEXT, voice=voice, rate=1.0, pitch=1.0, seed=5)
    assert np.array_equal(a.audio, b.audio)


@pytest.mark.parametrize("name, voice", FAMILIES[:2])
def test_seed_changes_neural_voices(catalog, name, voice):
    backend = catalog.backend(voice_info(name).family)
    a = backend.synthesize(TEXT, voice=voice, rate=1.0, pitch=1.0, seed=5)
    b = backend.synthesize(TEXT, voice=voice, rate=1.0, pitch=1.0, seed=6)
    assert len(a.audio) != len(b.audio) or not np.allclose(a.audio, b.audio)


@pytest.mark.parametrize("name, voice", FAMILIES)
def test_pitch_and_rate_controls(catalog, name, voice):
    backend = catalog.backend(voice_info(name).family)
    base = backend.synthesize(TEXT, voice=voice, rate=1.0, pitch=1.0, seed=2)
    higher = backend.synthesize(TEXT, voice=voice, rate=1.0, pitch=2 ** (4 / 12), seed=2)
    faster = backend.synthesize(TEXT, voice=voice, rate=1.3, pitch=1.0, seed=2)
    shift = 12 * np.log2(median_pitch_hz(higher.audio, higher.sample_rate) / median_pitch_hz(base.audio, base.sample_rate))
    assert 2.5 < shift < 5.5
    assert faster.duration_s < 0.9 * base.duration_s


def test_unknown_voice_names_are_clear():
    with pytest.raises(TavidError, match="unknown voice 'bob'"):
        voice_info("bob")
    from tavid_core.engines.builtin.tts.espeak_backend import EspeakBackend
    with pytest.raises(TavidError, match="no voice"):
        EspeakBackend().synthesize("hi", voice="xx-nope", rate=1.0, pitch=1.0, seed=0)


def test_espeak_phonemizer():
    from tavid_core.engines.shared.espeak import phonemize
    assert phonemize("Hello there") == "həlˈoʊ ðˈɛɹ"


def test_seeded_noise_replaces_random_nodes():
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    from tavid_core.engines.builtin.tts.onnx_noise import SEED_INPUT, make_noise_seeded

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 2500])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 2500])
    model = helper.make_model(helper.make_graph([helper.make_node("RandomNormalLike", ["x"], ["y"])], "g", [x], [y]),
                              opset_imports=[helper.make_opsetid("", 13)])
    assert make_noise_seeded(model) == 1
    onnx.checker.check_model(model)
    session = ort.InferenceSession(model.SerializeToString())
    zeros = np.zeros((4, 2500), np.float32)
    run = lambda seed: session.run(None, {"x": zeros, SEED_INPUT: np.array([seed])})[0]  # noqa: E731
    a, b, c = run(11), run(11), run(12)
    assert a.shape == (4, 2500) and np.array_equal(a, b)
    assert abs(a.mean()) < 0.05 and 0.95 < a.std() < 1.05
    assert abs(np.corrcoef(a.ravel(), c.ravel())[0, 1]) < 0.05
    assert abs(np.corrcoef(a.ravel()[1:], a.ravel()[:-1])[0, 1]) < 0.05


def test_kokoro_voices_are_there_by_name_only():
    """Faces are mapped onto joe and heart and their variants; Kokoro's voices are chosen by name, with the
    backend's own style."""
    assert VoiceCatalog().neural_voices() in (("joe", "heart", "joe-high", "heart-low"), ("joe", "joe-high"),
                                              ("heart", "heart-low"), ())
    kokoro = [v for v in NEURAL_VOICES if v.family == "kokoro"]
    assert {v.name for v in kokoro} == {"kumo", "alpha", "nezumi"} and not any(v.mapped for v in kokoro)
    assert backend_voice_id("alpha") == "jf_alpha" and backend_voice_id("espeak:en+f2") == "en+f2"

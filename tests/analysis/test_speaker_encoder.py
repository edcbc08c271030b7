"""The speaker encoder: resemblyzer's network as our own module, on its real weights (fetched by
`tavid models fetch`) and on our own voices."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tavid_core.analysis.speaker_encoder import (EMBEDDING, VoiceEncoderNet, cosine, partial_starts,
                                                 resemblyzer_weights, speaker_encoder)
from tavid_core.analysis.wheel_models import fallback_note, model_path

GOLDEN = Path(__file__).parent / "goldens" / "speaker_encoder_golden.json"


@pytest.fixture(scope="module")
def encoder(one_torch_thread):
    if model_path("speaker-encoder") is None:
        pytest.skip(fallback_note("speaker-encoder"))
    return speaker_encoder()


def golden_input() -> np.ndarray:
    """3.3 s at 16 kHz: a gliding harmonic voice-like tone, syllable-rate loudness, a little seeded noise
    (about -21 dBFS, so neither encoder changes its level)."""
    rate = 16000
    t = np.arange(int(3.3 * rate)) / rate
    phase = 2 * np.pi * np.cumsum(140 + 30 * np.sin(2 * np.pi * 0.7 * t)) / rate
    tone = sum(np.sin(k * phase) / k for k in range(1, 13))
    signal = tone * (0.55 + 0.45 * np.sin(2 * np.pi * 4 * t)) + 0.05 * np.random.default_rng(20).standard_normal(len(t))
    return (0.3 * signal / np.abs(signal).max()).astype(np.float32)


def test_the_embedding_is_resemblyzers(encoder):
    """The golden is resemblyzer 0.1.4's own `VoiceEncoder("cpu").embed_utterance(golden_input())` (its full
    front end and network, no silence trimming), made once in a scratch venv with resemblyzer installed."""
    golden = np.array(json.loads(GOLDEN.read_text())["embedding"], np.float32)
    ours = encoder.embed(golden_input(), 16000)
    assert ours.shape == (EMBEDDING,) and abs(np.linalg.norm(ours) - 1) < 1e-5
    assert cosine(ours, golden) > 0.99999 and np.abs(ours - golden).max() < 1e-5


def test_one_voice_is_close_to_itself_and_far_from_the_other(encoder, sentences):
    embeds = {v: [encoder.embed(audio, rate) for audio, rate, _ in clips] for v, clips in sentences.items()}
    same = [cosine(a, b) for clips in embeds.values() for i, a in enumerate(clips) for b in clips[i + 1:]]
    other = [cosine(a, b) for a in embeds["joe"] for b in embeds["heart"]]
    assert min(same) > 0.85 and max(other) < 0.65, (same, other)   # measured: same 0.91-0.93, other 0.43-0.52


def test_any_sample_rate_gives_the_same_embedding(encoder, sentences):
    from tavid_core.media.audio import resample
    audio, rate, _ = sentences["heart"][0]
    at_16k = encoder.embed(resample(audio, rate, 16000), 16000)
    assert cosine(encoder.embed(audio, rate), at_16k) > 0.999
    # a quiet recording is raised to -30 dBFS first (never lowered), as resemblyzer does
    level = 10 * np.log10(np.mean(audio.astype(np.float64) ** 2))
    at_30 = audio * np.float32(10 ** ((-30 - level) / 20))
    assert cosine(encoder.embed(0.01 * audio, rate), encoder.embed(at_30, rate)) > 0.9999
    assert cosine(encoder.embed(0.01 * audio, rate), at_16k) > 0.95


def test_partial_windows_follow_resemblyzers_rule():
    """The windows resemblyzer 0.1.4's compute_partial_slices(n, 1.3, 0.75) gives for these lengths."""
    assert partial_starts(16000) == [0]                       # shorter than one window: one, padded
    assert partial_starts(30400) == [0]                       # a second window would be only 71 % audio
    assert partial_starts(35200) == [0, 77]                   # ... here 89 %
    assert partial_starts(100000) == [0, 77, 154, 231, 308, 385, 462]   # 1.3 per second


def test_the_converter_takes_exactly_the_network_out_of_a_resemblyzer_checkpoint():
    """Seeded random weights at full size in resemblyzer's checkpoint layout (with the training-only
    similarity parameters and an optimizer state beside them)."""
    torch.manual_seed(0)
    state = {k: torch.randn(v.shape) for k, v in VoiceEncoderNet().state_dict().items()}
    held = {"step": 1, "model_state": {**state, "similarity_weight": torch.tensor([10.0]),
                                       "similarity_bias": torch.tensor([-5.0])}, "optimizer_state": {}}
    weights = resemblyzer_weights(held)
    assert set(weights) == set(state) and all(torch.equal(weights[k], state[k]) for k in state)
    assert sum(t.numel() for t in weights.values()) == 1_423_616   # resemblyzer's VoiceEncoder, less the two scalars
    assert resemblyzer_weights({"model_state": {**state, "linear.weight": torch.zeros(3, 3)}}) is None
    assert resemblyzer_weights({"state_dict": state}) is None

"""Our F5-TTS v1 Base and Vocos mel-24khz networks against the reference implementation (f5-tts 1.1.22,
vocos 0.1.0), at full size.

How the goldens (goldens.safetensors, 1.9 MB) were made, once, outside the repository: the reference's
network classes (DiT, CFM, MelSpec, Vocos) were built with F5TTS_v1_Base's and vocos-mel-24khz's settings,
filled with tests/helpers/seeded_weights.py's tensors for the public files' exact key layout (seed 20261202,
gain 1; the buffers at their defining values), and run in fp32 on one CPU thread: the DiT on seeded noisy
mels, prompts, texts and times (one batched cond/uncond pass as CFM.sample's guidance runs it, block 11's
output subsampled), CFM.sample for 8 Euler steps (the uniform grid + sway -1 that 32 steps also use; cfg 2,
noise seed 1234), the time grids for 1-32 steps, Vocos.decode on seeded mels, the mel of two waveforms with
the real torchaudio code, and convert_char_to_pinyin + list_str_to_idx (rjieba) on 19 strings, with a
synthetic vocabulary (in the file's metadata) and the published vocab.txt. The file holds only those seeded
inputs and the outputs; the metadata says the seed, the settings, the public key layouts and the texts.

Here the same seeded tensors go through our loader's mapping (keymap.py: q/k rows reordered per head, the
final norm's halves swapped) into our networks. The Vocos weights are also saved as the published pickle and
converted by `tavid convert`. The F5 file's read path is tested on a tiny model (test_f5_files.py): writing
the 1.35 GB file here would cost more than the numbers it checks.
"""
from __future__ import annotations

import importlib.util
import json
import os
import sys

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from helpers.f5_files import f5_state, vocos_state
from tavid_core.engines.convert import convert_original
from tavid_core.engines.neural.common.layers import parameter_count
from tavid_core.engines.neural.speech.f5 import keymap, loader, sampler
from tavid_core.engines.neural.speech.f5.config import F5_MEL, F5_V1_BASE
from tavid_core.engines.neural.speech.f5.dit import F5DiT
from tavid_core.engines.neural.speech.f5.duration import normalise_ref_text, sampled_frames, total_frames
from tavid_core.engines.neural.speech.f5.text import F5TextFrontEnd, needs_chinese_tools, parse_vocab, read_vocab
from tavid_core.engines.neural.speech.f5.vocos import VocosVocoder
from tavid_core.engines.neural.speech.mel import LogMel, htk_filterbank

GOLDENS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "goldens.safetensors")


def maxdiff(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    return (a.float() - b.float()).abs().max().item()


@pytest.fixture(scope="module")
def golden():
    with safe_open(GOLDENS, "pt") as f:
        meta = f.metadata()
    return load_file(GOLDENS), meta


@pytest.fixture(scope="module")
def dit(golden):
    """The full-size network filled with the seeded public tensors through the loader's mapping."""
    _, meta = golden
    threads = torch.get_num_threads()
    torch.set_num_threads(1)   # the goldens' summation order, and a busy CI machine's fair share
    state = f5_state(json.loads(meta["f5_public_keys"]), int(meta["seed"]), float(meta["gain_dit"]), F5_V1_BASE)
    loader.check_f5_tensors("model_1250000.safetensors", {k: tuple(v.shape) for k, v in state.items()})
    with torch.device("meta"):
        network = F5DiT(F5_V1_BASE)
    network = loader.fill(network, loader.f5_layout(), F5_V1_BASE.heads, state.__getitem__)
    del state
    yield network
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def vocos(golden, tmp_path_factory):
    _, meta = golden
    original = tmp_path_factory.mktemp("vocos-mel-24khz") / "pytorch_model.bin"
    torch.save(vocos_state(json.loads(meta["vocos_public_keys"]), int(meta["seed"]), float(meta["gain_vocos"])),
               original)   # the published format: a torch pickle
    written = convert_original(str(original), str(original.parent))
    assert [os.path.basename(p) for p in written] == ["vocos_mel_24khz.safetensors"]
    return loader.load_vocos(written[0])


# ------------------------------------------------------------------------------------ layout, counts
def test_declared_layout_is_the_public_f5_layout(golden):
    _, meta = golden
    public = {k: tuple(v) for k, v in json.loads(meta["f5_public_keys"]).items()}
    shapes = loader.f5_shapes()
    ours = {p: shapes[o] for p, (o, _) in loader.f5_layout().items()}
    ours |= {keymap.F5_PREFIX + "rotary_embed.inv_freq": (32,), "initted": (), "step": ()}
    assert ours == public and len(public) == 366
    loader.check_f5_tensors("model_1250000.safetensors", public)   # the loader's own check of a full-size header


def test_declared_layout_is_the_public_vocos_layout(golden):
    _, meta = golden
    public = {k: tuple(v) for k, v in json.loads(meta["vocos_public_keys"]).items()}
    shapes = loader.vocos_shapes()
    ours = {p: shapes[o] for p, (o, _) in loader.vocos_layout().items()}
    ours |= {k: public[k] for k in keymap.VOCOS_BUFFERS}
    assert ours == public and len(public) == 83


def test_parameter_counts(golden):
    _, meta = golden
    with torch.device("meta"):
        assert parameter_count(F5DiT(F5_V1_BASE)) == int(meta["param_count_dit"]) == 337_096_804
        assert parameter_count(VocosVocoder()) == int(meta["param_count_vocos"]) == 13_531_650


# ------------------------------------------------------------------------------------------- networks
def test_dit_velocity_and_hidden_layer(golden, dit):
    data, _ = golden
    x, cond, text, t = data["dit.x"], data["dit.cond"], data["dit.text"], data["dit.t"]
    b = x.shape[0]
    drop = torch.tensor([False] * b + [True] * b)   # the reference's guidance batch: conditional rows, then not
    with torch.inference_mode():
        v, hidden = dit(torch.cat([x, x]), torch.cat([cond, cond]), torch.cat([text, text]), torch.cat([t, t]),
                        drop=drop, features=True)
        single = dit(x[:1], cond[:1], text[:1], 0.5)
    v_cond, v_uncond = v.chunk(2)
    assert 0.5 < v.std() < 2.0 and torch.isfinite(v).all()   # seeded weights neither explode nor vanish
    assert maxdiff(v_cond, data["dit.v_cond"]) < 1e-4
    assert maxdiff(v_uncond, data["dit.v_uncond"]) < 1e-4
    assert maxdiff(single, data["dit.v_single_t05"]) < 1e-4
    h = hidden[:b]
    assert maxdiff(h[:, ::4, ::8], data["dit.hidden_sub"]) < 1e-4
    torch.testing.assert_close(h.double().abs().sum((1, 2)).float(), data["dit.hidden_abs_sum"], rtol=1e-5, atol=0.05)


def test_one_whole_ode_solve(golden, dit):
    data, meta = golden
    assert int(meta["ode_steps"]) == 8 and float(meta["ode_cfg"]) == 2.0 and float(meta["ode_sway"]) == -1.0
    mel = sampler.sample(dit, data["ode.prompt_mel"], data["ode.text"], int(meta["ode_frames"]),
                         generator=torch.Generator().manual_seed(int(meta["ode_noise_seed"])), steps=8, cfg=2.0,
                         sway=-1.0)
    assert mel.shape == data["ode.mel"].shape == (1, 188, 100)
    assert maxdiff(mel, data["ode.mel"]) < 1e-3
    assert maxdiff(mel[:, 70:], data["ode.prompt_mel"][:, :1].expand(1, 118, 100)) > 1.0   # it did generate


@pytest.mark.parametrize("steps", [1, 5, 6, 7, 8, 10, 12, 16, 32])
def test_time_grids(golden, steps):
    data, _ = golden
    assert maxdiff(sampler.time_grid(steps, -1.0, use_epss=True), data[f"grid.epss_sway.{steps}"]) == 0.0
    assert maxdiff(sampler.time_grid(steps, -1.0, use_epss=False), data[f"grid.uniform_sway.{steps}"]) == 0.0


def test_vocoder_waveform(golden, vocos):
    data, _ = golden
    with torch.inference_mode():
        wave = vocos(data["vocos.mel"].transpose(1, 2))
        short = vocos(data["vocos.mel"][:, :, :2].transpose(1, 2))
        chunked = vocos.vocode(data["vocos.mel"].transpose(1, 2), chunk_frames=48)
    assert wave.shape == (2, 140 * 256) and wave.std() > 0.01
    assert maxdiff(wave, data["vocos.wave"]) < 1e-4
    assert maxdiff(short, data["vocos.wave_2frames"]) < 1e-4
    assert maxdiff(chunked, data["vocos.wave"]) < 1e-4   # long mels are vocoded in chunks with flat memory


def test_mel_and_filterbank(golden):
    data, _ = golden
    assert maxdiff(htk_filterbank(F5_MEL), data["mel.fb"]) < 1e-6
    mel = LogMel(F5_MEL)(data["mel.wave"]).transpose(1, 2)
    assert maxdiff(mel, data["mel.mel"]) < 1e-4


# ------------------------------------------------------------------------------------------ front end
def _cases(meta) -> list[tuple[str, list[str], int]]:
    return list(zip(json.loads(meta["texts"]), json.loads(meta["symbols"]), range(10 ** 6)))


def test_token_ids_without_the_chinese_tools(golden, monkeypatch):
    """English (and every text without Chinese characters) is cut by our own code: rjieba is not needed."""
    data, meta = golden
    monkeypatch.setitem(sys.modules, "rjieba", None)
    monkeypatch.setitem(sys.modules, "pypinyin", None)
    front = F5TextFrontEnd(parse_vocab(meta["synthetic_vocab"]))
    checked = 0
    for text, symbols, row in _cases(meta):
        if needs_chinese_tools(text):
            with pytest.raises(Exception, match="rjieba and pypinyin"):
                front.encode(text)
            continue
        assert front.symbols(text) == symbols, text
        ids = data["tokens.synthetic_vocab"][row]
        assert front.encode(text) == ids[ids != -1].tolist()
        checked += 1
    assert checked == 15


def test_token_ids_of_chinese_with_the_chinese_tools(golden):
    pytest.importorskip("rjieba")
    pytest.importorskip("pypinyin")
    data, meta = golden
    front = F5TextFrontEnd(parse_vocab(meta["synthetic_vocab"]))
    texts = json.loads(meta["texts"])
    assert [front.symbols(t) for t in texts] == json.loads(meta["symbols"])
    assert torch.equal(front.batch(texts), data["tokens.synthetic_vocab"])


def test_token_ids_with_the_published_vocab(golden):
    """Run with F5_VOCAB=/path/to/F5TTS_v1_Base/vocab.txt (it is not ours to ship)."""
    path = os.environ.get("F5_VOCAB")
    if not path:
        pytest.skip("set F5_VOCAB to the published vocab.txt")
    pytest.importorskip("rjieba")
    data, meta = golden
    vocab = read_vocab(path)
    assert len(vocab) == int(meta["vocab_lines"]) == 2545
    assert torch.equal(F5TextFrontEnd(vocab).batch(json.loads(meta["texts"])), data["tokens.real_vocab"])


def test_duration_and_prompt_rules(golden):
    _, meta = golden
    front = F5TextFrontEnd(parse_vocab(meta["synthetic_vocab"]))
    for case in json.loads(meta["durations"]):
        ref_text = normalise_ref_text(case["ref_text"])
        assert total_frames(case["ref_samples"], ref_text, case["gen_text"], speed=case["speed"]) == case["duration"]
        if not needs_chinese_tools(ref_text) or importlib.util.find_spec("rjieba"):
            assert front.symbols(ref_text + case["gen_text"]) == case["text"][0]
        assert case["first_output_frame"] == case["ref_samples"] // 256   # the new speech starts at N // hop
    assert normalise_ref_text("Hello") == "Hello.  "
    assert normalise_ref_text("\u4f60\u597d\u3002") == "\u4f60\u597d\u3002"
    assert sampled_frames(10, text_symbols=40, prompt_frames=30) == 41

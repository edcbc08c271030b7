"""The F5-TTS and Vocos files as users keep them (tiny seeded F5 models, the full-size Vocos): what loads,
and the one clear error each wrong, cut or other-model file gets, naming the file and what was expected."""
from __future__ import annotations

import os

import pytest
import torch
from safetensors.torch import save_file

from helpers.f5_files import TINY, f5_public_shapes, f5_state, vocos_public_shapes, vocos_state, write_f5_files
from tavid_core.cli import main
from tavid_core.engines.convert import convert_original
from tavid_core.engines.neural.speech.f5 import keymap, loader
from tavid_core.engines.neural.speech.f5.config import F5_MEL, F5DiTConfig
from tavid_core.engines.neural.speech.f5.text import parse_vocab, read_vocab
from tavid_core.engines.neural.speech.mel import htk_filterbank
from tavid_core.errors import TavidError


def tiny_state(cfg: F5DiTConfig = TINY) -> dict[str, torch.Tensor]:
    return f5_state(f5_public_shapes(cfg), 7, 1.0, cfg)


def write(state, path) -> str:
    save_file(state, str(path))
    return str(path)


def expect(words: str, fn, *args, **kwargs) -> TavidError:
    with pytest.raises(TavidError) as caught:
        fn(*args, **kwargs)
    assert words in str(caught.value), str(caught.value)
    assert caught.value.where and caught.value.fix
    return caught.value


def test_a_tiny_file_loads_into_the_network_it_describes(tmp_path):
    net = loader.load_f5_dit(write(tiny_state(), tmp_path / "tiny.safetensors"), TINY)
    with torch.inference_mode():
        v = net(torch.randn(1, 12, 100), torch.zeros(1, 12, 100), torch.tensor([[1, 2, 3, -1]]), 0.5)
    assert v.shape == (1, 12, 100) and torch.isfinite(v).all() and v.abs().mean() > 0.01
    assert not any(p.requires_grad or p.is_meta for p in net.parameters())


def test_cut_files(tmp_path):
    path = write(tiny_state(), tmp_path / "cut.safetensors")
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) - 1000)
    err = expect("cut off inside its tensors", loader.load_f5_dit, path, TINY)
    assert err.where == "cut.safetensors"
    with open(path, "r+b") as f:
        f.truncate(20)
    expect("cut off inside its header", loader.load_f5_dit, path, TINY)


def test_missing_and_extra_tensors(tmp_path):
    state = tiny_state()
    del state[keymap.F5_PREFIX + "transformer_blocks.1.attn.to_v.weight"]
    expect("lacks 1 of the", loader.load_f5_dit, write(state, tmp_path / "a.safetensors"), TINY)
    state = tiny_state()
    state[keymap.F5_PREFIX + "long_skip_connection.weight"] = torch.zeros(64, 128)
    expect("has tensors F5-TTS v1 does not", loader.load_f5_dit, write(state, tmp_path / "b.safetensors"), TINY)
    state = tiny_state()
    del state[keymap.F5_PREFIX + "rotary_embed.inv_freq"]
    expect("lacks ema_model.transformer.rotary_embed.inv_freq", loader.load_f5_dit,
           write(state, tmp_path / "c.safetensors"), TINY)


def test_other_models(tmp_path):
    expect("64 wide with 2 blocks, not F5TTS_v1_Base", loader.load_f5_dit,
           write(tiny_state(), tmp_path / "t.safetensors"))
    other = F5DiTConfig(**{**TINY.__dict__, "vocab_size": 12})
    expect("text table has 10 symbols, the vocabulary 12", loader.load_f5_dit,
           write(tiny_state(), tmp_path / "v.safetensors"), other)
    e2 = {"ema_model.transformer.layers.0.1.g": torch.ones(64),
          "ema_model.transformer.text_embed.weight": torch.ones(3, 4), "initted": torch.tensor(True)}
    expect("E2-TTS", loader.load_f5_dit, write(e2, tmp_path / "e2.safetensors"), TINY)
    state = tiny_state()
    state["ema_model.mel_spec.mel_stft.mel_scale.fb"] = torch.zeros(513, 100)
    expect("before November 2024", loader.load_f5_dit, write(state, tmp_path / "old.safetensors"), TINY)
    (tmp_path / "F5TTS_Base").mkdir()
    err = expect("F5TTS_Base (v0)", loader.load_f5_dit,
                 write(tiny_state(), tmp_path / "F5TTS_Base" / "model_1200000.safetensors"), TINY)
    assert err.where == "F5TTS_Base/model_1200000.safetensors"
    plain = {k.replace("ema_model.", ""): v for k, v in tiny_state().items()}
    expect("training weights", loader.load_f5_dit, write(plain, tmp_path / "train.safetensors"), TINY)
    state = tiny_state()
    state[keymap.F5_PREFIX + "rotary_embed.inv_freq"] *= 0.5
    expect("rotary frequencies", loader.load_f5_dit, write(state, tmp_path / "rope.safetensors"), TINY)
    voc = {"backbone.convnext.0.gamma": torch.ones(4), "head.out.weight": torch.ones(1026, 4)}
    expect("is the Vocos vocoder, not the F5-TTS speech model", loader.load_f5_dit,
           write(voc, tmp_path / "voc.safetensors"), TINY)
    expect("is the F5-TTS speech model, not its vocoder", loader.load_vocos,
           write(tiny_state(), tmp_path / "f5.safetensors"))
    torch.save({"a": torch.ones(1)}, tmp_path / "model.pt")
    expect("only .safetensors", loader.load_f5_dit, str(tmp_path / "model.pt"), TINY)
    expect("no such checkpoint file", loader.load_f5_dit, str(tmp_path / "nothing.safetensors"), TINY)


@pytest.fixture(scope="module")
def vocos_tensors():
    return vocos_state(vocos_public_shapes(), 7, 1.0)


def test_vocos_variants(tmp_path, vocos_tensors):
    state = dict(vocos_tensors)
    expect("EnCodec", loader.load_vocos, write(state | {"feature_extractor.codebook_weights": torch.zeros(4, 128)},
                                                tmp_path / "enc.safetensors"))
    expect("HTK mel filterbank", loader.load_vocos,
           write(state | {"feature_extractor.mel_spec.mel_scale.fb": htk_filterbank(F5_MEL) * 0.9},
                 tmp_path / "fb.safetensors"))
    del state["backbone.convnext.7.gamma"]
    expect("lacks 1 of the", loader.load_vocos, write(state, tmp_path / "cut.safetensors"))
    expect("not a Vocos", loader.load_vocos, write({"x.weight": torch.ones(2)}, tmp_path / "x.safetensors"))


def test_tavid_convert_reads_the_ema_weights_of_a_training_checkpoint_and_checks_them(tmp_path, capsys):
    """A training checkpoint nests its EMA weights beside the optimiser's; they are what is checked (and
    written: the Vocos conversion in test_equivalence.py writes its file the same way)."""
    torch.save({"ema_model_state_dict": tiny_state(), "model_state_dict": {"transformer.x": torch.ones(1)},
                "step": 3}, tmp_path / "model_3.pt")
    assert main(["convert", str(tmp_path / "model_3.pt"), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "model_3.pt: is an F5-TTS model 64 wide with 2 blocks, not F5TTS_v1_Base" in err[0]
    assert not os.listdir(tmp_path / "out")


def test_tavid_convert_refuses_a_vocos_of_another_size(tmp_path, vocos_tensors):
    state = {k: v for k, v in vocos_tensors.items() if not k.startswith("backbone.convnext.7.")}
    torch.save(state, tmp_path / "pytorch_model.bin")
    expect("512 wide with 7 blocks, not mel-24khz", convert_original, str(tmp_path / "pytorch_model.bin"),
           str(tmp_path / "out"))
    assert not (tmp_path / "out").exists() or not os.listdir(tmp_path / "out")


def test_vocab_files(tmp_path):
    expect("is on lines 2 and 3", parse_vocab, " \na\na\n", "v.txt")
    expect("empty", parse_vocab, "", "v.txt")
    (tmp_path / "v.txt").write_bytes(b"\xff\xfe")
    expect("not UTF-8", read_vocab, str(tmp_path / "v.txt"))
    assert parse_vocab(" \na\nzhong1").symbols == (" ", "a", "zhong1")


def test_the_files_users_keep_load_as_engines(tmp_path):
    from tavid_core.engines.builtin import load_builtin_engines
    from tavid_core.engines.neural.speech.f5.side import load_f5_side
    speech, vocoder = write_f5_files(tmp_path)
    builtin = load_builtin_engines()
    side = load_f5_side([vocoder, speech], faces=builtin.speaker_mapper, prompt_voices=builtin.speech_model, cfg=TINY)
    assert [e.name for e in side.values()] == ["f5-text", "f5-tts", "f5-speaker-mapper"]
    os.remove(os.path.join(os.path.dirname(speech), "vocab.txt"))
    expect("no vocab.txt beside it", load_f5_side, [speech, vocoder], faces=builtin.speaker_mapper,
           prompt_voices=builtin.speech_model, cfg=TINY)
    err = expect("missing: the Vocos vocoder", load_f5_side, [speech], faces=builtin.speaker_mapper,
                 prompt_voices=builtin.speech_model, cfg=TINY)
    assert err.where == "F5TTS_v1_Base/model_1250000.safetensors"

"""LoRAs on the attention of TAVID networks (engines/neural/lora.py): files with stable names, merged with peft
into a copy of the model at a strength, chained, checked against the model, refused with clear errors, applied
by the LoRA Loader node, and trained with `tavid train speech --lora-rank`. The speech DiT is the real host; a
toy network with attention at other paths, behind a minimal LoraHost engine, shows the same code serves any.

The speech side is a tiny one trained for real (150 steps of `tavid train speech` on two clips of
`tavid demo-data`) with a random vocoder: the DiT's attention then matters (a fresh DiT's adaLN-Zero gates
are closed and no LoRA could change anything), and the speech is real output of NeuralSpeechGenerator."""
from __future__ import annotations

import asyncio
import copy
import importlib
import json
from dataclasses import dataclass, replace

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from helpers.reliability import clear_error
from tavid_core.checkpoints import CONFIG_KEY, inspect_checkpoint, write_checkpoint
from tavid_core.cli import main
from tavid_core.engines.neural.common.configs import SavedConfig
from tavid_core.engines.neural.common.layers import Attention
from tavid_core.engines.neural.lora.adapters import (LoraWeights, add_lora, apply_loras, apply_to_engines, lora_layers,
                                                     lora_metadata, lora_state, lora_targets, read_lora, save_lora)
from tavid_core.engines.neural.lora.host import LoraHost
from tavid_core.engines.neural.speech.config import SpeechSideConfig, speech_config
from tavid_core.engines.neural.speech.generator import NeuralSpeechGenerator
from tavid_core.engines.neural.speech.loader import (load_speech_networks, load_speech_side, speech_metadata,
                                                     speech_networks)
from tavid_core.errors import TavidError
from tavid_core.train.data.manifest import read_manifest
from tavid_core.train.tasks.speech import SpeechTask
from tavid_core.train.trainer import Trainer, TrainSettings

RANK = 4
STEPS = 8  # ODE steps per utterance: enough for real, seed-determined speech


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny networks: one thread is faster, and two threads on a busy 2-core machine spin against each other."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, one_thread):
    """Two demo clips, a tiny speech run on them, and a bundle of it with a random vocoder."""
    root = tmp_path_factory.mktemp("lora")
    data, speech = root / "data", root / "speech"
    assert main(["demo-data", "--out", str(data), "--clips", "1", "-q"]) == 0
    assert main(["train", "speech", "--config", "tiny", "--data", str(data / "manifest.jsonl"), "--steps", "150",
                 "--lr", "3e-3", "--warmup", "20", "--batch-size", "2", "--out", str(speech), "-q"]) == 0
    config, networks = load_speech_networks([str(speech / "speech.safetensors")])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(5)
        networks["vocoder"] = speech_networks(config)["vocoder"]
    bundle = root / "tiny.safetensors"
    write_checkpoint(str(bundle), {f"{b}.{k}": t for b, n in networks.items() for k, t in n.state_dict().items()},
                     {CONFIG_KEY: json.dumps(speech_metadata(config))})
    return {"root": root, "manifest": data / "manifest.jsonl", "speech": speech / "speech.safetensors",
            "bundle": bundle, "config": config}


# 100 steps: the flow loss of a 150-step base is mostly noise no network can predict, and 60 steps of LoRA
# moved its mean by under 1 % (not on every draw); 100 steps at rank 8 lower it on all 32 draws
LORA_RUN = ["--lora-rank", "8", "--lr", "1e-2", "--warmup", "5", "--batch-size", "2", "-q"]
LORA_STEPS = 100


@pytest.fixture(scope="module")
def lora_run(trained):
    """`tavid train speech --init <the speech run> --lora-rank 8` for 100 steps on the same two clips."""
    out = trained["root"] / "lora"
    assert main(["train", "speech", "--config", "tiny", "--data", str(trained["manifest"]), "--init",
                 str(trained["speech"]), "--steps", str(LORA_STEPS), "--out", str(out), *LORA_RUN]) == 0
    return out / "speech_lora.safetensors"


@pytest.fixture(scope="module")
def side(trained):
    return load_speech_side([str(trained["bundle"])])


@pytest.fixture(scope="module")
def inputs(side, runtime, short_dialogue, faces):
    """The short dialogue encoded by the neural text encoder, and the two portraits' neural voices."""
    mapper = side["speaker_mapper"]
    voices = tuple(mapper.map_face(faces[name], runtime=runtime) for name in ("grace_hopper", "astronaut"))
    return side["text_encoder"].encode(short_dialogue, runtime=runtime), voices


def speak(generator, inputs, runtime, seed: int = 11):
    text, voices = inputs
    return generator.generate(text, voices, runtime=runtime, seed=seed, steps=STEPS)


def random_lora(path, generator: NeuralSpeechGenerator, seed: int, rank: int = RANK, alpha: float | None = None,
                scale: float = 0.05):
    """A LoRA with random A and B (peft starts B at zero, which would change nothing) saved to `path`;
    returns the peft-patched DiT it was saved from (adapter active, not merged)."""
    dit = copy.deepcopy(generator.dit)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        add_lora(dit, rank, alpha)
        with torch.no_grad():
            for _, b in lora_layers(dit).values():
                b.weight.normal_(0.0, scale)
    save_lora(str(path), dit, generator.config, rank, alpha)
    return dit


def weights(dit) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in dit.state_dict().items()}


def velocity(dit, seed: int = 3) -> torch.Tensor:
    """The DiT's velocity on fixed random inputs (frames 40, two rows)."""
    g = torch.Generator().manual_seed(seed)
    cfg = dit.cfg
    x, cond = torch.randn(2, 40, dit.n_mels, generator=g), torch.randn(2, 40, dit.n_mels, generator=g)
    text, speaker = torch.randn(2, 12, cfg.text_dim, generator=g), torch.randn(2, cfg.speaker_dim, generator=g)
    with torch.no_grad():
        return dit(x, cond, text, speaker, torch.tensor([0.3, 0.8]))


def relative(a: np.ndarray, b: np.ndarray) -> float:
    n = min(a.shape[1], b.shape[1])
    return float(np.linalg.norm(a[:, :n] - b[:, :n]) / np.linalg.norm(b[:, :n]))


# ------------------------------------------------------------------------------------------------ files
def test_file_has_stable_names_and_reads_back(side, tmp_path):
    generator = side["speech_model"]
    path = tmp_path / "a.safetensors"
    dit = random_lora(path, generator, seed=1, alpha=8)
    info = inspect_checkpoint(str(path))
    modules = [f"blocks.{i}.attn.{p}" for i in range(2) for p in ("to_q", "to_k", "to_v", "to_out")]
    assert set(info.shapes) == {f"speech_model.{m}.lora_{x}.weight" for m in modules for x in "AB"}
    assert all(info.shapes[f"speech_model.{m}.lora_A.weight"] == (RANK, 64) for m in modules)
    assert all(info.shapes[f"speech_model.{m}.lora_B.weight"] == (64, RANK) for m in modules)
    assert info.config["lora"] == {"rank": RANK, "alpha": 8.0, "targets": ["to_q", "to_k", "to_v", "to_out"],
                                   "block": "speech_model"}
    assert SpeechSideConfig.from_dict(info.config["speech"]) == generator.config
    lora = read_lora(str(path))
    state = lora_state(dit)
    assert lora.rank == RANK and lora.alpha == 8.0 and set(lora.weights) == set(modules)
    for m, (a, b) in lora.weights.items():
        assert torch.equal(a, state[f"speech_model.{m}.lora_A.weight"])
        assert torch.equal(b, state[f"speech_model.{m}.lora_B.weight"])
        assert float(b.abs().mean()) > 0.01  # really random, not peft's zero start


def test_merged_copy_computes_what_the_peft_adapter_does(side, tmp_path):
    """Merging is only an optimisation: the merged copy's velocity is the unmerged peft model's, at any strength."""
    generator = side["speech_model"]
    path = tmp_path / "a.safetensors"
    adapted = random_lora(path, generator, seed=2, alpha=2)
    for strength in (1.0, 0.5, -2.0):
        for module in lora_layers(adapted):
            adapted.get_submodule(module).set_scale("tavid", strength)
        merged = apply_loras(generator, [(str(path), strength)]).dit
        expected = velocity(adapted)
        assert torch.allclose(velocity(merged), expected, atol=1e-5, rtol=1e-4)
        assert (velocity(merged) - velocity(generator.dit)).abs().mean() > 1e-3 * abs(strength)


# ------------------------------------------------------------------------------------------ generating
def test_strength_0_is_the_base_bit_for_bit_and_1_changes_the_speech(side, inputs, runtime, lora_run):
    generator = side["speech_model"]
    before = weights(generator.dit)
    base = speak(generator, inputs, runtime)
    zero = apply_loras(generator, [(str(lora_run), 0.0)])
    one = apply_loras(generator, [(str(lora_run), 1.0)])
    assert zero is not generator and zero.dit is not generator.dit and one.dit is not generator.dit
    at_zero, at_one = speak(zero, inputs, runtime), speak(one, inputs, runtime)
    assert np.array_equal(at_zero.tracks, base.tracks) and np.array_equal(at_zero.features, base.features)
    # with the trained LoRA at strength 1 and the same seed, the DiT's hidden features moved by 15 % and the
    # sound by 10 % (relative L2 over the whole dialogue)
    hidden = relative(at_one.features[:, :, 3:], base.features[:, :, 3:])
    sound = relative(at_one.tracks, base.tracks)
    assert hidden > 0.05 and sound > 0.03, (hidden, sound)
    # the engine that came in is untouched: same modules, same weights, same speech
    projections = [f"blocks.{i}.attn.{p}" for i in range(2) for p in ("to_q", "to_k", "to_v", "to_out")]
    assert all(type(g.dit.get_submodule(m)) is torch.nn.Linear for g in (generator, one) for m in projections)
    after = weights(generator.dit)
    assert after.keys() == before.keys() and all(torch.equal(after[k], before[k]) for k in before)
    assert not hasattr(generator, "applied") and generator.modules()[0] is generator.dit
    assert np.array_equal(speak(generator, inputs, runtime).tracks, base.tracks)
    assert one.loras == [(str(lora_run), 1.0)] and one.vocoder is generator.vocoder


def test_chained_loras_add_their_deltas(side, tmp_path):
    generator = side["speech_model"]
    first, second = tmp_path / "first.safetensors", tmp_path / "second.safetensors"
    random_lora(first, generator, seed=4, alpha=8)
    random_lora(second, generator, seed=5, rank=2)
    one = apply_loras(generator, [(str(first), 0.7)])
    one_before = weights(one.dit)
    chained = apply_loras(one, [(str(second), -1.3)])
    assert chained.loras == [(str(first), 0.7), (str(second), -1.3)]
    # weights: W + 0.7 * (8 / 4) B1 A1 - 1.3 * (2 / 2) B2 A2
    a, b = read_lora(str(first)).weights, read_lora(str(second)).weights
    base, patched = weights(generator.dit), weights(chained.dit)
    for module in a:
        delta = 0.7 * 2.0 * a[module][1] @ a[module][0] - 1.3 * 1.0 * b[module][1] @ b[module][0]
        key = f"{module}.weight"
        assert torch.allclose(patched[key] - base[key], delta, atol=1e-6)
        assert float(delta.abs().mean()) > 1e-3
    untouched = [k for k in base if not k.startswith(tuple(a))]
    assert untouched and all(torch.equal(patched[k], base[k]) for k in untouched)
    # a chain is one call with both, bit for bit, and leaves the generator in the middle as it was
    both = weights(apply_loras(generator, [(str(first), 0.7), (str(second), -1.3)]).dit)
    assert all(torch.equal(both[k], patched[k]) for k in patched)
    assert all(torch.equal(v, one_before[k]) for k, v in weights(one.dit).items())
    # outputs: the chain equals one LoRA holding both deltas (ranks stacked), to float tolerance
    stacked = {}
    for module in a:
        stacked[f"speech_model.{module}.lora_A.weight"] = torch.cat([a[module][0], b[module][0]])
        stacked[f"speech_model.{module}.lora_B.weight"] = torch.cat([0.7 * 2.0 * a[module][1],
                                                                    -1.3 * b[module][1]], dim=1)
    save_file(stacked, str(tmp_path / "stacked.safetensors"),
              {CONFIG_KEY: json.dumps(lora_metadata(generator.config, 6, 6))})
    single = apply_loras(generator, [(str(tmp_path / "stacked.safetensors"), 1.0)])
    assert torch.allclose(velocity(single.dit), velocity(chained.dit), atol=1e-5, rtol=1e-4)
    assert (velocity(chained.dit) - velocity(one.dit)).abs().mean() > 1e-3


def test_the_copy_shares_what_no_lora_changes_and_moves_on_its_own(side, tmp_path):
    """Memory: a patched copy owns only the weights its LoRAs change; the rest is the base's storage, under
    Parameters of its own, so moving (or casting) one model leaves the other where it was."""
    generator = side["speech_model"]
    random_lora(tmp_path / "a.safetensors", generator, seed=9)
    patched = apply_loras(generator, [(str(tmp_path / "a.safetensors"), 1.0)])
    base, copy_ = dict(generator.dit.named_parameters()), dict(patched.dit.named_parameters())
    assert base.keys() == copy_.keys()
    changed = {k for k in base if ".attn.to_" in k and k.endswith(".weight")}
    assert len(changed) == 8
    assert all((copy_[k].data_ptr() == base[k].data_ptr()) == (k not in changed) for k in base)
    assert all(copy_[k] is not base[k] for k in base)
    before = weights(generator.dit)
    patched.dit.to(torch.float64)
    assert all(p.dtype == torch.float32 for p in generator.dit.parameters())
    assert all(torch.equal(t, before[k]) for k, t in generator.dit.state_dict().items())


# ------------------------------------------------------------------------------------------------ errors
def test_loras_that_do_not_fit_are_refused_clearly(side, engines, tmp_path):
    generator = side["speech_model"]
    before = weights(generator.dit)
    tiny = speech_config("tiny")

    def other_model(name: str, **dit) -> str:
        config = replace(tiny, dit=replace(tiny.dit, **dit))
        other = NeuralSpeechGenerator(speech_networks(config)["speech_model"], generator.vocoder, config)
        random_lora(tmp_path / name, other, seed=6)
        return str(tmp_path / name)

    path = other_model("wide.safetensors", dim=32)
    clear_error(lambda: apply_loras(generator, [(path, 1.0)]),
                ("this lora was made for a speech model with dim 32, the connected one has 64", "--lora-rank"),
                "wide.safetensors")
    path = other_model("deep.safetensors", depth=3)
    clear_error(lambda: apply_loras(generator, [(path, 1.0)]),
                ("made for a speech model with 3 blocks, the connected one has 2", "blocks.2.attn"), "deep.safetensors")
    # a file whose tensors disagree with its own settings: the shape check says which
    good = read_lora(str(other_model("good.safetensors")))
    tensors = {f"speech_model.{m}.lora_{x}.weight": t for m, pair in good.weights.items() for x, t in zip("AB", pair)}
    tensors["speech_model.blocks.1.attn.to_v.lora_A.weight"] = torch.zeros(RANK, 48)
    save_file(tensors, str(tmp_path / "bent.safetensors"), {CONFIG_KEY: json.dumps(lora_metadata(tiny, RANK))})
    clear_error(lambda: apply_loras(generator, [(str(tmp_path / "bent.safetensors"), 1.0)]),
                ("speech_model.blocks.1.attn.to_v.lora_a.weight is [4, 48], "
                 "the connected speech model expects [4, 64]",),
                "bent.safetensors")
    # a LoRA of the face model, a full checkpoint, a LoRA with a stray tensor
    save_file({"face_model.blocks.0.attn.to_q.lora_A.weight": torch.zeros(RANK, 8)}, str(tmp_path / "face.safetensors"),
              {CONFIG_KEY: json.dumps({"lora": {"rank": RANK, "alpha": RANK, "block": "face_model"}})})
    clear_error(lambda: apply_loras(generator, [(str(tmp_path / "face.safetensors"), 1.0)]),
                ("holds weights of the face model, nothing for the speech model", "pick a lora made"),
                "face.safetensors")
    trained_file = str(tmp_path / "full.safetensors")
    save_file({f"speech_model.{k}": t.contiguous() for k, t in generator.dit.state_dict().items()}, trained_file,
              {CONFIG_KEY: json.dumps(speech_metadata(generator.config))})
    clear_error(lambda: apply_loras(generator, [(trained_file, 1.0)]), ("it is not a lora", "checkpoint loader"),
                "full.safetensors")
    tensors["speech_model.blocks.1.attn.to_v.lora_A.weight"] = torch.zeros(RANK, 64)
    save_file({**tensors, "speech_model.blocks.0.ff.net.0.weight": torch.zeros(2)},
              str(tmp_path / "stray.safetensors"), {CONFIG_KEY: json.dumps(lora_metadata(tiny, RANK))})
    clear_error(lambda: apply_loras(generator, [(str(tmp_path / "stray.safetensors"), 1.0)]),
                ("holds speech_model.blocks.0.ff.net.0.weight, which is not a lora weight",), "stray.safetensors")
    # a built-in speech engine has no DiT
    clear_error(lambda: apply_loras(engines.speech_model, [(str(tmp_path / "good.safetensors"), 1.0)]),
                ("is not a neural tavid speech model",), "speech_model")
    after = weights(generator.dit)
    assert all(torch.equal(after[k], before[k]) for k in before)


# -------------------------------------------------------------------------------------------------- node
@pytest.fixture()
def nodes(pack):
    extension = asyncio.run(pack.comfy_entrypoint())
    return {cls.define_schema().node_id: cls for cls in asyncio.run(extension.get_node_list())}


class NeuralFaceStandIn:
    """A neural face model (this version has none): all the loader asks of one is its family and name."""

    family = "neural"
    name = "neural face stand-in"


def test_lora_loader_node_patches_and_chains(nodes, models_dir, trained, side, tmp_path):
    (models_dir / "tavid" / "tiny.safetensors").write_bytes(trained["bundle"].read_bytes())
    for name, seed in (("a", 7), ("b", 8)):
        random_lora(models_dir / "tavid_loras" / f"{name}.safetensors", side["speech_model"], seed=seed)
    loader, lora = nodes["TAVIDCheckpointLoader"], nodes["TAVIDLoraLoader"]
    engines = loader.execute(ckpt_name="tiny.safetensors").args
    speech, face = engines[1], engines[4]
    before = weights(speech.dit)
    # the checkpoint's face model is built in: a speech LoRA passes it through
    face_out, patched = lora.execute(lora_name="a.safetensors", strength=1.0, face_model=face, speech_model=speech).args
    assert face_out is face and patched is not speech
    _, chained = lora.execute(lora_name="b.safetensors", strength=0.5, speech_model=patched).args
    assert [(p.rsplit("/", 1)[-1], s) for p, s in chained.loras] == [("a.safetensors", 1.0), ("b.safetensors", 0.5)]
    # the node's result is the library's, and nothing that came in was changed
    library = apply_loras(side["speech_model"], [(str(models_dir / "tavid_loras" / "a.safetensors"), 1.0),
                                                 (str(models_dir / "tavid_loras" / "b.safetensors"), 0.5)])
    assert all(torch.equal(t, library.dit.state_dict()[k]) for k, t in chained.dit.state_dict().items())
    assert all(torch.equal(t, before[k]) for k, t in speech.dit.state_dict().items())
    assert patched.loras == chained.loras[:1]
    assert lora.execute(lora_name="a.safetensors", strength=0.0, speech_model=speech).args == (None, speech)
    # a face LoRA for a neural face engine that takes none (the neural face model itself does: see engines/neural/face)
    save_file({"face_model.w.lora_A.weight": torch.zeros(2, 2)}, str(models_dir / "tavid_loras" / "face.safetensors"))
    clear_error(lambda: lora.execute(lora_name="face.safetensors", strength=1.0, face_model=NeuralFaceStandIn(),
                                     speech_model=speech), ("is not a neural tavid face model a lora could patch",),
                "TAVID LoRA Loader / face_model")
    clear_error(lambda: lora.execute(lora_name="face.safetensors", strength=1.0, face_model=face, speech_model=speech),
                ("the builtin-warp engine has no network a lora could patch",), "TAVID LoRA Loader / face_model")


# ---------------------------------------------------------------------------------------------- training
def flow_losses(task: SpeechTask, dit) -> np.ndarray:
    """The flow-matching loss of `dit` on all of the task's clips for 32 fixed draws of spans, noise and times
    (the same draws for every `dit`, so two networks are compared draw by draw)."""
    task.dit = dit
    batch = task.collate(task.dataset())
    with torch.no_grad():
        return np.array([task.loss(batch, step=10_000 + k)[0].item() for k in range(32)])


def test_lora_training_writes_a_lora_that_lowers_the_loss(trained, side, lora_run):
    info = inspect_checkpoint(str(lora_run))
    assert all(k.startswith("speech_model.blocks.") and k.endswith((".lora_A.weight", ".lora_B.weight"))
               for k in info.shapes) and len(info.shapes) == 16
    assert info.config["lora"]["rank"] == 8 and SpeechSideConfig.from_dict(info.config["speech"]) == trained["config"]
    assert json.loads(info.metadata["tavid_train"])["steps"] == LORA_STEPS
    # the flow loss on its own data: base, base + LoRA, and base - LoRA (the learned direction reversed)
    records = read_manifest(str(trained["manifest"]))
    _, networks = load_speech_networks([str(trained["speech"])])
    task = SpeechTask(trained["config"], records, start=networks, measure_pace=False)
    generator = side["speech_model"]
    base = flow_losses(task, generator.dit)
    tuned = flow_losses(task, apply_loras(generator, [(str(lora_run), 1.0)]).dit)
    reverse = flow_losses(task, apply_loras(generator, [(str(lora_run), -1.0)]).dit)
    # measured: 2.771 -> 2.690 (reversed: 2.950), lower on all 32 draws
    assert tuned.mean() < 0.98 * base.mean() < 0.98 * reverse.mean(), (base.mean(), tuned.mean(), reverse.mean())
    assert (tuned < base).sum() >= 28, (tuned < base).sum()


class CrashingAt(SpeechTask):
    """A LoRA run stopped by the user at step `crash` (the trainer keeps its last saved state)."""

    crash = -1

    def loss(self, batch, step):
        if step == self.crash:
            raise KeyboardInterrupt
        return super().loss(batch, step)


def test_a_stopped_lora_run_resumes_bit_for_bit(trained, tmp_path):
    records = read_manifest(str(trained["manifest"]))

    def task(crash: int = -1) -> SpeechTask:
        _, networks = load_speech_networks([str(trained["speech"])])
        made = CrashingAt(trained["config"], records, start=networks, lora_rank=8)
        made.crash = crash
        return made

    settings = TrainSettings(steps=20, batch_size=2, lr=1e-2, warmup=5, save_every=10)
    straight = Trainer(task(), settings, str(tmp_path / "a"), quiet=True).run()
    with pytest.raises(KeyboardInterrupt):
        Trainer(task(crash=15), settings, str(tmp_path / "b"), quiet=True).run()
    assert json.loads(inspect_checkpoint(str(tmp_path / "b" / "speech_lora.safetensors")).metadata["tavid_train"]
                      )["steps"] == 10
    resumed = task()
    with torch.no_grad():  # the saved state, not this fresh LoRA, must be what continues
        for a, b in lora_layers(resumed.dit).values():
            a.weight.zero_()
    resumed = Trainer(resumed, settings, str(tmp_path / "b"), quiet=True).run()
    assert resumed.steps_done == 20 and resumed.losses == straight.losses[10:]
    a, b = read_lora(straight.final_path).weights, read_lora(resumed.final_path).weights
    assert all(torch.equal(a[m][0], b[m][0]) and torch.equal(a[m][1], b[m][1]) for m in a)
    assert straight.final_path.endswith("speech_lora.safetensors")


def test_lora_training_needs_a_trained_speech_model(trained, tmp_path, capsys):
    base = ["train", "speech", "--config", "tiny", "--data", str(trained["manifest"]), "--steps", "2",
            "--lora-rank", "4", "--out", str(tmp_path / "x"), "-q"]
    assert main(base) == 2
    assert "--init: a LoRA is trained on top of a trained speech model" in capsys.readouterr().err
    assert main([*base[:-1], "--lora-rank", "0", "--init", str(trained["speech"]), "-q"]) == 2
    assert "--lora-rank: a LoRA's rank must be a whole number of at least 1, got 0" in capsys.readouterr().err
    vocoder = ["train", "vocoder", *base[2:]]
    assert main(vocoder) == 2
    assert "LoRAs are trained on the speech and face models only" in capsys.readouterr().err
    records = read_manifest(str(trained["manifest"]))
    _, networks = load_speech_networks([str(trained["speech"])])
    del networks["speaker_mapper"]
    with pytest.raises(TavidError, match="on top of a trained speech side; missing: speaker_mapper"):
        SpeechTask(trained["config"], records, start=networks, lora_rank=RANK)


def test_lora_weights_module_shares_the_dits_adapter(side):
    dit = copy.deepcopy(side["speech_model"].dit)
    params = add_lora(dit, 2)
    module = LoraWeights(dit)
    assert [id(p) for p in module.parameters()] == [id(p) for p in params] and all(p.requires_grad for p in params)
    assert not any(p.requires_grad for n, p in dit.named_parameters() if "lora_" not in n)
    assert sorted(module.state_dict()) == sorted(k[len("speech_model."):] for k in lora_state(dit))


# ------------------------------------------------------------------------------------ any host: a toy one
@dataclass(frozen=True)
class ToyConfig(SavedConfig):
    name: str = "toy"
    dim: int = 16
    up: bool = False      # one more attention unit, at up.0.spatial.attn


class Unit(nn.Module):
    """A pre-norm attention unit, as the face denoiser's spatial and temporal units are."""

    def __init__(self, dim: int, attention: type = Attention):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.attn = attention(dim, heads=2)

    def forward(self, x):
        return x + self.attn(self.norm(x))


class ToyNet(nn.Module):
    """Attention at down.0.spatial.attn and mid.temporal.attn (and up.0.spatial.attn), and a Linear named
    `to_q` outside any attention (`head.to_q`), which no LoRA may target."""

    def __init__(self, cfg: ToyConfig, attention: type = Attention):
        super().__init__()
        self.cfg = cfg
        self.down = nn.ModuleList([nn.Module()])
        self.down[0].spatial = Unit(cfg.dim, attention)
        self.mid = nn.Module()
        self.mid.temporal = Unit(cfg.dim, attention)
        if cfg.up:
            self.up = nn.ModuleList([nn.Module()])
            self.up[0].spatial = Unit(cfg.dim, attention)
        self.head = nn.Module()
        self.head.to_q = nn.Linear(cfg.dim, cfg.dim)

    def forward(self, x):
        h = self.mid.temporal(self.down[0].spatial(x))
        if self.cfg.up:
            h = self.up[0].spatial(h)
        return self.head.to_q(h)


class ToyFaceHost(LoraHost):
    """All an engine implements to take LoRAs (its block is the face model's)."""

    name, family, lora_block = "toy face", "neural", "face_model"

    def __init__(self, net: ToyNet):
        self.net = net.eval()

    def lora_network(self) -> nn.Module:
        return self.net

    def lora_model_config(self) -> dict:
        return self.net.cfg.to_dict()

    def check_lora_config(self, file_config: dict, where: str) -> None:
        made = ToyConfig.from_dict(file_config, where)
        if made.dim != self.net.cfg.dim:
            raise TavidError(f"this LoRA was made for a toy face model of dim {made.dim}, this one has "
                             f"{self.net.cfg.dim}", where=where)

    def with_network(self, network: nn.Module) -> "ToyFaceHost":
        return ToyFaceHost(network)

    def run(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.net(x)


TOY_TARGETS = [f"{unit}.attn.{p}" for unit in ("down.0.spatial", "mid.temporal") for p in ("to_q", "to_k", "to_v",
                                                                                             "to_out")]


def toy_host(seed: int = 0, attention: type = Attention, host: type = None, **config) -> ToyFaceHost:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return (host or ToyFaceHost)(ToyNet(ToyConfig(**config), attention))


def toy_inputs(seed: int = 1, dim: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(4, 6, dim, generator=g), torch.randn(4, 6, dim, generator=g)


def train_toy_lora(host: ToyFaceHost, path, seed: int, steps: int = 40, rank: int = 4) -> tuple[nn.Module, list]:
    """A LoRA trained with Adam towards random targets and saved as a face-model LoRA; returns the trained
    peft network (adapter active) and the losses."""
    x, target = toy_inputs(seed, host.net.cfg.dim)
    trained = copy.deepcopy(host.net)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        params = add_lora(trained, rank)
    optimizer = torch.optim.Adam(params, lr=2e-2)
    losses = []
    for _ in range(steps):
        loss = torch.nn.functional.mse_loss(trained(x), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    save_lora(str(path), trained, host.lora_model_config(), rank, block="face_model")
    return trained, losses


def test_a_lora_on_any_host_trains_saves_reads_and_applies(tmp_path):
    host = toy_host()
    assert lora_targets(host.net) == TOY_TARGETS  # found by structure; head.to_q is no attention's
    path = tmp_path / "toy.safetensors"
    trained, losses = train_toy_lora(host, path, seed=2)
    # measured: 1.34 -> 0.48 in 40 steps
    assert losses[-1] < 0.6 * losses[0], (losses[0], losses[-1])
    info = inspect_checkpoint(str(path))
    assert set(info.shapes) == {f"face_model.{m}.lora_{x}.weight" for m in TOY_TARGETS for x in "AB"}
    assert info.config == {"lora": {"rank": 4, "alpha": 4.0, "targets": ["to_q", "to_k", "to_v", "to_out"],
                                    "block": "face_model"}, "face": {"name": "toy", "dim": 16, "up": False}}
    lora = read_lora(str(path), "face_model")
    state = lora_state(trained, "face_model")
    assert lora.block == "face_model" and lora.model_config == host.lora_model_config()
    assert all(torch.equal(a, state[f"face_model.{m}.lora_A.weight"]) and
               torch.equal(b, state[f"face_model.{m}.lora_B.weight"]) for m, (a, b) in lora.weights.items())
    before = weights(host.net)
    x, _ = toy_inputs(9)
    base = host.run(x)
    zero, one = apply_loras(host, [(str(path), 0.0)]), apply_loras(host, [(str(path), 1.0)])
    assert isinstance(one, ToyFaceHost) and one.net is not host.net and zero.net is not host.net
    assert torch.equal(zero.run(x), base)
    with torch.no_grad():
        adapted = trained(x)
    # strength 1 is the trained adapter, merged (measured: 1e-6 apart); it moved the output by 0.55 on average
    assert torch.allclose(one.run(x), adapted, atol=1e-5, rtol=1e-4)
    assert (one.run(x) - base).abs().mean() > 0.2
    # the host is untouched; the copy's projections are plain Linear layers again
    after = weights(host.net)
    assert after.keys() == before.keys() and all(torch.equal(after[k], before[k]) for k in before)
    assert all(type(h.net.get_submodule(m)) is nn.Linear for h in (host, one) for m in TOY_TARGETS)
    assert torch.equal(host.run(x), base) and host.loras == [] and host.lora_description() == {}
    assert one.loras == [(str(path), 1.0)] and one.lora_description() == {"loras": [("toy.safetensors", 1.0)]}
    assert one.lora_base() is host.net


def test_loras_chain_on_any_host_as_one_call(tmp_path):
    host = toy_host()
    first, second = tmp_path / "first.safetensors", tmp_path / "second.safetensors"
    train_toy_lora(host, first, seed=3, steps=10)
    train_toy_lora(host, second, seed=4, steps=10, rank=2)
    one = apply_loras(host, [(str(first), 0.7)])
    chained = apply_loras(one, [(str(second), -1.5)])
    both = apply_loras(host, [(str(first), 0.7), (str(second), -1.5)])
    assert chained.loras == both.loras == [(str(first), 0.7), (str(second), -1.5)]
    assert chained.lora_base() is host.net
    patched, together = weights(chained.net), weights(both.net)
    assert all(torch.equal(patched[k], together[k]) for k in together)
    a, b = read_lora(str(first), "face_model").weights, read_lora(str(second), "face_model").weights
    base = weights(host.net)
    for module in TOY_TARGETS:
        delta = 0.7 * a[module][1] @ a[module][0] - 1.5 * b[module][1] @ b[module][0]
        key = f"{module}.weight"
        assert torch.allclose(patched[key] - base[key], delta, atol=1e-6) and float(delta.abs().mean()) > 1e-3
    x, _ = toy_inputs(9)
    assert (chained.run(x) - one.run(x)).abs().mean() > 1e-3


def test_any_host_refuses_loras_that_are_not_its_own(tmp_path):
    host = toy_host()
    before = weights(host.net)
    # a real speech-model LoRA (a tiny DiT's)
    dit = speech_networks(speech_config("tiny"))["speech_model"]
    add_lora(dit, 2)
    save_lora(str(tmp_path / "speech.safetensors"), dit, speech_config("tiny"), 2)
    clear_error(lambda: apply_loras(host, [(str(tmp_path / "speech.safetensors"), 1.0)]),
                ("holds weights of the speech model, nothing for the face model",), "speech.safetensors")
    # made for another size: the host's own check
    train_toy_lora(toy_host(dim=32), tmp_path / "wide.safetensors", seed=5, steps=1)
    clear_error(lambda: apply_loras(host, [(str(tmp_path / "wide.safetensors"), 1.0)]),
                ("made for a toy face model of dim 32, this one has 16",), "wide.safetensors")
    # the same size, but an attention unit this network lacks: the structural check
    train_toy_lora(toy_host(up=True), tmp_path / "up.safetensors", seed=6, steps=1)
    clear_error(lambda: apply_loras(host, [(str(tmp_path / "up.safetensors"), 1.0)]),
                ("adapts up.0.spatial.attn.to_k, which is not an attention projection of the connected face model",),
                "up.safetensors")
    # a projection-like name outside any attention
    good = read_lora(str(tmp_path / "wide.safetensors"), "face_model")
    tensors = {"face_model.head.to_q.lora_A.weight": torch.zeros(4, 16),
               "face_model.head.to_q.lora_B.weight": torch.zeros(16, 4)}
    save_file(tensors, str(tmp_path / "head.safetensors"), {CONFIG_KEY: json.dumps(good.info.config | {
        "face": host.lora_model_config()})})
    clear_error(lambda: apply_loras(host, [(str(tmp_path / "head.safetensors"), 1.0)]),
                ("adapts head.to_q, which is not an attention projection",), "head.safetensors")
    # a strength that is no number, and an engine that is no host
    train_toy_lora(host, tmp_path / "ok.safetensors", seed=7, steps=1)
    clear_error(lambda: apply_loras(host, [(str(tmp_path / "ok.safetensors"), float("nan"))]),
                ("the strength nan is not a finite number",), "strength")
    clear_error(lambda: apply_loras(NeuralFaceStandIn(), [(str(tmp_path / "ok.safetensors"), 1.0)]),
                ("the neural face stand-in engine is not a neural tavid model",), "model")
    after = weights(host.net)
    assert all(torch.equal(after[k], before[k]) for k in before)


def test_an_engine_set_takes_each_lora_on_the_model_it_is_for(side, engines, tmp_path):
    """What `tavid generate --engines ... --lora` does: a speech LoRA and a face LoRA in one list."""
    face, speech = toy_host(), side["speech_model"]
    train_toy_lora(face, tmp_path / "face.safetensors", seed=8, steps=5)
    random_lora(tmp_path / "speech.safetensors", speech, seed=9)
    given = replace(engines, speech_model=speech, face_model=face)
    patched = apply_to_engines(given, [(str(tmp_path / "face.safetensors"), 0.5),
                                       (str(tmp_path / "speech.safetensors"), 1.0)])
    assert patched.face_model.loras == [(str(tmp_path / "face.safetensors"), 0.5)]
    assert patched.speech_model.loras == [(str(tmp_path / "speech.safetensors"), 1.0)]
    alone = apply_loras(face, [(str(tmp_path / "face.safetensors"), 0.5)])
    assert all(torch.equal(t, weights(alone.net)[k]) for k, t in weights(patched.face_model.net).items())
    assert all(getattr(patched, b) is getattr(given, b) for b in ("text_encoder", "speaker_mapper", "motion_mapper"))
    assert patched.speech_model.vocoder is speech.vocoder and given.speech_model is speech
    assert patched.speech_model.describe()["loras"] == [("speech.safetensors", 1.0)]
    clear_error(lambda: apply_to_engines(engines, [(str(tmp_path / "speech.safetensors"), 1.0)]),
                ("is not a neural tavid speech model",), "speech_model")


def pack_toy_host(pack) -> ToyFaceHost:
    """The toy host as the node knows engines: a network of the pack's own Attention behind the pack's own
    LoraHost (the tests import the repository twice, as tavid_core and as the ComfyUI package)."""
    neural = f"{pack.__name__}.tavid_core.engines.neural"
    host = type("PackToyFaceHost", (ToyFaceHost, importlib.import_module(f"{neural}.lora.host").LoraHost), {})
    return toy_host(attention=importlib.import_module(f"{neural}.common.layers").Attention, host=host)


def test_lora_loader_node_patches_whichever_model_the_lora_is_for(nodes, pack, models_dir, side):
    face, speech = pack_toy_host(pack), side["speech_model"]
    path = models_dir / "tavid_loras" / "toy.safetensors"
    train_toy_lora(toy_host(), path, seed=10, steps=5)  # on the same network, of this import
    lora = nodes["TAVIDLoraLoader"]
    patched_face, same_speech = lora.execute(lora_name="toy.safetensors", strength=0.5, face_model=face,
                                             speech_model=speech).args
    assert same_speech is speech and patched_face is not face and patched_face.loras == [(str(path), 0.5)]
    library = apply_loras(toy_host(), [(str(path), 0.5)])
    assert all(torch.equal(t, weights(toy_host().net)[k]) for k, t in weights(face.net).items())
    assert all(torch.equal(t, weights(library.net)[k]) for k, t in weights(patched_face.net).items())
    clear_error(lambda: lora.execute(lora_name="toy.safetensors", strength=0.5, speech_model=speech),
                ("holds weights of the face model, nothing for the speech model",), "toy.safetensors")

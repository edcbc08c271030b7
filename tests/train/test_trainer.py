"""The shared trainer on a small real task: a ConvNeXt that predicts the next log-mel frame of real
speech (the two built-in neural voices, from make_tiny_dataset), conditioned on a frozen speaker
embedding, optionally with a critic. Asserts learning, exact resume, EMA arithmetic, the learning
rate schedule, atomic files, settings errors and a real two-process torchrun run on gloo."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import wave

import numpy as np
import pytest
import safetensors.torch
import torch

from helpers.paths import ROOT
from helpers.toy_training import AHEAD, NextFrameTask, settings
from tavid_core.checkpoints import inspect_checkpoint, read_header
from tavid_core.errors import TavidError
from tavid_core.train.data.clips import load_clip_audio
from tavid_core.train.data.manifest import read_manifest
from tavid_core.train.data.synth import make_tiny_dataset
from tavid_core.train.ema import ema_decay_at
from tavid_core.train.trainer import Trainer, TrainSettings, lr_factor, resolve_precision


def block_weights(path: str, block: str) -> dict[str, torch.Tensor]:
    return {k[len(block) + 1:]: v for k, v in safetensors.torch.load_file(path).items() if k.startswith(block + ".")}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    return make_tiny_dataset(str(tmp_path_factory.mktemp("tiny")), clips_per_speaker=4, seed=0)


# ------------------------------------------------------------------------------------------ data set
def test_tiny_dataset_is_real_speech_and_deterministic(manifest, tmp_path):
    records = read_manifest(manifest, need_face=True)
    assert [r.speaker for r in records] == ["joe"] * 4 + ["heart"] * 4
    for record in records:
        with wave.open(record.audio) as f:
            assert (f.getframerate(), f.getsampwidth(), f.getnchannels()) == (24000, 2, 1)
            seconds = f.getnframes() / 24000
        assert 1.0 <= seconds <= 2.5, (record.text, seconds)
        audio = load_clip_audio(record, 24000)
        assert 0.05 < np.sqrt(np.mean(audio ** 2)) < 0.5  # levelled speech, not silence
    lines = [json.loads(t) for t in open(manifest)]
    assert all(not os.path.isabs(line["audio"]) and not os.path.isabs(line["face"]) for line in lines)
    joe, heart = (np.asarray(load_clip_audio(records[i], 24000)) for i in (0, 4))
    # the two voices differ in pitch: heart's spectrum sits higher than joe's
    centroid = [np.sum(np.abs(np.fft.rfft(a)) * np.fft.rfftfreq(len(a), 1 / 24000)) / np.sum(np.abs(np.fft.rfft(a)))
                for a in (joe, heart)]
    assert centroid[1] > centroid[0]
    # same seed, same bytes (the first clip of a speaker does not depend on how many follow)
    again = make_tiny_dataset(str(tmp_path), clips_per_speaker=1, seed=0)
    root, root2 = os.path.dirname(manifest), os.path.dirname(again)
    for name in ("clips/joe_00.wav", "faces/joe.png", "faces/heart.png"):
        assert open(os.path.join(root, name), "rb").read() == open(os.path.join(root2, name), "rb").read()


# ---------------------------------------------------------------------------------------- settings
@pytest.mark.parametrize("bad, flag", [
    ({"steps": 0}, "--steps"), ({"precision": "fp8"}, "--precision"), ({"batch_size": 0}, "--batch-size"),
    ({"lr": -1.0}, "--lr"), ({"ema_decay": 1.0}, "--ema-decay"), ({"betas": (0.9,)}, "--betas"),
    ({"warmup": -1}, "--warmup"), ({"device": "warp9"}, "--device"), ({"steps": 2.5}, "--steps"),
])
def test_bad_settings_name_the_flag(bad, flag):
    with pytest.raises(TavidError) as e:
        TrainSettings(**({"steps": 10} | bad))
    assert e.value.where == flag


def test_fp16_on_cpu_is_refused():
    with pytest.raises(TavidError) as e:
        resolve_precision("fp16", torch.device("cpu"))
    assert e.value.where == "--precision"
    assert resolve_precision("auto", torch.device("cpu")) == "fp32"


def test_learning_rate_warms_up_then_decays_to_a_tenth():
    assert lr_factor(0, 10, 100) == pytest.approx(0.1)
    assert lr_factor(4, 10, 100) == pytest.approx(0.5)
    assert lr_factor(9, 10, 100) == pytest.approx(1.0)
    assert lr_factor(10, 10, 100) == pytest.approx(1.0)
    assert lr_factor(10 + 89 / 2, 10, 100) == pytest.approx(0.55)  # halfway down the cosine
    assert lr_factor(99, 10, 100) == pytest.approx(0.1)
    assert lr_factor(0, 0, 1) == pytest.approx(1.0)


# ---------------------------------------------------------------------------------------- training
def test_training_learns_and_writes_a_checkpoint(manifest, tmp_path):
    task = NextFrameTask(manifest)
    before = task.eval_mse()
    frozen = task.speakers.weight.detach().clone()
    result = Trainer(task, settings(steps=60, lr=1e-2, ema_decay=0.99), str(tmp_path), quiet=True).run()
    losses = result.losses
    assert result.steps_done == 60 and len(losses) == 60
    assert np.mean(losses[-10:]) < np.mean(losses[:3]) / 3, (losses[:3], losses[-10:])

    assert sorted(os.listdir(tmp_path)) == ["log.jsonl", "next-frame.safetensors", "resume.safetensors"]
    info = inspect_checkpoint(result.final_path)
    expected = {f"vocoder.{k}" for k in task.net.state_dict()} | {"speaker_mapper.weight"}
    assert set(info.shapes) == expected and info.other == 0
    assert info.blocks == {"vocoder": len(task.net.state_dict()), "speaker_mapper": 1}
    assert info.config == task.config()
    assert json.loads(info.metadata["tavid_train"])["steps"] == 60
    assert set(info.metadata) == {"tavid_config", "tavid_train"}
    # the frozen embedding was used, not trained, and is saved as it was
    assert not task.speakers.weight.requires_grad and not task.speakers.training
    assert torch.equal(block_weights(result.final_path, "speaker_mapper")["weight"], frozen)
    # the saved (averaged) weights predict real speech far better than the initial ones
    after = task.eval_mse(block_weights(result.final_path, "vocoder"))
    assert after < before / 3, (before, after)
    # ... and better than each bin's mean: the network reads the frames before the one it predicts
    target = torch.stack([mel for mel, _ in task.items])[:, AHEAD:]
    assert after < 0.6 * float(((target - target.mean(dim=(0, 1))) ** 2).mean())

    log = [json.loads(t) for t in open(tmp_path / "log.jsonl")]
    assert [line["step"] for line in log] == list(range(5, 61, 5))
    assert {"loss", "mse", "lr", "grad_norm"} <= set(log[0])
    assert log[0]["loss"] == losses[4]


def test_ema_is_the_hand_computed_average(manifest, tmp_path):
    task = NextFrameTask(manifest)
    result = Trainer(task, settings(steps=2, lr=1e-2, warmup=1), str(tmp_path), quiet=True).run()
    p0, p1 = task.snapshots
    p2 = {k: v.detach() for k, v in task.net.state_dict().items()}
    saved = block_weights(result.final_path, "vocoder")
    d1, d2 = 2 / 11, 3 / 12  # the warmed-up decay min(0.999, (1 + n) / (10 + n)) after n = 1 and 2 updates
    assert (ema_decay_at(1, 0.999), ema_decay_at(2, 0.999)) == pytest.approx((d1, d2))
    for key in p0:
        by_hand = d2 * (d1 * p0[key] + (1 - d1) * p1[key]) + (1 - d2) * p2[key]
        torch.testing.assert_close(saved[key], by_hand, rtol=1e-5, atol=1e-7)
    moved = max(float((saved[k] - p2[k]).abs().max()) for k in p0)
    assert moved > 1e-3  # the average lags the raw weights


def _all_tensors(path):
    return safetensors.torch.load_file(path)


def test_resume_is_bit_identical(manifest, tmp_path):
    steps = dict(steps=12, log_every=1, save_every=7)
    straight = Trainer(NextFrameTask(manifest, critic=True), settings(**steps), str(tmp_path / "a"), quiet=True).run()

    crashing = NextFrameTask(manifest, critic=True, fail_at=9)
    with pytest.raises(KeyboardInterrupt):
        Trainer(crashing, settings(**steps), str(tmp_path / "b"), quiet=True).run()
    assert json.loads(read_header(str(tmp_path / "b" / "next-frame.safetensors"))["__metadata__"]["tavid_train"]
                      )["steps"] == 7
    # a fresh process would build its networks from another random state: the file must override it
    resumed = Trainer(NextFrameTask(manifest, critic=True, init_seed=5), settings(**steps), str(tmp_path / "b"),
                      quiet=True).run()

    assert resumed.steps_done == 12 and len(resumed.losses) == 5
    assert resumed.losses == straight.losses[7:]
    a, b = (_all_tensors(str(tmp_path / run / "resume.safetensors")) for run in ("a", "b"))
    assert set(a) == set(b)
    assert any(k.startswith("optim.critic.") for k in a) and any(k.startswith("ema.") for k in a)
    for key in a:
        assert torch.equal(a[key], b[key]), key
    ca, cb = _all_tensors(straight.final_path), _all_tensors(resumed.final_path)
    assert all(torch.equal(ca[k], cb[k]) for k in ca)
    assert [json.loads(t)["step"] for t in open(tmp_path / "b" / "log.jsonl")] == list(range(1, 13))


def test_resume_of_another_configuration_is_refused(manifest, tmp_path):
    Trainer(NextFrameTask(manifest, width=32), settings(steps=2), str(tmp_path), quiet=True).run()
    with pytest.raises(TavidError) as e:
        Trainer(NextFrameTask(manifest, width=16), settings(steps=4), str(tmp_path), quiet=True).run()
    assert e.value.where == "resume.safetensors"
    assert "does not fit" in e.value.message and "vocoder.proj_in.weight is [32, 100]" in e.value.message
    assert "Delete resume.safetensors" in e.value.fix
    # starting over is allowed
    assert Trainer(NextFrameTask(manifest, width=16), settings(steps=2), str(tmp_path), quiet=True
                   ).run(resume=False).steps_done == 2


def test_a_failed_save_leaves_only_complete_files(manifest, tmp_path, monkeypatch):
    real = safetensors.torch.save_file
    calls = []

    def failing(tensors, filename, metadata=None):
        calls.append(filename)
        if len(calls) <= 2:  # the step-3 training state and checkpoint go through
            return real(tensors, filename, metadata=metadata)
        with open(filename, "wb") as f:  # half a file, then the disk is full
            f.write(b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(safetensors.torch, "save_file", failing)
    with pytest.raises(TavidError) as e:
        Trainer(NextFrameTask(manifest), settings(steps=6, save_every=3), str(tmp_path), quiet=True).run()
    assert "No space left" in str(e.value)
    assert all(os.path.basename(c).startswith(".") for c in calls)  # always a temporary name first
    assert sorted(os.listdir(tmp_path)) == ["log.jsonl", "next-frame.safetensors", "resume.safetensors"]
    info = inspect_checkpoint(str(tmp_path / "next-frame.safetensors"))
    assert json.loads(info.metadata["tavid_train"])["steps"] == 3
    monkeypatch.setattr(safetensors.torch, "save_file", real)
    result = Trainer(NextFrameTask(manifest), settings(steps=6, save_every=3), str(tmp_path), quiet=True).run()
    assert result.steps_done == 6 and len(result.losses) == 3


def test_loader_workers_give_the_same_batches(manifest, tmp_path):
    plain = Trainer(NextFrameTask(manifest), settings(steps=8), str(tmp_path / "a"), quiet=True).run()
    workers = Trainer(NextFrameTask(manifest), settings(steps=8, num_workers=2), str(tmp_path / "b"), quiet=True).run()
    assert workers.losses == plain.losses


# ------------------------------------------------------------------------------------------ torchrun
TORCHRUN_SCRIPT = """
import json, os, sys
import torch
sys.path.insert(0, sys.argv[3])
from helpers.toy_training import NextFrameTask, settings
from tavid_core.train.trainer import Trainer
task = NextFrameTask(sys.argv[1], init_seed=int(os.environ["RANK"]))  # different starts: rank 0's must win
result = Trainer(task, settings(steps=4, batch_size=4, log_every=1), sys.argv[2], quiet=True).run()
checksum = float(sum(p.detach().double().sum() for p in task.net.parameters()))
# one file per rank: two processes printing to one pipe can interleave their lines
with open(os.path.join(sys.argv[4], f"rank{os.environ['RANK']}.json"), "w") as f:
    json.dump({"rank": int(os.environ["RANK"]), "checksum": checksum, "seen": task.seen, "losses": result.losses}, f)
"""


def test_torchrun_two_processes_on_gloo(manifest, tmp_path):
    script = tmp_path / "train_ddp.py"
    script.write_text(TORCHRUN_SCRIPT)
    out = tmp_path / "run"
    env = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    reports = tmp_path / "reports"
    reports.mkdir()
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           str(script), manifest, str(out), str(ROOT / "tests"), str(reports)],
                          capture_output=True, text=True, timeout=180, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    results = [json.loads((reports / f"rank{rank}.json").read_text()) for rank in (0, 1)]
    assert [r["rank"] for r in results] == [0, 1]
    assert results[0]["checksum"] == results[1]["checksum"]  # averaged gradients keep the copies identical
    assert not set(results[0]["seen"][:8]) & set(results[1]["seen"][:8])  # each rank its own share
    assert results[0]["losses"] != results[1]["losses"]
    assert sorted(os.listdir(out)) == ["log.jsonl", "next-frame.safetensors", "resume.safetensors"]
    info = inspect_checkpoint(str(out / "next-frame.safetensors"))
    assert json.loads(info.metadata["tavid_train"])["world_size"] == 2
    assert len(open(out / "log.jsonl").read().splitlines()) == 4

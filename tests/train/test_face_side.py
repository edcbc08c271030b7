"""`tavid train motion` and `tavid train vae` on the shared trainer, over a real dyadic clip: two people
spoken by the built-in voices, moved by the built-in motion mapper, rendered to two videos
(synth_dyadic), then cut into 64-px face crops, dlib landmarks and fitted Motion labels (face_data).
Asserts learning in numbers, the checkpoints' blocks and configurations, exact resume and the CLI."""
from __future__ import annotations

import json
import os
from dataclasses import replace

import numpy as np
import pytest
import safetensors.torch
import torch
from safetensors import safe_open

from tavid_core.cli import main
from tavid_core.engines.neural.face.net import FaceModelNet
from tavid_core.engines.neural.face.vae import FaceVAE, FaceVAEConfig, psnr, vae_config
from tavid_core.engines.neural.motion.config import MotionMapperConfig, motion_config
from tavid_core.engines.neural.motion.net import MotionMapperNet
from tavid_core.engines.neural.motion.training import motion_losses, random_batch
from tavid_core.train.data.face_data import prepare_manifest
from tavid_core.train.data.synth_dyadic import make_dyadic_clip
from tavid_core.train.tasks.motion import MotionTask, window_batch
from tavid_core.train.tasks.vae import VaeTask, to_images
from tavid_core.train.trainer import Trainer, TrainSettings

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SIZE = 64
MOTION = motion_config("tiny")
VAE = vae_config("tiny")
MOTION_STEPS, SAVE_EVERY, CRASH_AT = 150, 80, 100


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A 4-second dyadic clip (128-px videos, 100 frames a person) and its manifest."""
    root = tmp_path_factory.mktemp("dyadic")
    return {"root": root, "manifest": make_dyadic_clip(str(root / "clip"), size=128, seconds=4.0)}


@pytest.fixture(scope="module")
def vae_run(data):
    """`tavid train vae`: 100 steps of 4 frames on the clip's 64-px crops, preparing them into DIR/cache."""
    out = data["root"] / "vae"
    assert main(["train", "vae", "--config", "tiny", "--data", data["manifest"], "--size", str(SIZE), "--steps", "100",
                 "--batch-size", "4", "--lr", "3e-3", "--warmup", "10", "--out", str(out), "-q"]) == 0
    return out


@pytest.fixture(scope="module")
def clips(data, vae_run):
    """The prepared clip, read back from the VAE run's cache."""
    return prepare_manifest(data["manifest"], size=SIZE, fps=25.0, cache_dir=str(vae_run / "cache"))


def saved(path) -> tuple[dict[str, torch.Tensor], dict]:
    with safe_open(str(path), framework="pt") as f:
        config = json.loads(f.metadata()["tavid_config"])
    return safetensors.torch.load_file(str(path)), config


def unprefixed(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    assert all(k.startswith(prefix) for k in tensors), sorted(tensors)[:3]
    return {k[len(prefix):]: v for k, v in tensors.items()}


# ------------------------------------------------------------------------------------------------ vae
def test_vae_run_raises_psnr_and_measures_the_latent_scale(vae_run, clips):
    """Measured: the crops' reconstruction PSNR goes from 9.7 dB (the same seed's untrained VAE) to 17.7 dB
    with the saved (EMA) weights, the logged L1 from 0.38 to 0.17; the saved scaling factor (0.65, measured
    on the live weights) gives the saved weights latents of std 1.01."""
    assert sorted(os.listdir(vae_run)) == ["cache", "log.jsonl", "resume.safetensors", "vae.safetensors"]
    assert len(os.listdir(vae_run / "cache")) == 1   # the one clip, prepared once
    frames = to_images(np.concatenate([person.frames for person in clips[0].people]))
    assert frames.shape == (200, 3, SIZE, SIZE)
    fixed = frames[::10]

    tensors, config = saved(vae_run / "vae.safetensors")
    loaded = FaceVAEConfig.from_dict(config["face_vae"])
    assert loaded == replace(VAE, scaling_factor=loaded.scaling_factor) and loaded.scaling_factor != VAE.scaling_factor
    trained = FaceModelNet(vae=FaceVAE(loaded))
    trained.load_state_dict(unprefixed(tensors, "face_model."))   # strict: only and all of the VAE's tensors
    untrained = VaeTask(VAE, clips, seed=0).vae
    with torch.no_grad():
        before = psnr(untrained.decode(untrained.encode(fixed)), fixed)
        after = psnr(trained.vae.decode(trained.vae.encode(fixed)), fixed)
        spread = float(trained.vae.encode(frames).std())
    assert before < 12.0 and after > before + 5.0, (before, after)
    assert 0.9 < spread < 1.1, spread

    log = [json.loads(line) for line in (vae_run / "log.jsonl").read_text().splitlines()]
    assert log[-1]["step"] == 100 and log[-1]["recon_l1"] < 0.5 * log[0]["recon_l1"]


def test_vae_task_measures_the_scale_with_the_current_weights(clips):
    task = VaeTask(VAE, clips, seed=0)
    assert len(task.dataset()) == 200 and len(task.scale_items) == 64
    first = task.config()["face_vae"]["scaling_factor"]
    assert task.config()["face_vae"]["scaling_factor"] == first   # no randomness in the measurement
    with torch.no_grad():
        for p in (task.vae.encoder.conv_out.weight, task.vae.encoder.conv_out.bias):
            p[:VAE.latent_channels].mul_(2.0)   # posterior means twice as spread: half the factor
    assert task.config()["face_vae"]["scaling_factor"] == pytest.approx(first / 2, rel=0.02)
    batch = task.collate([0, 150])
    assert torch.equal(batch["images"][1], to_images(clips[0].people[1].frames[50:51])[0])


# --------------------------------------------------------------------------------------------- motion
class Stop(Exception):
    pass


class CrashingMotionTask(MotionTask):
    """The real task, stopped by an error at CRASH_AT (after the state saved at SAVE_EVERY)."""

    def loss(self, batch, step):
        if step == CRASH_AT:
            raise Stop
        return super().loss(batch, step)


def motion_run(clips, out, task_type=MotionTask):
    settings = TrainSettings(steps=MOTION_STEPS, batch_size=4, lr=2e-3, warmup=10, log_every=1, save_every=SAVE_EVERY)
    return Trainer(task_type(MOTION, clips, seed=0), settings, str(out), quiet=True).run()


def fixed_flow_loss(net: MotionMapperNet, examples) -> float:
    """The flow loss of one fixed batch, noise and times (only the network changes)."""
    batch = random_batch(examples, 8, MOTION.window_frames, torch.Generator().manual_seed(5))
    with torch.no_grad():
        losses = motion_losses(net.eval(), batch, torch.Generator().manual_seed(9), times=torch.linspace(0.05, 0.95, 8),
                               p_prompt=0.0, p_drop=0.0)
    return float(losses["flow"])


def test_windows_follow_the_data_order(clips):
    task = MotionTask(MOTION, clips, seed=0)
    assert [e[3] for e in task.examples] == [0, 1] and task.index == [0, 1]   # 100 frames: one window a person
    batch = window_batch([task.examples[1], task.examples[0], task.examples[1]], 40, torch.Generator().manual_seed(0))
    assert batch.role.tolist() == [1, 0, 1] and bool(batch.mask.all())
    for row, e in zip(range(3), (1, 0, 1)):
        motion = torch.from_numpy(task.examples[e][0])
        assert any(torch.equal(motion[s:s + 40], batch.motion[row]) for s in range(len(motion) - 39))


def test_motion_learns_saves_and_resumes_exactly(clips, tmp_path):
    """Measured: the flow loss averages 1.36 over the first 20 steps and 0.47 over the last 20; on one fixed
    batch of windows, noise and times the saved weights score 0.43 against the untrained network's 1.81."""
    straight = motion_run(clips, tmp_path / "a")
    assert straight.final_path == str(tmp_path / "a" / "motion.safetensors")
    flow = [json.loads(line)["flow"] for line in (tmp_path / "a" / "log.jsonl").read_text().splitlines()]
    assert len(flow) == MOTION_STEPS
    first, last = np.mean(flow[:20]), np.mean(flow[-20:])
    assert last < 0.5 * first, (first, last)

    tensors, config = saved(straight.final_path)
    assert config == {"motion": MOTION.to_dict()} and MotionMapperConfig.from_dict(config["motion"]) == MOTION
    net = MotionMapperNet(MotionMapperConfig.from_dict(config["motion"]))
    net.load_state_dict(unprefixed(tensors, "motion_mapper."))   # strict
    assert all(torch.equal(net.state_dict()[k], v) for k, v in unprefixed(tensors, "motion_mapper.").items())
    examples = MotionTask(MOTION, clips, seed=0).examples
    untrained, trained = fixed_flow_loss(MotionTask(MOTION, clips, seed=0).net, examples), fixed_flow_loss(net, examples)
    assert trained < 0.5 * untrained, (untrained, trained)

    # stopped after the save at SAVE_EVERY and run again: the same losses and the same weights, bit for bit
    with pytest.raises(Stop):
        motion_run(clips, tmp_path / "b", CrashingMotionTask)
    rest = motion_run(clips, tmp_path / "b")
    assert rest.steps_done == MOTION_STEPS and rest.losses == straight.losses[SAVE_EVERY:]
    resumed, _ = saved(rest.final_path)
    assert resumed.keys() == tensors.keys() and all(torch.equal(resumed[k], tensors[k]) for k in tensors)


# ------------------------------------------------------------------------------------------------ CLI
def test_cli_trains_motion_from_the_cache_and_continues(data, vae_run, tmp_path):
    cache = vae_run / "cache"
    common = ["train", "motion", "--config", "tiny", "--data", data["manifest"], "--size", str(SIZE), "--cache",
              str(cache), "--batch-size", "2", "--out", str(tmp_path), "-q"]
    assert main([*common, "--steps", "20"]) == 0
    assert main([*common, "--steps", "30"]) == 0   # continues from step 20
    log = [json.loads(line)["step"] for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert log == [10, 20, 30]
    assert len(os.listdir(cache)) == 1 and not (tmp_path / "cache").exists()
    _, config = saved(tmp_path / "motion.safetensors")
    assert MotionMapperConfig.from_dict(config["motion"]) == MOTION


@pytest.mark.parametrize("task, args, message", [
    ("vae", ["--size", "60"], "--size: the autoencoder needs frames whose size is a multiple of 8, got 60"),
    ("motion", ["--init", "x.safetensors"], "--init: tavid train motion starts from new networks"),
    ("vae", ["--lora-rank", "4"], "--lora-rank: LoRAs are trained on the speech and face models only, not with tavid train vae"),
    ("motion", ["--data", "{dir}/bad.jsonl"], "bad.jsonl line 2: not valid JSON"),
    ("vae", ["--data", "{dir}/missing.jsonl"], "missing.jsonl line 1: the video_b file 'nobody.mp4' does not exist"),
])
def test_bad_settings_and_manifests_are_named(data, tmp_path, capsys, task, args, message):
    clip = os.path.dirname(data["manifest"])
    with open(data["manifest"]) as f:
        good = json.loads(f.read())
    absolute = {key: os.path.join(clip, name) for key, name in good.items()}   # the manifests lie elsewhere
    (tmp_path / "bad.jsonl").write_text(json.dumps(absolute) + "\n{oops\n")
    (tmp_path / "missing.jsonl").write_text(json.dumps(absolute | {"video_b": "nobody.mp4"}) + "\n")
    argv = ["train", task, "--config", "tiny", "--data", data["manifest"], "--steps", "1", "--out", str(tmp_path / "o"),
            "-q"] + [a.format(dir=tmp_path) for a in args]
    assert main(argv) == 2
    assert message.format(dir=tmp_path) in capsys.readouterr().err
    assert not (tmp_path / "o" / "cache").exists()

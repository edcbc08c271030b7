"""Shared fixtures. Everything here is real: wheel-shipped voices, dlib, real portraits, real files.

ComfyUI is not on PyPI, so when `comfy_api` cannot be imported the stand-in in tests/support provides
its declarative surface and the nodes run on the standalone runtime.
"""
from __future__ import annotations

import importlib.util
import os
import sys

import pytest

pytest.register_assert_rewrite("helpers")  # their asserts explain themselves like the tests' own

from helpers.paths import ROOT  # noqa: E402 - after the rewrite hook
from helpers.scripts import SHORT_SCRIPT  # noqa: E402

if importlib.util.find_spec("comfy_api") is None:
    sys.path.insert(0, str(ROOT / "tests" / "support"))

@pytest.fixture(scope="session")
def runtime():
    from tavid_core.runtime import StandaloneRuntime
    return StandaloneRuntime(device="cpu", quiet=True)


@pytest.fixture(scope="session")
def engines():
    from tavid_core.engines.builtin import load_builtin_engines
    return load_builtin_engines()


@pytest.fixture(scope="session")
def faces():
    from tavid_core.examples import sample_portrait
    return {"grace_hopper": sample_portrait("grace_hopper"), "astronaut": sample_portrait("astronaut")}


@pytest.fixture(scope="session")
def cat_image():
    from skimage import data
    return data.chelsea()


@pytest.fixture(scope="session")
def short_dialogue():
    from tavid_core.dialogue import parse_script
    return parse_script(SHORT_SCRIPT)


@pytest.fixture(scope="session")
def voices(engines, runtime, faces):
    mapper = engines.speaker_mapper
    return (mapper.map_face(faces["grace_hopper"], runtime=runtime), mapper.map_face(faces["astronaut"], runtime=runtime))


@pytest.fixture(scope="session")
def short_speech(engines, runtime, short_dialogue, voices):
    text = engines.text_encoder.encode(short_dialogue, runtime=runtime)
    return engines.speech_model.generate(text, voices, runtime=runtime, seed=7)


@pytest.fixture(scope="session")
def short_motion(engines, runtime, short_speech):
    return engines.motion_mapper.map(short_speech, runtime=runtime, fps=25.0, seed=3)


@pytest.fixture(scope="session")
def pack():
    """The repository imported as the ComfyUI package it is (name 'comfyui_tavid')."""
    from helpers.pack import load_pack
    return load_pack()


@pytest.fixture()
def models_dir(tmp_path, monkeypatch):
    """A models folder for the nodes outside ComfyUI ($TAVID_MODELS_DIR/tavid, .../tavid_loras, .../liveportrait,
    .../f5_tts)."""
    for key in ("tavid", "tavid_loras", "liveportrait", "f5_tts"):
        (tmp_path / key).mkdir()
    monkeypatch.setenv("TAVID_MODELS_DIR", str(tmp_path))
    return tmp_path


os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture(scope="module")
def one_torch_thread():
    """For modules of tiny networks: one torch thread is fastest, and two spin against each other on a
    busy 2-core machine (a 150-step training run took 120 s instead of 10 s)."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_speech(tmp_path_factory):
    """A tiny neural speech side trained for real with `tavid train` on two clips of `tavid demo-data` (about a
    minute on one CPU core): the runs' folders, the bundle and the losses each run logged."""
    import json

    import torch

    from tavid_core.cli import main
    root = tmp_path_factory.mktemp("tiny_speech")
    data, runs = root / "data", root / "runs"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny networks: a second thread only adds contention
    try:
        assert main(["demo-data", "--out", str(data), "--clips", "1", "-q"]) == 0  # one sentence each of joe and heart
        common = ["--config", "tiny", "--data", str(data / "manifest.jsonl"), "--warmup", "20", "--batch-size", "4",
                  "-q"]
        # long enough to overfit its two sentences: the flow loss falls from about 30 to 1
        assert main(["train", "speech", "--steps", "1500", "--lr", "3e-3", "--out", str(runs / "speech"),
                     *common]) == 0
        common += ["--lr", "2e-3"]
        assert main(["train", "vocoder", "--steps", "150", "--adversarial-from", "100",
                     "--out", str(runs / "vocoder"), *common]) == 0
        assert main(["train", "speaker-mapper", "--steps", "60", "--init", str(runs / "speech" / "speech.safetensors"),
                     "--out", str(runs / "mapper"), *common]) == 0
        bundle = root / "tiny_speech.safetensors"
        assert main(["bundle", str(bundle), str(runs / "speech" / "speech.safetensors"),
                     str(runs / "vocoder" / "vocoder.safetensors"),
                     str(runs / "mapper" / "speaker_mapper.safetensors")]) == 0
    finally:
        torch.set_num_threads(threads)

    def losses(run: str) -> list[dict]:
        return [json.loads(line) for line in (runs / run / "log.jsonl").read_text().splitlines()]

    return {"root": root, "data": data, "runs": runs, "bundle": bundle, "losses": losses}


@pytest.fixture(scope="session")
def tiny_face(tmp_path_factory):
    """A tiny neural face side trained for real with `tavid train` on one 3-second dyadic clip made by the
    built-in engines (synth_dyadic, 64-px crops): vae, then face on it, then motion (under a minute on one
    core). The clip's manifest, the runs' folders, the cache of prepared crops and a bundle of face + motion."""
    import torch

    from tavid_core.cli import main
    from tavid_core.train.data.synth_dyadic import make_dyadic_clip
    root = tmp_path_factory.mktemp("tiny_face")
    runs, cache = root / "runs", root / "cache"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        manifest = make_dyadic_clip(str(root / "clip"), size=128, seconds=3.0)
        common = ["--config", "tiny", "--data", manifest, "--size", "64", "--cache", str(cache), "--warmup", "10", "-q"]
        assert main(["train", "vae", "--steps", "200", "--batch-size", "4", "--lr", "3e-3", "--out", str(runs / "vae"),
                     *common]) == 0
        assert main(["train", "face", "--steps", "200", "--batch-size", "2", "--lr", "1e-3", "--out",
                     str(runs / "face"), "--init", str(runs / "vae" / "vae.safetensors"), *common]) == 0
        assert main(["train", "motion", "--steps", "60", "--batch-size", "4", "--lr", "2e-3", "--out",
                     str(runs / "motion"), *common]) == 0
        bundle = root / "tiny_face.safetensors"
        assert main(["bundle", str(bundle), str(runs / "face" / "face.safetensors"),
                     str(runs / "motion" / "motion.safetensors")]) == 0
    finally:
        torch.set_num_threads(threads)
    return {"root": root, "manifest": manifest, "runs": runs, "cache": cache, "bundle": bundle, "size": 64}


@pytest.fixture(scope="session")
def liveportrait_weights(tmp_path_factory):
    """The five public LivePortrait files at full size, with the seeded weights of the equivalence goldens
    (written once per session: 520 MB)."""
    from helpers.liveportrait import write_seeded_weights
    return write_seeded_weights(tmp_path_factory.mktemp("liveportrait"))


@pytest.fixture(scope="session")
def liveportrait_networks(liveportrait_weights):
    """Those files loaded through our loader (CPU, fp32)."""
    from tavid_core.engines.neural.face.liveportrait.loader import load_liveportrait
    return load_liveportrait(liveportrait_weights)

"""`tavid bench face` and `tavid bench motion` at the tiny configuration on the CPU: the figures agree with
each other and with the networks they time, the defaults follow the configuration, the bench speech
has the shape the motion mapper reads, and every bad flag is named in the error."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tavid_core.bench.face import bench_face, format_face_bench, nod
from tavid_core.bench.motion import bench_motion, bench_speech_input, format_motion_bench
from tavid_core.cli import main
from tavid_core.engines.neural.common.layers import parameter_count
from tavid_core.engines.neural.face.denoiser import FaceDenoiser, face_config
from tavid_core.engines.neural.face.vae import FaceVAE, vae_config
from tavid_core.engines.neural.motion.config import HAS_HIDDEN, SPEAKING, motion_config
from tavid_core.engines.neural.motion.features import speech_inputs
from tavid_core.engines.neural.motion.net import MotionMapperNet
from tavid_core.errors import TavidError

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def face_result():
    return bench_face("tiny", "cpu", steps=4, size=64, frames=12)


@pytest.fixture(scope="module")
def motion_result():
    return bench_motion("tiny", "cpu", steps=4, seconds=5.0)


def test_face_bench_figures_agree_with_each_other_and_the_networks(face_result):
    r = face_result
    assert (r["size"], r["frames"], r["steps"], r["device"], r["dtype"]) == (64, 12, 4, "cpu", "float32")
    assert r["wall_s"] > 0 and r["frames_per_s"] > 0 and r["peak_rss_mb"] > 0
    assert r["frames_per_s"] == pytest.approx(r["frames"] / r["wall_s"], rel=1e-3)
    assert r["s_per_frame"] == pytest.approx(r["wall_s"] / r["frames"], rel=1e-3)
    assert r["parameters"] == {"denoiser": parameter_count(FaceDenoiser(face_config("tiny"))),
                               "vae": parameter_count(FaceVAE(vae_config("tiny")))}
    assert r["parameters_total"] == sum(r["parameters"].values()) > 500_000
    # tiny windows are 8 frames with 2 of overlap: 12 frames need two, so the join is timed
    assert (r["window"], r["overlap"], r["windows"]) == (8, 2, 2)
    # cfg 2 guides identity and motion (3 passes); "auto" is reported as what it resolved to
    assert r["guidance_passes"] == 3 and r["cfg"] == 2.0
    assert (r["sampler"], r["scheduler"]) == ("dpmpp_2m", "karras")
    assert "peak_gpu_mb" not in r and r["torch_threads"] == 1   # the one_torch_thread fixture's


def test_face_bench_without_guidance_runs_one_pass_with_the_sampler_asked_for():
    r = bench_face("tiny", "cpu", steps=2, size=64, frames=6, cfg=0.0, sampler="euler")
    assert r["guidance_passes"] == 1 and r["sampler"] == "euler" and r["windows"] == 1
    assert r["frames_per_s"] == pytest.approx(6 / r["wall_s"], rel=1e-3)


def test_motion_bench_figures_agree_with_each_other_and_the_network(motion_result):
    r = motion_result
    assert (r["steps"], r["seconds"], r["fps"]) == (4, 5.0, 25.0)
    assert r["frames"] == 2 * 125        # both people, 5 s at 25 fps
    assert r["windows_per_person"] == 2  # windows of 80 frames, 16 of overlap
    assert r["wall_s"] > 0 and r["peak_rss_mb"] > 0
    assert r["frames_per_s"] == pytest.approx(r["frames"] / r["wall_s"], rel=1e-3)
    assert r["rtf"] == pytest.approx(r["wall_s"] / 5.0, rel=1e-3, abs=1e-5)
    assert r["parameters"] == {"motion_mapper": parameter_count(MotionMapperNet(motion_config("tiny")))}
    assert r["parameters_total"] == r["parameters"]["motion_mapper"]


def test_the_formatters_print_the_figures(face_result, motion_result):
    face = format_face_bench(face_result)
    assert "tiny on cpu" in face and "64 px, 12 frames in 2 windows" in face and "3 denoiser passes" in face
    assert f"{face_result['frames_per_s']:.3f} frames/s per face" in face and "(torch threads: 1, CPUs:" in face
    motion = format_motion_bench(motion_result)
    assert "250 frames at 25 fps" in motion and f"real-time factor {motion_result['rtf']:.4f}" in motion


def test_the_bench_speech_is_what_the_motion_mapper_reads():
    cfg = motion_config("tiny")
    speech = bench_speech_input(9.0, cfg.hidden_dim)
    assert speech.duration_s == pytest.approx(9.0) and speech.features.shape[2] == 3 + cfg.hidden_dim
    # turns alternate: A 0-4 s, B 4.4-8.4 s, A from 8.8 s
    assert [(s.speaker, s.start_s) for s in speech.timeline] == [(0, 0.0), (1, 4.4), (0, 8.8)]
    inputs = speech_inputs(speech, cfg)
    a_speaks = inputs[0, :, SPEAKING] == 1
    assert a_speaks[:100].all() and not a_speaks[112:218].any()
    # the hidden features are recognised, and a person's features are zero while they are quiet
    assert (inputs[:, :, HAS_HIDDEN] == 1).all()
    assert np.abs(inputs[0, 115:215, 5:]).max() == 0
    assert np.abs(inputs[0, 10:90, 5:]).mean() > 0.1
    assert bench_speech_input(9.0, 8).features.tobytes() == bench_speech_input(9.0, 8).features.tobytes()


def test_nod_moves_every_frame():
    motion = nod(12)
    assert motion.num_frames == 12 and np.all(np.diff(motion.channel("jaw_open")) != 0)


def test_the_cli_prints_json_with_the_configuration_defaults(capsys):
    assert main(["bench", "face", "--config", "tiny", "--device", "cpu", "--steps", "2", "--json"]) == 0
    face = json.loads(capsys.readouterr().out)
    # defaults: the tiny configuration's training size, and two windows' worth of frames (8 + 8 - 2)
    assert (face["target"], face["size"], face["frames"], face["windows"], face["steps"]) == ("face", 64, 14, 2, 2)
    assert face["frames_per_s"] == pytest.approx(14 / face["wall_s"], rel=1e-3)
    assert main(["bench", "motion", "--config", "tiny", "--device", "cpu", "--seconds", "4", "--json"]) == 0
    motion = json.loads(capsys.readouterr().out)
    assert (motion["target"], motion["steps"], motion["frames"]) == ("motion", 16, 200)


@pytest.mark.parametrize("kwargs,flag,words", [
    (dict(size=72), "--size", "64 or 80"),
    (dict(size=32), "--size", "between 64"),
    (dict(steps=0), "--steps", "between 1"),
    (dict(frames=0), "--frames", "between 1"),
    (dict(cfg=-1.0), "--cfg", "at least 0"),
    (dict(sampler="nope"), "--sampler", "unknown sampler"),
    (dict(config="huge"), "--config", "unknown configuration"),
    (dict(device="tpu9"), "--device", "unknown device"),
])
def test_a_bad_face_flag_is_named(kwargs, flag, words):
    settings = dict(config="tiny", device="cpu", steps=2, size=64, frames=4) | kwargs
    with pytest.raises(TavidError) as error:
        bench_face(**settings)
    assert error.value.where == flag and words in str(error.value)


@pytest.mark.parametrize("kwargs,flag", [(dict(steps=0), "--steps"), (dict(seconds=0.0), "--seconds"),
                                         (dict(config="huge"), "--config")])
def test_a_bad_motion_flag_is_named(kwargs, flag):
    with pytest.raises(TavidError) as error:
        bench_motion(**(dict(config="tiny", device="cpu", steps=2, seconds=2.0) | kwargs))
    assert error.value.where == flag


def test_the_cli_reports_a_bad_size_in_one_line(capsys):
    assert main(["bench", "face", "--config", "tiny", "--device", "cpu", "--size", "72"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("tavid: error: --size:") and "multiples of 16" in err and "\n" not in err

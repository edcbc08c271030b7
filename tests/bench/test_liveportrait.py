"""`tavid bench face --engine liveportrait` on the tiny configuration (the published one takes 18 s a frame on a
CPU core): the figures agree with each other and with the networks they time, and a bad flag is named."""
from __future__ import annotations

import pytest
import torch

from tavid_core.bench.liveportrait import bench_liveportrait, format_liveportrait_bench, timed_networks
from tavid_core.cli import main
from tavid_core.engines.neural.face.liveportrait.config import tiny_config

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_the_figures_agree_with_each_other(capsys):
    r = bench_liveportrait("cpu", size=96, frames=3, batch=2, config=tiny_config())
    assert (r["frames"], r["batch"], r["render_size"], r["device"], r["dtype"]) == (4, 2, 128, "cpu", "float32")
    assert r["frames_per_s"] == pytest.approx(r["frames"] / r["wall_s"], rel=1e-3)
    assert r["parameters_total"] == sum(r["parameters"].values()) == 1_475_304
    frame = r["per_frame_ms"]
    assert frame["warping"] > frame["stitching"] > 0 and frame["generator"] > 0
    assert sum(frame.values()) == pytest.approx(r["s_per_frame"] * 1000, rel=0.05)
    assert r["prepare_ms"]["appearance"] > 0 and r["prepare_ms"]["motion"] > 0 and r["peak_rss_mb"] > 0
    text = format_liveportrait_bench(r)
    assert "4 frames in batches of 2" in text and "frames/s per face" in text and "per frame: warping" in text


def test_each_network_call_is_timed():
    net = torch.nn.Linear(4, 4)
    with timed_networks({"linear": net}, torch.device("cpu")) as spent:
        for _ in range(3):
            net(torch.zeros(1, 4))
    net(torch.zeros(1, 4))   # after the block: no longer timed
    assert spent["linear"][1] == 3 and spent["linear"][0] > 0 and not net._forward_hooks


def test_a_bad_batch_is_named(capsys):
    assert main(["bench", "face", "--engine", "liveportrait", "--device", "cpu", "--batch", "0"]) == 2
    assert "--batch: frames per batch must be between 1 and 256, got 0" in capsys.readouterr().err

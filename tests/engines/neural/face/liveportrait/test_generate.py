"""`tavid generate --engines <LivePortrait folder>`: the five public files (the seeded weights, full size) render
both faces, the other blocks built in; a folder with a file missing or only .pth originals is one line."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from tavid_core.cli import main
from tavid_core.engines.neural.face.liveportrait.files import NAMES
from tavid_core.engines.neural.face.liveportrait.landmarks import face_landmarks
from tavid_core.engines.shared.portrait import square_portrait
from tavid_core.examples import sample_portrait
from tavid_core.media.video import read_video

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SHORTEST = "A: Oh.\nB: Ah.\n"   # 1.4 s at twice the voices' rate: one frame per face at 1 fps (18 s per frame on a core)


def test_a_liveportrait_folder_renders_both_faces(tmp_path, liveportrait_weights):
    (tmp_path / "s.txt").write_text(SHORTEST, encoding="utf-8")
    out = tmp_path / "lp.mp4"
    assert main(["generate", "--engines", str(liveportrait_weights), "--script", str(tmp_path / "s.txt"), "--fps", "1",
                 "--speed-a", "2", "--speed-b", "2", "--size", "128", "--mirror", "never", "--device", "cpu",
                 "-o", str(out), "-q"]) == 0
    frames, fps, _, _ = read_video(str(out))
    report = json.loads((tmp_path / "lp.json").read_text())
    assert frames.shape == (1, 128, 256, 3) and report["frames"] == 1
    assert report["engines"]["face_model"]["name"] == "liveportrait"
    assert report["engines"]["motion_mapper"]["family"] == "builtin"
    # seeded weights draw noise inside the pasted crop; the corners below it are the photo's (H.264 aside)
    for half, sample in zip((frames[0, :, :128], frames[0, :, 128:]), ("grace_hopper", "astronaut")):
        photo = sample_portrait(sample)
        portrait = square_portrait(photo, face_landmarks(photo).points, 128)[0].astype(int)
        corner, middle = (slice(118, 128), slice(0, 6)), (slice(40, 80), slice(40, 80))
        assert np.abs(half[corner].astype(int) - portrait[corner]).mean() < 12
        assert np.abs(half[middle].astype(int) - portrait[middle]).mean() > 30


def test_a_folder_missing_a_file_is_one_line(tmp_path, capsys, liveportrait_weights):
    for name in NAMES[:-1]:
        os.symlink(liveportrait_weights / name, tmp_path / name)
    assert main(["generate", "--engines", str(tmp_path), "-o", str(tmp_path / "x.mp4"), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"tavid: error: {NAMES[-1]}: not found in {tmp_path}.")
    assert not (tmp_path / "x.mp4").exists()


def test_a_folder_of_originals_says_to_convert_them(tmp_path, capsys):
    (tmp_path / "spade_generator.pth").write_bytes(b"\x80\x02")
    assert main(["generate", "--engines", str(tmp_path), "-o", str(tmp_path / "x.mp4"), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "holds no .safetensors checkpoints" in err[0]
    assert f"Convert its PyTorch originals (spade_generator.pth) first: tavid convert <files> -o {tmp_path}" in err[0]

"""`tavid convert` on LivePortrait's .pth originals (written here with torch.save from the seeded weights, laid
out as KwaiVGI publishes them): each becomes the public safetensors file, tensor for tensor, which the loader
takes; a damaged original is one line naming it."""
from __future__ import annotations

import os

import torch
from safetensors.torch import load_file

from helpers.liveportrait import seeded_files
from tavid_core.cli import main
from tavid_core.engines.neural.face.liveportrait.files import NAMES
from tavid_core.engines.neural.face.liveportrait.loader import load_liveportrait


def originals(folder):
    """The three smallest originals (appearance, stitching, and the motion extractor saved from DataParallel);
    the stitching file as three state dicts with DataParallel's 'module.' prefix."""
    files = seeded_files()
    appearance = files["appearance_feature_extractor.safetensors"]
    stitching = files["stitching_retargeting_module.safetensors"]
    nested = {group: {k[len(group) + 1:]: v for k, v in stitching.items() if k.startswith(group + "_module.")}
              for group in ("retarget_shoulder", "retarget_mouth", "retarget_eye")}
    assert all(k.startswith("module.mlp.") for d in nested.values() for k in d) and sum(map(len, nested.values())) == 28
    paths = {"appearance_feature_extractor.pth": appearance, "stitching_retargeting_module.pth": nested,
             "motion_extractor.pth": {"module." + k: v for k, v in files["motion_extractor.safetensors"].items()}}
    for name, held in paths.items():
        torch.save(held, folder / name)
    return files, [str(folder / n) for n in paths]


def test_originals_become_the_public_files(tmp_path, capsys, liveportrait_weights):
    files, paths = originals(tmp_path)
    out = tmp_path / "liveportrait"
    assert main(["convert", *paths, "-o", str(out)]) == 0
    written = capsys.readouterr().out.split()
    assert sorted(os.path.basename(p) for p in written) == sorted(
        ["appearance_feature_extractor.safetensors", "stitching_retargeting_module.safetensors",
         "motion_extractor.safetensors"])
    for path in written:
        got, want = load_file(path), files[os.path.basename(path)]
        assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in want)
    for name in set(NAMES) - {os.path.basename(p) for p in written}:
        os.symlink(liveportrait_weights / name, out / name)
    nets = load_liveportrait(out)
    assert sum(p.numel() for p in nets.stitching.parameters()) == 45_249


def test_a_damaged_original_is_named_in_one_line(tmp_path, capsys):
    appearance = dict(seeded_files()["appearance_feature_extractor.safetensors"])
    del appearance["second.weight"]
    torch.save(appearance, tmp_path / "my_appearance.pth")
    assert main(["convert", str(tmp_path / "my_appearance.pth"), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("tavid: error: my_appearance.pth: read as LivePortrait's "
                                               "appearance_feature_extractor.safetensors: it is not")
    assert "1 of its 92 tensors are missing: second.weight" in err[0]
    assert not (tmp_path / "out" / "appearance_feature_extractor.safetensors").exists()

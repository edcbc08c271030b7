"""The LivePortrait loader: every wrong, missing, cut or foreign file is one TavidError naming the file, found
from the header before any weight is read; what the public files may differ in (fp16, no batch-norm counters)
loads."""
from __future__ import annotations

import os

import pytest
import torch
from safetensors.torch import save_file

from helpers.liveportrait import seeded_files
from tavid_core.engines.neural.face.liveportrait.files import NAMES, SAFETENSORS_REPO
from tavid_core.engines.neural.face.liveportrait.loader import load_liveportrait
from tavid_core.errors import TavidError


def folder_with(folder, weights, **replacements):
    """A folder of links to the good files, some replaced: name -> None (absent), bytes, a tensor dict or a path."""
    folder.mkdir(exist_ok=True)
    for name in NAMES:
        target, rep = folder / name, replacements.get(name, "keep")
        if rep is None:
            continue
        if isinstance(rep, str) and rep == "keep":
            os.symlink(weights / name, target)
        elif isinstance(rep, dict):
            save_file(rep, str(target))
        elif isinstance(rep, bytes):
            target.write_bytes(rep)
        else:
            os.symlink(rep, target)
    return folder


def refused(folder, name: str) -> TavidError:
    with pytest.raises(TavidError) as caught:
        load_liveportrait(folder)
    err = caught.value
    assert err.where == name and err.message and err.fix
    return err


def test_missing_files_are_named_in_one_error(tmp_path, liveportrait_weights):
    folder = folder_with(tmp_path / "lp", liveportrait_weights, **{"warping_module.safetensors": None,
                                                                  "spade_generator.safetensors": None})
    err = refused(folder, "warping_module.safetensors")
    assert err.message == f"not found in {folder} (also missing: spade_generator.safetensors)"
    assert SAFETENSORS_REPO in err.fix and "tavid convert" in err.fix


@pytest.mark.parametrize("keep", [0.5, 100, 4])
def test_a_cut_file_says_so(tmp_path, liveportrait_weights, keep):
    data = (liveportrait_weights / "appearance_feature_extractor.safetensors").read_bytes()
    cut = data[:int(len(data) * keep)] if keep < 1 else data[:keep]
    err = refused(folder_with(tmp_path / "lp", liveportrait_weights,
                              **{"appearance_feature_extractor.safetensors": cut}),
                  "appearance_feature_extractor.safetensors")
    assert "cut off" in err.message or "bytes long" in err.message
    assert err.fix.startswith("Download the file again.")


def test_a_git_lfs_pointer_says_so(tmp_path, liveportrait_weights):
    pointer = b"version https://git-lfs.github.com/spec/v1\noid sha256:0123\nsize 221878144\n"
    err = refused(folder_with(tmp_path / "lp", liveportrait_weights, **{"spade_generator.safetensors": pointer}),
                  "spade_generator.safetensors")
    assert "Git LFS pointer" in err.message


def test_a_renamed_pickle_is_refused_unread(tmp_path, liveportrait_weights):
    torch.save({"weight": torch.zeros(2)}, tmp_path / "model.pth")
    err = refused(folder_with(tmp_path / "lp", liveportrait_weights,
                              **{"motion_extractor.safetensors": (tmp_path / "model.pth").read_bytes()}),
                  "motion_extractor.safetensors")
    assert "pickle" in err.message


def test_another_models_keypoint_count_is_named(tmp_path, liveportrait_weights):
    sd = seeded_files()["motion_extractor.safetensors"]
    sd["detector.fc_kp.weight"], sd["detector.fc_kp.bias"] = torch.zeros(72, 768), torch.zeros(72)
    err = refused(folder_with(tmp_path / "lp", liveportrait_weights, **{"motion_extractor.safetensors": sd}),
                  "motion_extractor.safetensors")
    assert "predicts 24 keypoints where LivePortrait's human model has 21" in err.message


def test_swapped_files_are_recognised(tmp_path, liveportrait_weights):
    folder = folder_with(tmp_path / "lp", liveportrait_weights,
                         **{"spade_generator.safetensors": liveportrait_weights / "warping_module.safetensors"})
    err = refused(folder, "spade_generator.safetensors")
    assert "holds the tensors of warping_module.safetensors" in err.message and "renamed or swapped" in err.message


def test_a_missing_network_group_lists_its_tensors(tmp_path, liveportrait_weights):
    sd = {k: v for k, v in seeded_files()["stitching_retargeting_module.safetensors"].items()
          if not k.startswith("retarget_eye_module.")}
    name = "stitching_retargeting_module.safetensors"
    err = refused(folder_with(tmp_path / "lp", liveportrait_weights, **{name: sd}), name)
    assert "12 of its 28 tensors are missing: retarget_eye_module.mlp.0.bias" in err.message


def test_a_reshaped_tensor_names_both_shapes(tmp_path, liveportrait_weights):
    sd = seeded_files()["stitching_retargeting_module.safetensors"]
    sd["retarget_mouth_module.mlp.0.weight"] = torch.zeros(128, 66)
    name = "stitching_retargeting_module.safetensors"
    err = refused(folder_with(tmp_path / "lp", liveportrait_weights, **{name: sd}), name)
    assert "retarget_mouth_module.mlp.0.weight [128, 66] (expected [128, 65])" in err.message


def test_a_training_checkpoint_with_module_prefixes_is_named(tmp_path, liveportrait_weights):
    sd = {"module." + k: v for k, v in seeded_files()["warping_module.safetensors"].items()}
    err = refused(folder_with(tmp_path / "lp", liveportrait_weights, **{"warping_module.safetensors": sd}),
                  "warping_module.safetensors")
    assert "start with 'module.'" in err.message


def test_fp16_files_without_batch_norm_counters_load(tmp_path, liveportrait_weights, liveportrait_networks):
    sd = {k: v.half() for k, v in seeded_files()["appearance_feature_extractor.safetensors"].items()
          if "num_batches_tracked" not in k}
    loaded = load_liveportrait(folder_with(tmp_path / "lp", liveportrait_weights,
                                           **{"appearance_feature_extractor.safetensors": sd}))
    ours, good = loaded.appearance.state_dict(), liveportrait_networks.appearance.state_dict()
    assert all(v.dtype == torch.float32 for v in ours.values() if v.is_floating_point())
    for k, v in ours.items():
        if v.is_floating_point():  # fp16 keeps 11 bits: 1e-3 of the value
            assert torch.allclose(v, good[k], rtol=1e-3, atol=1e-5), k

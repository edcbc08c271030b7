"""Checkpoint files: real safetensors round trips, and refusals of anything else."""
import json

import pytest
import torch
from safetensors.torch import save_file

from tavid_core.checkpoints import inspect_checkpoint
from tavid_core.engines.load import load_engines
from tavid_core.errors import TavidError


def _write(path, tensors, config=None):
    meta = {"tavid_config": json.dumps(config)} if config is not None else None
    save_file(tensors, str(path), metadata=meta)
    return str(path)


def test_inspect_reads_blocks_and_config_without_loading(tmp_path):
    path = _write(tmp_path / "m.safetensors", {"speech_model.proj.weight": torch.zeros(4, 4),
                                               "speech_model.proj.bias": torch.zeros(4),
                                               "face_model.x": torch.ones(2), "extra": torch.ones(1)},
                  {"speech_model": {"dim": 4}})
    info = inspect_checkpoint(path)
    assert info.blocks == {"speech_model": 2, "face_model": 1} and info.other == 1
    assert info.config == {"speech_model": {"dim": 4}}


def test_a_face_side_block_without_its_configuration_is_named(tmp_path):
    path = _write(tmp_path / "m.safetensors", {"motion_mapper.w": torch.zeros(3)})
    with pytest.raises(TavidError, match=r"holds a motion mapper but not the configuration it was trained with"):
        load_engines(path)


def test_refuses_pickles_and_damaged_files(tmp_path):
    pickle_path = tmp_path / "m.ckpt"
    pickle_path.write_bytes(b"\x80\x04not really")
    with pytest.raises(TavidError, match="only .safetensors"):
        inspect_checkpoint(str(pickle_path))
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    with pytest.raises(TavidError, match="not a readable safetensors"):
        inspect_checkpoint(str(broken))
    bad_config = _write(tmp_path / "c.safetensors", {"face_model.x": torch.ones(1)})
    save_file({"face_model.x": torch.ones(1)}, bad_config, metadata={"tavid_config": "{oops"})
    with pytest.raises(TavidError, match="not valid JSON"):
        inspect_checkpoint(bad_config)

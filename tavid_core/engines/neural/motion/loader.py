"""The neural motion mapper from TAVID checkpoints: `motion_mapper.*` tensors and the MotionMapperConfig under
MOTION_SECTION. It is a block of its own: it works with any speech engine and drives any face model."""
from __future__ import annotations

import os
from typing import Sequence

import torch

from ....checkpoints import MOTION_SECTION, CheckpointInfo, inspect_checkpoint, load_block, saved_config
from ..common.inference import precision_for
from .config import MotionMapperConfig
from .engine import NeuralMotionMapper
from .net import MotionMapperNet


def load_motion_mapper(info: CheckpointInfo, precision: torch.dtype) -> NeuralMotionMapper:
    name = os.path.basename(info.path)
    config = MotionMapperConfig.from_dict(saved_config(info, MOTION_SECTION, "a motion mapper"),
                                          where=f"{name} {MOTION_SECTION} settings")
    net = MotionMapperNet(config)
    load_block(net, "motion_mapper.", info, f"the {config.name} motion mapper")
    return NeuralMotionMapper(net.eval().requires_grad_(False), precision)


def load_motion_side(paths: Sequence[str], *, dtype: str = "auto", device: torch.device | None = None) -> dict:
    """{"motion_mapper": engine} when a file holds one (a later file's replaces an earlier one's), else {}."""
    holders = [i for i in (inspect_checkpoint(p) for p in paths) if "motion_mapper" in i.blocks]
    if not holders:
        return {}
    return {"motion_mapper": load_motion_mapper(holders[-1], precision_for(dtype, device or torch.device("cpu")))}

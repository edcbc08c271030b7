"""How the public files name our networks' tensors: per layer (our module path, its path in the file, kind).

The public files hold the reference modules' state dicts as they are (no prefix stripped, nothing renamed):
    appearance_feature_extractor   first., down_blocks.N., second., resblocks_3d.3drN.
    motion_extractor               detector. (ConvNeXt-V2: downsample_layers, stages, norm, fc_*)
    warping_module                 dense_motion_network., third., fourth.
    spade_generator                fc., G_middle_N., up_0., up_1., conv_img.0. (spectral-normalised convolutions)
    stitching_retargeting_module   retarget_shoulder_module., retarget_mouth_module., retarget_eye_module.

Kinds: `plain` (the same leaf names), `bn` (batch norm; `num_batches_tracked` accepted but not required) and
`sn` (a spectrally normalised convolution stored as weight_orig, weight_u, weight_v: the loader folds it).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

import torch
from torch import nn

from .config import LivePortraitConfig
from .files import FILES
from .networks import LivePortraitNetworks, build_networks

Layer = tuple[str, str, str]
# group prefixes inside stitching_retargeting_module.safetensors (the original .pth: three state dicts)
MLP_GROUPS = {"stitching": "retarget_shoulder_module.", "lip": "retarget_mouth_module.", "eye": "retarget_eye_module."}


def appearance_layers(cfg: LivePortraitConfig) -> list[Layer]:
    a = cfg.appearance
    rows: list[Layer] = [("stem.conv", "first.conv", "plain"), ("stem.bn", "first.norm", "bn")]
    for i in range(a.num_down):
        rows += [(f"down.{i}.conv", f"down_blocks.{i}.conv", "plain"), (f"down.{i}.bn", f"down_blocks.{i}.norm", "bn")]
    rows.append(("to_volume", "second", "plain"))
    for i in range(a.num_res_blocks):
        src = f"resblocks_3d.3dr{i}"
        rows += [(f"volume_blocks.{i}.{n}", f"{src}.{n}", "plain") for n in ("conv1", "conv2")]
        rows += [(f"volume_blocks.{i}.bn{j}", f"{src}.norm{j}", "bn") for j in (1, 2)]
    return rows


def motion_layers(cfg: LivePortraitConfig) -> list[Layer]:
    m = cfg.motion
    rows: list[Layer] = [("stem.conv", "detector.downsample_layers.0.0", "plain"),
                         ("stem.norm", "detector.downsample_layers.0.1", "plain")]
    for i in range(1, len(m.dims)):
        rows += [(f"downsample.{i - 1}.norm", f"detector.downsample_layers.{i}.0", "plain"),
                 (f"downsample.{i - 1}.conv", f"detector.downsample_layers.{i}.1", "plain")]
    ours_to_file = {"depthwise": "dwconv", "norm": "norm", "expand": "pwconv1", "grn": "grn", "project": "pwconv2"}
    for s, depth in enumerate(m.depths):
        for j in range(depth):
            rows += [(f"stages.{s}.{j}.{o}", f"detector.stages.{s}.{j}.{f}", "plain") for o, f in ours_to_file.items()]
    rows.append(("head_norm", "detector.norm", "plain"))
    rows += [(f"head_{h}", f"detector.fc_{h}", "plain") for h in ("kp", "scale", "pitch", "yaw", "roll", "t", "exp")]
    return rows


def warping_layers(cfg: LivePortraitConfig) -> list[Layer]:
    dm = cfg.warping.dense_motion
    hg, src = "dense_motion.hourglass", "dense_motion_network.hourglass"
    rows: list[Layer] = []
    for i in range(dm.num_blocks):
        rows += [(f"{hg}.down.{i}.conv", f"{src}.encoder.down_blocks.{i}.conv", "plain"),
                 (f"{hg}.down.{i}.bn", f"{src}.encoder.down_blocks.{i}.norm", "bn")]
    for i in range(dm.num_blocks):
        rows += [(f"{hg}.up.{i}.conv", f"{src}.decoder.up_blocks.{i}.conv", "plain"),
                 (f"{hg}.up.{i}.bn", f"{src}.decoder.up_blocks.{i}.norm", "bn")]
    rows += [(f"{hg}.out.conv", f"{src}.decoder.conv", "plain"), (f"{hg}.out.bn", f"{src}.decoder.norm", "bn"),
             ("dense_motion.mask_head", "dense_motion_network.mask", "plain"),
             ("dense_motion.compress", "dense_motion_network.compress", "plain"),
             ("dense_motion.compress_bn", "dense_motion_network.norm", "bn")]
    if cfg.warping.estimate_occlusion:
        rows.append(("dense_motion.occlusion_head", "dense_motion_network.occlusion", "plain"))
    rows += [("fuse.conv", "third.conv", "plain"), ("fuse.bn", "third.norm", "bn"), ("project", "fourth", "plain")]
    return rows


def generator_layers(cfg: LivePortraitConfig) -> list[Layer]:
    g = cfg.generator
    blocks = [(f"middle.{i}", f"G_middle_{i}", False) for i in range(g.num_middle_blocks)]
    blocks += [("up1", "up_0", True), ("up2", "up_1", True)]
    rows: list[Layer] = [("stem", "fc", "plain")]
    for ours, src, has_skip in blocks:
        for o, f in [("a", "0"), ("b", "1")] + ([("skip", "s")] if has_skip else []):
            rows.append((f"{ours}.conv_{o}", f"{src}.conv_{f}", "sn"))
            rows += [(f"{ours}.mod_{o}.shared", f"{src}.norm_{f}.mlp_shared.0", "plain"),
                     (f"{ours}.mod_{o}.gamma", f"{src}.norm_{f}.mlp_gamma", "plain"),
                     (f"{ours}.mod_{o}.beta", f"{src}.norm_{f}.mlp_beta", "plain")]
    rows.append(("to_rgb", "conv_img.0", "plain"))
    return rows


def mlp_layers(num_linear: int, group_prefix: str) -> list[Layer]:
    # the reference's nn.Sequential(Linear, ReLU, ..., Linear) puts the Linear layers at even indices
    return [(f"layers.{i}", f"{group_prefix}mlp.{2 * i}", "plain") for i in range(num_linear)]


@dataclass(frozen=True)
class Expected:
    file_key: str
    shape: tuple[int, ...]
    optional: bool = False


def _tensors_under(module: nn.Module, prefix: str) -> dict[str, torch.Tensor]:
    sd = module.state_dict(keep_vars=True)
    return {k[len(prefix) + 1:]: v for k, v in sd.items() if k.startswith(prefix + ".")}


def expected_tensors(module: nn.Module, layers: Iterable[Layer]) -> dict[str, tuple[str, list[Expected]]]:
    """Our state-dict key -> (kind, the file tensors it is made from). A declaration that misses or repeats a
    key is a programming error, caught by the equivalence tests."""
    table: dict[str, tuple[str, list[Expected]]] = {}
    for ours, src, kind in layers:
        tensors = _tensors_under(module, ours)
        if not tensors:
            raise AssertionError(f"the layout names no module {ours!r}")
        for leaf, t in tensors.items():
            key, shape = f"{ours}.{leaf}", tuple(t.shape)
            if kind == "sn" and leaf == "weight":
                exp = [Expected(f"{src}.weight_orig", shape), Expected(f"{src}.weight_u", (shape[0],)),
                       Expected(f"{src}.weight_v", (math.prod(shape[1:]),))]
            elif kind == "bn" and leaf == "num_batches_tracked":
                exp = [Expected(f"{src}.{leaf}", shape, optional=True)]
            else:
                exp = [Expected(f"{src}.{leaf}", shape)]
            if key in table:
                raise AssertionError(f"the layout covers {key!r} twice")
            table[key] = (kind, exp)
    missing = set(module.state_dict()) - set(table)
    if missing:
        raise AssertionError(f"the layout does not cover {sorted(missing)[:5]}")
    return table


Plan = dict[str, list[tuple[str, nn.Module, list[Layer]]]]


def file_plan(nets: LivePortraitNetworks, cfg: LivePortraitConfig) -> Plan:
    """Public file name -> [(network name, network, its layers)]."""
    return {
        FILES["appearance"]: [("appearance", nets.appearance, appearance_layers(cfg))],
        FILES["motion"]: [("motion", nets.motion, motion_layers(cfg))],
        FILES["warping"]: [("warping", nets.warping, warping_layers(cfg))],
        FILES["generator"]: [("generator", nets.generator, generator_layers(cfg))],
        FILES["stitching_retargeting"]: [
            (name, getattr(nets, name), mlp_layers(len(getattr(nets, name).layers), MLP_GROUPS[name]))
            for name in ("stitching", "lip", "eye")],
    }


def public_file_layout(cfg: LivePortraitConfig = LivePortraitConfig(), *, with_optional: bool = True
                       ) -> dict[str, dict[str, tuple[int, ...]]]:
    """The tensors (name -> shape) each public file holds."""
    with torch.device("meta"):
        nets = build_networks(cfg)
    out: dict[str, dict[str, tuple[int, ...]]] = {}
    for fname, parts in file_plan(nets, cfg).items():
        out[fname] = {e.file_key: e.shape for _, module, layers in parts
                      for _, exp in expected_tensors(module, layers).values()
                      for e in exp if with_optional or not e.optional}
    return out

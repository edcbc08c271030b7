"""LoRA adapters on the attention projections of any TAVID network (the speech DiT, the face denoiser),
defined and trained with peft, saved under stable names, and applied to a loaded engine with a strength.

Targets are found by structure, not by name: every `common.layers.Attention` inside the network contributes its
`to_q`, `to_k`, `to_v` and `to_out` (common.layers.LORA_TARGETS), under its module path. For the speech DiT
these are `blocks.<i>.attn.to_q` ..., the paths its LoRA files have always had.

peft: `inject_adapter_in_model` (not `get_peft_model`) puts peft's LoRA layers into the network itself,
so it keeps its class, its forward signature and its module paths, which is what the trainer, the
samplers and the file's tensor names need; `get_peft_model` would wrap it in a PeftModel made for
Hugging Face models. peft is given the exact module paths as one regular expression (a string is
matched whole against each path; a list would also match any path that merely ends in one). peft's own
tensor names carry its adapter name and `base_layer` detours (`blocks.0.attn.to_q.lora_A.tavid.weight`);
files use stable names instead:

    <block>.<module path>.lora_A.weight   [rank, in]
    <block>.<module path>.lora_B.weight   [out, rank]

(`speech_model.blocks.0.attn.to_q.lora_A.weight`, `face_model.down.1.spatial.attn.to_v.lora_B.weight`)
with `tavid_config` = {"lora": {"rank", "alpha", "targets", "block"}, <section>: the saved configuration
of the model it was trained on} ("speech" for the speech model, "face" for the face model:
host.LORA_SECTIONS). A projection's weight changes by strength * (alpha / rank) * B @ A.

Applying: `apply_loras` works on any engine that is a `LoraHost` (host.py) and returns a new engine
whose network is a copy with the deltas merged into its projection weights, so inference is exactly as
fast as the base model's. The merge is peft's own: each LoRA is injected into the copy as an adapter,
loaded, scaled with `set_scale(strength)`, merged with `merge()` and unwrapped again, so the delta is
computed by the same code that defined the adapter in training. The input engine is never modified:
ComfyUI graphs share engine handles.

Memory: the copy shares every tensor the LoRAs do not change with the base network (new Parameter
objects over the same storage, so moving one model between devices never moves the other); only the
patched projection weights are new: for the speech DiT 4 * dim^2 * depth floats, 336 MB for the base
configuration's 300M-parameter DiT (a full copy would be 1.2 GB). Once a runtime moves the copy to
another device, it holds a full copy there, like any other model (ComfyUI's memory management counts
every model at its full size, not knowing about the sharing). A patched engine keeps the base network
alive, to merge further LoRAs into.
"""
from __future__ import annotations

import copy
import json
import math
import os
import re
from dataclasses import dataclass, replace
from typing import Sequence

import torch
from torch import nn

from ....checkpoints import (BLOCK_NAMES, CONFIG_KEY, LORA_SECTION, CheckpointInfo, check_shapes, load_lora,
                             write_checkpoint)
from ....errors import TavidError
from ..common.layers import LORA_TARGETS, Attention
from .host import LORA_BLOCKS, LORA_SECTIONS, LoraHost, as_host

SPEECH_BLOCK = "speech_model"          # the default block: LoRAs were made for the speech model first
ADAPTER = "tavid"                      # peft's adapter name while training
_MERGING = "tavid_merge"               # peft's adapter name while a file's weights are merged
_TENSOR = re.compile(r"(.+\.(?:" + "|".join(LORA_TARGETS) + r"))\.lora_([AB])\.weight")  # after "<block>."
DOWNLOAD_AGAIN = "Download the file again."


def remake(block: str) -> str:
    """The fix for a LoRA that does not belong to the connected model."""
    return f"Use a LoRA trained on this {BLOCK_NAMES[block]}."


def check_rank(rank, alpha=None, where: str = "--lora-rank", fix: str = "Try 8 or 16.") -> tuple[int, float]:
    """A LoRA's rank (a whole number from 1) and alpha (a number above 0; None: the rank)."""
    if not isinstance(rank, int) or isinstance(rank, bool) or rank < 1:
        raise TavidError(f"a LoRA's rank must be a whole number of at least 1, got {rank!r}", where=where, fix=fix)
    if alpha is None:
        alpha = rank
    if not isinstance(alpha, (int, float)) or isinstance(alpha, bool) or not math.isfinite(alpha) or alpha <= 0:
        raise TavidError(f"a LoRA's alpha must be a number above 0, got {alpha!r}", where=where, fix=fix)
    return rank, float(alpha)


# ---------------------------------------------------------------------------------------------- targets
def lora_targets(network: nn.Module) -> list[str]:
    """The module paths a LoRA adapts: the projections of every `layers.Attention` in `network`, in order."""
    return [f"{path}.{name}" if path else name for path, module in network.named_modules()
            if isinstance(module, Attention) for name in LORA_TARGETS]


def lora_config(rank: int, alpha: float | None, modules: Sequence[str]):
    """peft's LoraConfig for exactly `modules` (paths, matched whole), alpha defaulting to the rank (a delta
    scale of 1), no dropout."""
    from peft import LoraConfig
    if not modules:
        raise TavidError("the network has no attention layer a LoRA could adapt", where="lora")
    pattern = "(?:" + "|".join(re.escape(m) for m in modules) + ")"
    return LoraConfig(r=rank, lora_alpha=rank if alpha is None else alpha, lora_dropout=0.0,
                      target_modules=pattern, init_lora_weights=True)


# --------------------------------------------------------------------------------------------- training
def add_lora(network: nn.Module, rank: int, alpha: float | None = None, name: str = ADAPTER) -> list[nn.Parameter]:
    """Put a LoRA of `rank` on every attention projection of `network` (in place), freeze everything else,
    and return the LoRA's parameters (the only ones left trainable). B starts at zero, so the network's
    output is unchanged until training moves it; A is drawn from torch's global generator."""
    from peft import inject_adapter_in_model
    rank, alpha = check_rank(rank, alpha)
    network.requires_grad_(False)
    inject_adapter_in_model(lora_config(rank, alpha, lora_targets(network)), network, adapter_name=name)
    params = [p for a, b in lora_layers(network, name).values() for p in (a.weight, b.weight)]
    for p in params:
        p.requires_grad_(True)
    return params


def lora_layers(network: nn.Module, name: str | None = None) -> dict[str, tuple[nn.Linear, nn.Linear]]:
    """The peft LoRA layers of `network` by module path: (A, B) of adapter `name` (None: the only one)."""
    from peft.tuners.lora import LoraLayer
    out = {}
    for path, module in network.named_modules():
        if not isinstance(module, LoraLayer):
            continue
        names = list(module.lora_A.keys())
        chosen = name if name is not None else (names[0] if len(names) == 1 else None)
        if chosen is None:
            raise TavidError(f"{path} has the LoRA adapters {names}; say which one", where="name")
        if chosen in names:
            out[path] = (module.lora_A[chosen], module.lora_B[chosen])
    return out


class LoraWeights(nn.Module):
    """The LoRA weights of a network as a module of their own, laid out by module path, so its state_dict
    has the stable names (`blocks.0.attn.to_q.lora_A.weight`) and nothing of the frozen network.

    A LoRA run's trainer optimises, averages and saves the block through this module; its submodules ARE
    the network's LoRA layers (shared, not copied), so training it trains the network's adapter."""

    def __init__(self, network: nn.Module, name: str | None = None):
        super().__init__()
        layers = lora_layers(network, name)
        if not layers:
            raise TavidError("the network has no LoRA layers", where="lora", fix="Add them first with add_lora.")
        for path, (a, b) in layers.items():
            node: nn.Module = self
            for part in path.split("."):
                if part not in node._modules:
                    node.add_module(part, nn.Module())
                node = node._modules[part]
            node.add_module("lora_A", a)
            node.add_module("lora_B", b)

    def forward(self, *args, **kwargs):
        raise TypeError("LoraWeights only holds a network's LoRA weights; run the network itself")


def lora_state(network: nn.Module, block: str = SPEECH_BLOCK, name: str | None = None) -> dict[str, torch.Tensor]:
    """The LoRA weights of `network` under the file's names (`<block>.<module path>.lora_A.weight`)."""
    return {f"{block}.{key}": t.detach() for key, t in LoraWeights(network, name).state_dict().items()}


def lora_metadata(config, rank: int, alpha: float | None = None, block: str = SPEECH_BLOCK) -> dict:
    """The `tavid_config` of a LoRA file: its settings and `config` (a SavedConfig or its dict), the
    configuration of the model it was trained on, under the block's section."""
    rank, alpha = check_rank(rank, alpha, where="rank")
    saved = config.to_dict() if hasattr(config, "to_dict") else dict(config)
    return {LORA_SECTION: {"rank": rank, "alpha": alpha, "targets": list(LORA_TARGETS), "block": block},
            LORA_SECTIONS[block]: saved}


def save_lora(path: str, network: nn.Module, config, rank: int, alpha: float | None = None,
              name: str | None = None, block: str = SPEECH_BLOCK) -> str:
    """Write the LoRA of `network` (adapter `name`; None: the only one) as a TAVID LoRA file of `block`,
    with `config`, the saved configuration of the model it was trained on."""
    tensors = lora_state(network, block, name)
    found = {t.shape[0] for key, t in tensors.items() if key.endswith("lora_A.weight")}
    if found != {rank}:
        raise TavidError(f"the {BLOCK_NAMES[block]}'s LoRA has rank {sorted(found)}, not {rank}", where="rank")
    write_checkpoint(path, tensors, {CONFIG_KEY: json.dumps(lora_metadata(config, rank, alpha, block))})
    return path


# -------------------------------------------------------------------------------------------- the files
@dataclass(frozen=True)
class LoraFile:
    """A checked LoRA file: its weights by module path, (A [rank, in], B [out, rank])."""

    path: str
    block: str                            # the block it patches: "speech_model", "face_model"
    rank: int
    alpha: float
    model_config: dict                    # the saved configuration of the model it was trained on
    weights: dict[str, tuple[torch.Tensor, torch.Tensor]]
    info: CheckpointInfo

    @property
    def name(self) -> str:
        return os.path.basename(self.path)


def read_lora(path: str, block: str = SPEECH_BLOCK, section: str | None = None) -> LoraFile:
    """Read and check a LoRA of `block`: a safetensors file (checked before it is opened), weights of that
    block (a LoRA of another block is refused by `load_lora`, which names it), LoRA settings in its metadata,
    the configuration of its model under `section` (default: the block's) and only LoRA tensors of attention
    projections, A and B of every one, of the rank it declares. Whether it fits a network is `check_fits`."""
    from safetensors import safe_open
    info = load_lora(path, [block])
    name, model = os.path.basename(path), BLOCK_NAMES[block]
    rank, alpha = _settings(info, block, name)
    section = section or LORA_SECTIONS[block]
    model_config = info.config.get(section)
    if not isinstance(model_config, dict):
        raise TavidError(f"its metadata lacks the configuration of the {model} it was trained on", where=name,
                         fix=remake(block))
    parts = _pairs(info, block, name)
    for module, pair in parts.items():
        a, b = info.shapes[pair["A"]], info.shapes[pair["B"]]
        if len(a) != 2 or len(b) != 2 or a[0] != rank or b[1] != rank:
            raise TavidError(f"the weights of {module} ({list(a)} and {list(b)}) are not of the rank {rank} its "
                             "metadata declares", where=name, fix=DOWNLOAD_AGAIN)
    with safe_open(path, framework="pt") as f:
        weights = {module: (f.get_tensor(pair["A"]).float(), f.get_tensor(pair["B"]).float())
                   for module, pair in sorted(parts.items())}
    return LoraFile(path=path, block=block, rank=rank, alpha=alpha, model_config=model_config, weights=weights,
                    info=info)


def _settings(info: CheckpointInfo, block: str, name: str) -> tuple[int, float]:
    """The rank and alpha of a LoRA file of `block`, from its metadata."""
    settings = info.config.get(LORA_SECTION)
    if not isinstance(settings, dict):
        raise TavidError("it is not a LoRA: its metadata has no LoRA settings (a full checkpoint goes into TAVID "
                         "Checkpoint Loader)", where=name, fix=remake(block))
    if settings.get("block", block) != block:
        raise TavidError(f"its metadata says it is a LoRA for the {settings.get('block')}, but it holds weights of "
                         f"the {BLOCK_NAMES[block]}", where=name, fix=DOWNLOAD_AGAIN)
    return check_rank(settings.get("rank"), settings.get("alpha"), where=f"{name} lora settings", fix=DOWNLOAD_AGAIN)


def _pairs(info: CheckpointInfo, block: str, name: str) -> dict[str, dict[str, str]]:
    """The file's tensor names by module path and A/B; anything but LoRA weights of `block` is refused."""
    parts: dict[str, dict[str, str]] = {}
    prefix = block + "."
    for key in info.shapes:
        match = _TENSOR.fullmatch(key[len(prefix):]) if key.startswith(prefix) else None
        if match is None:
            raise TavidError(f"it holds {key}, which is not a LoRA weight of the {BLOCK_NAMES[block]}'s attention",
                             where=name, fix=remake(block))
        parts.setdefault(match.group(1), {})[match.group(2)] = key
    for module, pair in parts.items():
        if set(pair) != {"A", "B"}:
            raise TavidError(f"it has lora_{next(iter(pair))} of {module} but not its partner", where=name,
                             fix=DOWNLOAD_AGAIN)
    return parts


def check_fits(lora: LoraFile, network: nn.Module) -> None:
    """Refuse a LoRA whose modules are not attention projections of `network`, or whose shapes differ
    from theirs, before anything is merged."""
    model = BLOCK_NAMES[lora.block]
    targets = set(lora_targets(network))
    absent = [m for m in lora.weights if m not in targets]
    if absent:
        raise TavidError(f"this LoRA adapts {absent[0]}, which is not an attention projection of the connected "
                         f"{model}", where=lora.name, fix=remake(lora.block))
    expected = {}
    for module in lora.weights:
        linear = network.get_submodule(module)
        expected[f"{lora.block}.{module}.lora_A.weight"] = (lora.rank, linear.in_features)
        expected[f"{lora.block}.{module}.lora_B.weight"] = (linear.out_features, lora.rank)
    check_shapes(expected, lora.info, by=f"the connected {model}")


# --------------------------------------------------------------------------------------------- applying
def _sharing_copy(network: nn.Module) -> nn.Module:
    """A copy of `network` whose parameters are new Parameter objects over the same storage (buffers shared)."""
    memo = {id(p): nn.Parameter(p.detach(), requires_grad=False) for p in network.parameters()}
    memo.update({id(b): b for b in network.buffers()})
    return copy.deepcopy(network, memo)


def _merge(network: nn.Module, lora: LoraFile, strength: float) -> None:
    """Merge `lora` at `strength` into `network`'s projection weights with peft (inject, load, scale, merge,
    unwrap)."""
    from peft import inject_adapter_in_model
    inject_adapter_in_model(lora_config(lora.rank, lora.alpha, list(lora.weights)), network, adapter_name=_MERGING)
    with torch.no_grad():
        for module, (a, b) in lora.weights.items():
            layer = network.get_submodule(module)
            layer.lora_A[_MERGING].weight.copy_(a)
            layer.lora_B[_MERGING].weight.copy_(b)
            layer.set_scale(_MERGING, strength)
            layer.merge(adapter_names=[_MERGING])
            parent, _, child = module.rpartition(".")
            setattr(network.get_submodule(parent), child, layer.get_base_layer())
    if "peft_config" in vars(network):
        del network.peft_config


def merged_copy(base: nn.Module, loras: Sequence[tuple[LoraFile, float]]) -> nn.Module:
    """A copy of `base` with every LoRA merged at its strength, in order (`base` is not modified).
    A LoRA at strength 0 changes nothing and is not merged, so its copy computes bit for bit what `base` does."""
    network = _sharing_copy(base)
    own: set[str] = set()
    for lora, strength in loras:
        if strength == 0:
            continue
        for module in lora.weights.keys() - own:  # merging writes in place: these get storage of their own
            linear = network.get_submodule(module)
            linear.weight = nn.Parameter(linear.weight.detach().clone(), requires_grad=False)
            own.add(module)
        _merge(network, lora, float(strength))
    return network.eval()


def _checked(host: LoraHost, base: nn.Module, path: str, strength) -> tuple[LoraFile, float]:
    """One (file, strength) read and checked against the host: its block, its settings, the size of the
    model it was made for, its shapes."""
    strength = float(strength)
    if not math.isfinite(strength):
        raise TavidError(f"the strength {strength} is not a finite number", where="strength",
                         fix="Use a value like 1.0.")
    lora = read_lora(path, host.lora_block, host.lora_section)
    host.check_lora_config(lora.model_config, lora.name)
    check_fits(lora, base)
    return lora, strength


def apply_loras(engine, loras: Sequence[tuple[str, float]]) -> LoraHost:
    """A new engine with each (LoRA file, strength) applied to a copy of `engine`'s network, after the ones
    `engine` already carries (a chain is one merge of all of them into the unpatched network); `engine`
    itself is unchanged. Every file is checked (its block, its settings, the model it was made for, its
    shapes) before anything is merged."""
    host = as_host(engine)
    base = host.lora_base()
    applied = host.lora_applied + tuple(_checked(host, base, path, strength) for path, strength in loras)
    return host.with_lora_network(merged_copy(base, applied), applied)


def lora_block(path: str, blocks: Sequence[str] = LORA_BLOCKS) -> str:
    """The block (one of `blocks`) a LoRA file holds weights for; a file for none of them is refused."""
    info = load_lora(path, blocks)
    return next(block for block in blocks if block in info.blocks)


def apply_to_engines(engines, loras: Sequence[tuple[str, float]]):
    """`engines` (an EngineSet) with every LoRA applied to the engine of the block it is for: one
    `apply_loras` per block, in the order given."""
    by_block: dict[str, list[tuple[str, float]]] = {}
    for path, strength in loras:
        by_block.setdefault(lora_block(path), []).append((path, strength))
    return replace(engines, **{block: apply_loras(getattr(engines, block), group) for block, group in by_block.items()})

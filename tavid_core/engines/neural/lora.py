"""LoRA adapters on the speech DiT's attention projections (`to_q`, `to_k`, `to_v`, `to_out` of every
block), defined and trained with peft, saved under stable names, and applied to a loaded speech model
with a strength.

peft: `inject_adapter_in_model` (not `get_peft_model`) puts peft's LoRA layers into the DiT itself, so
the network keeps its class, its forward signature and its module paths, which is what the trainer, the
DiT's sampler and the file's tensor names need; `get_peft_model` would wrap it in a PeftModel made for
Hugging Face models. peft's own tensor names carry its adapter name and `base_layer` detours
(`blocks.0.attn.to_q.lora_A.tavid.weight`); files use stable names instead:

    speech_model.blocks.<i>.attn.<to_q|to_k|to_v|to_out>.lora_A.weight   [rank, in]
    speech_model.blocks.<i>.attn.<to_q|to_k|to_v|to_out>.lora_B.weight   [out, rank]

with `tavid_config` = {"lora": {"rank", "alpha", "targets", "block": "speech_model"}, "speech": the
SpeechSideConfig of the model it was trained on}. A projection's weight changes by
strength * (alpha / rank) * B @ A.

Applying: `apply_loras` returns a new generator whose DiT is a copy with the deltas merged into its
projection weights, so inference is exactly as fast as the base model's. The merge is peft's own: each
LoRA is injected into the copy as an adapter, loaded, scaled with `set_scale(strength)`, merged with
`merge()` and unwrapped again, so the delta is computed by the same code that defined the adapter in
training. The input generator is never modified: ComfyUI graphs share engine handles.

Memory: the copy shares every tensor the LoRAs do not change with the base DiT (new Parameter objects
over the same storage, so moving one model between devices never moves the other); only the patched
projection weights are new: 4 * dim^2 * depth floats, 336 MB for the base configuration's 300M-parameter
DiT (a full copy would be 1.2 GB). Once a runtime moves the copy to another device, it holds a full
copy there, like any other model (ComfyUI's memory management counts every model at its full size, not
knowing about the sharing). A patched generator keeps the base DiT alive, to merge further LoRAs into.
"""
from __future__ import annotations

import copy
import json
import math
import os
import re
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

from ...checkpoints import CONFIG_KEY, CheckpointInfo, check_shapes, load_lora, write_checkpoint
from ...errors import TavidError
from .configs import SpeechSideConfig
from .dit import SpeechDiT
from .layers import LORA_TARGETS
from .speech_generator import NeuralSpeechGenerator

BLOCK = "speech_model"
SECTION = "lora"                       # the key of the LoRA settings in tavid_config
ADAPTER = "tavid"                      # peft's adapter name while training
_MERGING = "tavid_merge"               # peft's adapter name while a file's weights are merged
TARGET_PATTERN = r"blocks\.\d+\.attn\.(?:" + "|".join(LORA_TARGETS) + ")"
_TENSOR = re.compile(re.escape(BLOCK) + r"\.(" + TARGET_PATTERN + r")\.lora_([AB])\.weight")
REMAKE = "Use a LoRA trained on this speech model (tavid train speech --init <its checkpoint> --lora-rank N)."


def lora_config(rank: int, alpha: float | None = None, modules: Sequence[str] | None = None):
    """peft's LoraConfig for the DiT: the attention projections (or exactly `modules`, by path),
    alpha defaulting to the rank (a delta scale of 1), no dropout."""
    from peft import LoraConfig
    pattern = TARGET_PATTERN if modules is None else "(?:" + "|".join(re.escape(m) for m in modules) + ")"
    return LoraConfig(r=rank, lora_alpha=rank if alpha is None else alpha, lora_dropout=0.0,
                      target_modules=pattern, init_lora_weights=True)


def check_rank(rank, alpha=None, where: str = "--lora-rank", fix: str = "Try 8 or 16.") -> tuple[int, float]:
    """A LoRA's rank (a whole number from 1) and alpha (a number above 0; None: the rank)."""
    if not isinstance(rank, int) or isinstance(rank, bool) or rank < 1:
        raise TavidError(f"a LoRA's rank must be a whole number of at least 1, got {rank!r}", where=where, fix=fix)
    if alpha is None:
        alpha = rank
    if not isinstance(alpha, (int, float)) or isinstance(alpha, bool) or not math.isfinite(alpha) or alpha <= 0:
        raise TavidError(f"a LoRA's alpha must be a number above 0, got {alpha!r}", where=where, fix=fix)
    return rank, float(alpha)


# --------------------------------------------------------------------------------------------- training
def add_lora(dit: SpeechDiT, rank: int, alpha: float | None = None, name: str = ADAPTER) -> list[nn.Parameter]:
    """Put a LoRA of `rank` on every attention projection of `dit` (in place), freeze everything else,
    and return the LoRA's parameters (the only ones left trainable). B starts at zero, so the DiT's
    output is unchanged until training moves it; A is drawn from torch's global generator."""
    from peft import inject_adapter_in_model
    rank, alpha = check_rank(rank, alpha)
    dit.requires_grad_(False)
    inject_adapter_in_model(lora_config(rank, alpha), dit, adapter_name=name)
    params = [p for a, b in lora_layers(dit, name).values() for p in (a.weight, b.weight)]
    for p in params:
        p.requires_grad_(True)
    return params


def lora_layers(dit: nn.Module, name: str | None = None) -> dict[str, tuple[nn.Linear, nn.Linear]]:
    """The peft LoRA layers of `dit` by module path: (A, B) of adapter `name` (None: the only one)."""
    from peft.tuners.lora import LoraLayer
    out = {}
    for path, module in dit.named_modules():
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
    """The LoRA weights of a DiT as a module of their own, laid out by module path, so its state_dict
    has the stable names (`blocks.0.attn.to_q.lora_A.weight`) and nothing of the frozen network.

    The trainer optimises, averages and saves a LoRA run's `speech_model` through this module; its
    submodules ARE the DiT's LoRA layers (shared, not copied), so training it trains the DiT's adapter."""

    def __init__(self, dit: nn.Module, name: str | None = None):
        super().__init__()
        layers = lora_layers(dit, name)
        if not layers:
            raise TavidError("the speech model has no LoRA layers", where="speech_model",
                             fix="Add them first with add_lora.")
        for path, (a, b) in layers.items():
            node: nn.Module = self
            for part in path.split("."):
                if part not in node._modules:
                    node.add_module(part, nn.Module())
                node = node._modules[part]
            node.add_module("lora_A", a)
            node.add_module("lora_B", b)

    def forward(self, *args, **kwargs):
        raise TypeError("LoraWeights only holds a DiT's LoRA weights; run the DiT itself")


def lora_state(dit: nn.Module, name: str | None = None) -> dict[str, torch.Tensor]:
    """The LoRA weights of `dit` under the file's names (`speech_model.<module path>.lora_A.weight`)."""
    return {f"{BLOCK}.{key}": t.detach() for key, t in LoraWeights(dit, name).state_dict().items()}


def lora_metadata(config: SpeechSideConfig, rank: int, alpha: float | None = None) -> dict:
    """The `tavid_config` of a LoRA file: its settings and the configuration of the model it was trained on."""
    rank, alpha = check_rank(rank, alpha, where="rank")
    return {SECTION: {"rank": rank, "alpha": alpha, "targets": list(LORA_TARGETS), "block": BLOCK},
            "speech": config.to_dict()}


def save_lora(path: str, dit: nn.Module, config: SpeechSideConfig, rank: int, alpha: float | None = None,
              name: str | None = None) -> str:
    """Write the LoRA of `dit` (adapter `name`; None: the only one) as a TAVID LoRA file."""
    tensors = lora_state(dit, name)
    found = {t.shape[0] for key, t in tensors.items() if key.endswith("lora_A.weight")}
    if found != {rank}:
        raise TavidError(f"the speech model's LoRA has rank {sorted(found)}, not {rank}", where="rank")
    write_checkpoint(path, tensors, {CONFIG_KEY: json.dumps(lora_metadata(config, rank, alpha))})
    return path


# -------------------------------------------------------------------------------------------- the files
@dataclass(frozen=True)
class LoraFile:
    """A checked LoRA file of the speech model: its weights by module path, (A [rank, in], B [out, rank])."""

    path: str
    rank: int
    alpha: float
    speech: SpeechSideConfig              # the configuration of the model it was trained on
    weights: dict[str, tuple[torch.Tensor, torch.Tensor]]
    info: CheckpointInfo

    @property
    def name(self) -> str:
        return os.path.basename(self.path)


def read_lora(path: str) -> LoraFile:
    """Read and check a speech-model LoRA: a safetensors file (checked before it is opened), weights of
    the speech model (another block's LoRA is refused by `load_lora`), LoRA settings in its metadata and
    only LoRA tensors of the attention projections, A and B of every one, of the rank it declares."""
    from safetensors import safe_open
    info = load_lora(path, [BLOCK])
    name = os.path.basename(path)
    settings = info.config.get(SECTION)
    if not isinstance(settings, dict):
        raise TavidError("it is not a LoRA: its metadata has no LoRA settings (a full checkpoint goes into TAVID "
                         "Checkpoint Loader)", where=name, fix=REMAKE)
    if settings.get("block", BLOCK) != BLOCK:
        raise TavidError(f"its metadata says it is a LoRA for the {settings.get('block')}, but it holds weights of "
                         "the speech model", where=name, fix="Download the file again.")
    rank, alpha = check_rank(settings.get("rank"), settings.get("alpha"), where=f"{name} lora settings",
                             fix="Download the file again.")
    if "speech" not in info.config:
        raise TavidError("its metadata lacks the configuration of the speech model it was trained on", where=name,
                         fix=REMAKE)
    speech = SpeechSideConfig.from_dict(info.config["speech"], where=f"{name} speech settings")
    keys = [k for k in info.shapes if k.startswith(BLOCK + ".")]
    parts: dict[str, dict[str, str]] = {}
    for key in keys:
        match = _TENSOR.fullmatch(key)
        if match is None:
            raise TavidError(f"it holds {key}, which is not a LoRA weight of the speech model's attention", where=name,
                             fix=REMAKE)
        parts.setdefault(match.group(1), {})[match.group(2)] = key
    for module, pair in parts.items():
        if set(pair) != {"A", "B"}:
            raise TavidError(f"it has lora_{next(iter(pair))} of {module} but not its partner", where=name,
                             fix="Download the file again.")
        a, b = info.shapes[pair["A"]], info.shapes[pair["B"]]
        if len(a) != 2 or len(b) != 2 or a[0] != rank or b[1] != rank:
            raise TavidError(f"the weights of {module} ({list(a)} and {list(b)}) are not of the rank {rank} its "
                             "metadata declares", where=name, fix="Download the file again.")
    with safe_open(path, framework="pt") as f:
        weights = {module: (f.get_tensor(pair["A"]).float(), f.get_tensor(pair["B"]).float())
                   for module, pair in sorted(parts.items())}
    return LoraFile(path=path, rank=rank, alpha=alpha, speech=speech, weights=weights, info=info)


def check_fits(lora: LoraFile, dit: SpeechDiT) -> None:
    """Refuse a LoRA made for a speech model of another size, before anything is merged."""
    made, have = lora.speech.dit, dit.cfg
    if made.dim != have.dim:
        raise TavidError(f"this LoRA was made for a speech model with dim {made.dim}, the connected one has "
                         f"{have.dim}", where=lora.name, fix=REMAKE)
    modules = dict(dit.named_modules())
    absent = [m for m in lora.weights if not isinstance(modules.get(m), nn.Linear)]
    if absent:
        raise TavidError(f"this LoRA was made for a speech model with {made.depth} blocks, the connected one has "
                         f"{have.depth} (it has no {absent[0]})", where=lora.name, fix=REMAKE)
    expected = {}
    for module, _ in lora.weights.items():
        linear = modules[module]
        expected[f"{BLOCK}.{module}.lora_A.weight"] = (lora.rank, linear.in_features)
        expected[f"{BLOCK}.{module}.lora_B.weight"] = (linear.out_features, lora.rank)
    check_shapes(expected, lora.info, by="the connected speech model")


# --------------------------------------------------------------------------------------------- applying
def _sharing_copy(dit: SpeechDiT) -> SpeechDiT:
    """A copy of `dit` whose parameters are new Parameter objects over the same storage (buffers shared)."""
    memo = {id(p): nn.Parameter(p.detach(), requires_grad=False) for p in dit.parameters()}
    memo.update({id(b): b for b in dit.buffers()})
    return copy.deepcopy(dit, memo)


def _merge(dit: SpeechDiT, lora: LoraFile, strength: float) -> None:
    """Merge `lora` at `strength` into `dit`'s projection weights with peft (inject, load, scale, merge, unwrap)."""
    from peft import inject_adapter_in_model
    inject_adapter_in_model(lora_config(lora.rank, lora.alpha, list(lora.weights)), dit, adapter_name=_MERGING)
    with torch.no_grad():
        for module, (a, b) in lora.weights.items():
            layer = dit.get_submodule(module)
            layer.lora_A[_MERGING].weight.copy_(a)
            layer.lora_B[_MERGING].weight.copy_(b)
            layer.set_scale(_MERGING, strength)
            layer.merge(adapter_names=[_MERGING])
            parent, child = module.rsplit(".", 1)
            setattr(dit.get_submodule(parent), child, layer.get_base_layer())
    if "peft_config" in vars(dit):
        del dit.peft_config


def merged_copy(base: SpeechDiT, loras: Sequence[tuple[LoraFile, float]]) -> SpeechDiT:
    """A copy of `base` with every LoRA merged at its strength, in order (`base` is not modified).
    A LoRA at strength 0 changes nothing and is not merged, so its copy computes bit for bit what `base` does."""
    dit = _sharing_copy(base)
    own: set[str] = set()
    for lora, strength in loras:
        if strength == 0:
            continue
        for module in lora.weights.keys() - own:  # merging writes in place: these get storage of their own
            linear = dit.get_submodule(module)
            linear.weight = nn.Parameter(linear.weight.detach().clone(), requires_grad=False)
            own.add(module)
        _merge(dit, lora, float(strength))
    return dit.eval()


class PatchedSpeechGenerator(NeuralSpeechGenerator):
    """A neural speech generator with LoRAs merged into a copy of its DiT. `base_dit` is the unpatched
    network (shared with the generator it came from, never modified): a further LoRA is merged into a new
    copy of it together with the ones already applied, so a chain equals one call with all of them."""

    def __init__(self, source: NeuralSpeechGenerator, base_dit: SpeechDiT, applied: tuple[tuple[LoraFile, float], ...]):
        super().__init__(merged_copy(base_dit, applied), source.vocoder, source.config, source.precision,
                         source.method)
        self.base_dit = base_dit
        self.applied = applied

    @property
    def loras(self) -> list[tuple[str, float]]:
        """The (file, strength) of every LoRA applied, in order."""
        return [(lora.path, strength) for lora, strength in self.applied]

    def describe(self) -> dict:
        return super().describe() | {"loras": [(os.path.basename(p), s) for p, s in self.loras]}


def apply_loras(generator: NeuralSpeechGenerator, loras: Sequence[tuple[str, float]]) -> PatchedSpeechGenerator:
    """A new generator with each (LoRA file, strength) applied to a copy of `generator`'s DiT, after the
    ones `generator` already carries; `generator` itself is unchanged. Every file is checked (its block,
    its settings, its shapes against the DiT) before anything is merged."""
    if not isinstance(generator, NeuralSpeechGenerator):
        raise TavidError(f"the {getattr(generator, 'name', type(generator).__name__)} engine is not a neural TAVID "
                         "speech model a LoRA could patch", where="speech_model",
                         fix="Load the speech model with TAVID Checkpoint Loader.")
    base = getattr(generator, "base_dit", generator.dit)
    new = []
    for path, strength in loras:
        strength = float(strength)
        if not math.isfinite(strength):
            raise TavidError(f"the strength {strength} is not a finite number", where="strength",
                             fix="Use a value like 1.0.")
        lora = read_lora(path)
        check_fits(lora, base)
        new.append((lora, strength))
    return PatchedSpeechGenerator(generator, base, tuple(getattr(generator, "applied", ())) + tuple(new))


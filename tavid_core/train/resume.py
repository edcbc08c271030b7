"""The whole training state in one safetensors file (no pickle), so a stopped run continues exactly
where it was: on the CPU, resuming from step k and training to n gives the same weights, bit for bit,
as training to n without stopping.

Tensors:
    model.<block>.<name>                   trained networks (parameters and buffers)
    ema.<block>.<name>                     their moving averages
    critic.<block>.<name>                  critics (discriminators)
    optim.<opt>.<group>.<index>.<key>      AdamW moments (`opt` is "model" or "critic", `index` the
                                           parameter's number in the optimiser's state_dict)
    data.generator                         the data-order generator as the current epoch began
    rng.cpu.<rank>, rng.cuda.<rank>        torch's global generators of every process
Everything that is not a tensor (step counts, learning rates, AdamW hyperparameters, the loss
scaler, the task's configuration) is JSON in the metadata key `tavid_resume`.
"""
from __future__ import annotations

import glob
import json
import os
from dataclasses import dataclass, field

import safetensors.torch
import torch
from torch import nn

from ..checkpoints import read_header, write_checkpoint
from ..errors import TavidError
from ..media.files import remove_quietly
from .ema import EMA

RESUME_FILE = "resume.safetensors"
META_KEY = "tavid_resume"
FORMAT = 1
START_OVER = "Delete resume.safetensors (or train into another --out folder) to start over."


@dataclass
class LoopState:
    """Where the loop stands: updates done, and the data order's position."""

    step: int = 0
    epoch: int = 0
    position: int = 0                          # batches of the current epoch already used
    order_generator: torch.Tensor | None = None  # data-order generator state as the epoch began
    rng: dict[str, torch.Tensor] = field(default_factory=dict)  # "cpu.<rank>" / "cuda.<rank>" -> state


# ------------------------------------------------------------------------------------ writing files
def remove_stale_partials(folder: str) -> None:
    """Temporary files a killed process could not remove (SIGKILL, power loss)."""
    for path in glob.glob(os.path.join(folder, ".*.partial.safetensors")):
        remove_quietly(path)


# ----------------------------------------------------------------------------------------- optimisers
def _json_scalar(value) -> dict:
    if isinstance(value, torch.Tensor):
        return {"value": value.item(), "dtype": str(value.dtype).removeprefix("torch.")}
    return {"value": value, "dtype": None}


def _from_json_scalar(item: dict):
    if item["dtype"] is None:
        return item["value"]
    return torch.tensor(item["value"], dtype=getattr(torch, item["dtype"]))


def _optimizer_parts(name: str, optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    state = optimizer.state_dict()
    group_of = {index: g for g, group in enumerate(state["param_groups"]) for index in group["params"]}
    tensors, scalars = {}, {}
    for index, values in state["state"].items():
        for key, value in values.items():
            where = f"{group_of[index]}.{index}.{key}"
            if isinstance(value, torch.Tensor) and value.dim() > 0:
                tensors[f"optim.{name}.{where}"] = value
            else:
                scalars[where] = _json_scalar(value)
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _load_optimizer(name: str, optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict,
                    where: str) -> None:
    groups = [{k: (tuple(v) if isinstance(v, list) and k != "params" else v) for k, v in g.items()}
              for g in meta["param_groups"]]
    have = [len(g["params"]) for g in optimizer.param_groups]
    if [len(g["params"]) for g in groups] != have:
        raise TavidError(f"the {name} optimiser state covers another set of parameters", where=where, fix=START_OVER)
    state: dict[int, dict] = {}
    prefix = f"optim.{name}."
    for key, tensor in tensors.items():
        if key.startswith(prefix):
            _, index, item = key[len(prefix):].split(".", 2)
            state.setdefault(int(index), {})[item] = tensor
    for key, item in meta["scalars"].items():
        _, index, entry = key.split(".", 2)
        state.setdefault(int(index), {})[entry] = _from_json_scalar(item)
    params = [p for g in optimizer.param_groups for p in g["params"]]
    for index, values in state.items():
        for item, value in values.items():
            if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape != params[index].shape:
                raise TavidError(f"the optimiser state {item} of parameter {index} has shape {list(value.shape)}, "
                                 f"the network's is {list(params[index].shape)}", where=where, fix=START_OVER)
    optimizer.load_state_dict({"state": state, "param_groups": groups})


# ------------------------------------------------------------------------------------- save and load
def _prefixed(prefix: str, modules: dict[str, nn.Module]) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{block}.{name}": t for block, m in modules.items() for name, t in m.state_dict().items()}


def save_resume(path: str, *, block: str, config: dict, loop: LoopState, modules: dict[str, nn.Module],
                ema: EMA, critics: dict[str, nn.Module], optimizers: dict[str, torch.optim.Optimizer],
                scaler: torch.amp.GradScaler, extra: dict | None = None) -> None:
    """Write the training state (see the module's docstring) to `path`, atomically."""
    tensors = _prefixed("model", modules) | _prefixed("critic", critics)
    tensors |= {f"ema.{key}": t for key, t in ema.shadow.items()}
    optim_meta = {}
    for name, optimizer in optimizers.items():
        part, meta = _optimizer_parts(name, optimizer)
        tensors |= part
        optim_meta[name] = meta
    if loop.order_generator is not None:
        tensors["data.generator"] = loop.order_generator
    tensors |= {f"rng.{key}": state for key, state in loop.rng.items()}
    meta = {"format": FORMAT, "block": block, "step": loop.step, "epoch": loop.epoch, "position": loop.position,
            "ema_updates": ema.updates, "optimizers": optim_meta, "scaler": scaler.state_dict(), "config": config,
            **(extra or {})}
    write_checkpoint(path, tensors, {META_KEY: json.dumps(meta)})


def _expected(prefix: str, modules: dict[str, nn.Module]) -> dict[str, tuple[int, ...]]:
    return {f"{prefix}.{block}.{n}": tuple(t.shape) for block, m in modules.items() for n, t in m.state_dict().items()}


def _check_fit(header: dict, expected: dict[str, tuple[int, ...]], prefixes: tuple[str, ...], saved_config,
               config: dict, where: str) -> None:
    found = {k: tuple(v["shape"]) for k, v in header.items() if k != "__metadata__" and k.startswith(prefixes)}
    wrong = [f"{k} is missing" for k in expected if k not in found]
    wrong += [f"{k} is {list(found[k])}, the network's is {list(s)}" for k, s in expected.items()
              if k in found and found[k] != s]
    wrong += [f"{k} belongs to no network of this task" for k in found if k not in expected]
    if not wrong:
        return
    differ = sorted(k for k in set(config) | set(saved_config or {}) if (saved_config or {}).get(k) != config.get(k))
    why = f" (its configuration differs in {', '.join(differ)})" if differ else ""
    more = f" and {len(wrong) - 3} more" if len(wrong) > 3 else ""
    raise TavidError("the saved training state does not fit the networks being trained" + why + ": " +
                     "; ".join(wrong[:3]) + more, where=where,
                     fix="It was saved for another configuration. " + START_OVER)


def load_resume(path: str, *, block: str, config: dict, modules: dict[str, nn.Module], ema: EMA,
                critics: dict[str, nn.Module], optimizers: dict[str, torch.optim.Optimizer],
                scaler: torch.amp.GradScaler) -> LoopState:
    """Load a state written by `save_resume` into the given networks, averages and optimisers, after
    checking that every tensor fits them; returns where the loop stood."""
    where = os.path.basename(path)
    header = read_header(path)
    try:
        meta = json.loads(header.get("__metadata__", {})[META_KEY])
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ValueError
    except (KeyError, ValueError, TypeError):
        raise TavidError("the file is not a TAVID training state", where=where, fix=START_OVER) from None
    if meta.get("block") != block:
        raise TavidError(f"the training state is for `tavid train {meta.get('block')}`, not {block}", where=where,
                         fix=START_OVER)
    expected = _expected("model", modules) | _expected("critic", critics)
    expected |= {f"ema.{k}": tuple(t.shape) for k, t in ema.shadow.items()}
    _check_fit(header, expected, ("model.", "critic.", "ema."), meta.get("config"), config, where)
    if set(meta["optimizers"]) != set(optimizers):
        raise TavidError("the training state has other optimisers (critics added or removed)", where=where,
                         fix=START_OVER)
    tensors = safetensors.torch.load_file(path, device="cpu")
    for prefix, group in (("model", modules), ("critic", critics)):
        for name, module in group.items():
            start = f"{prefix}.{name}."
            module.load_state_dict({k[len(start):]: t for k, t in tensors.items() if k.startswith(start)})
    ema.load({k[4:]: t for k, t in tensors.items() if k.startswith("ema.")}, int(meta["ema_updates"]))
    for name, optimizer in optimizers.items():
        _load_optimizer(name, optimizer, tensors, meta["optimizers"][name], where)
    if meta.get("scaler"):
        scaler.load_state_dict(meta["scaler"])
    return LoopState(step=int(meta["step"]), epoch=int(meta["epoch"]), position=int(meta["position"]),
                     order_generator=tensors.get("data.generator"),
                     rng={k[4:]: t for k, t in tensors.items() if k.startswith("rng.")})


def read_resume_step(path: str) -> int | None:
    """The step a training state was saved at, or None when there is no readable state."""
    try:
        return int(json.loads(read_header(path)["__metadata__"][META_KEY])["step"])
    except (TavidError, KeyError, ValueError, TypeError):
        return None

"""Exponential moving average of the trained weights: the averaged weights sample better than the raw
ones (they smooth out the last steps' noise), so they are what a checkpoint holds.

The decay warms up as min(decay, (1 + n) / (10 + n)) after n updates: with a fixed 0.999 a run of a
few hundred steps would save weights that are still mostly the random initialisation.
"""
from __future__ import annotations

import torch
from torch import nn


def ema_decay_at(updates: int, decay: float) -> float:
    """The decay used for update number `updates` (1 for the first)."""
    return min(decay, (1.0 + updates) / (10.0 + updates))


class EMA:
    """Shadow copies (fp32, on the weights' device) of every floating-point parameter of `modules`,
    keyed `<block>.<parameter name>`."""

    def __init__(self, modules: dict[str, nn.Module], decay: float):
        self.decay = decay
        self.updates = 0
        self.shadow: dict[str, torch.Tensor] = {}
        for key, param in _params(modules):
            self.shadow[key] = param.detach().float().clone()

    @torch.no_grad()
    def update(self, modules: dict[str, nn.Module]) -> None:
        self.updates += 1
        weight = 1.0 - ema_decay_at(self.updates, self.decay)
        for key, param in _params(modules):
            self.shadow[key].lerp_(param.detach().float(), weight)

    def state_dicts(self, modules: dict[str, nn.Module]) -> dict[str, torch.Tensor]:
        """The modules' full state (`<block>.<name>`) with averaged parameters; buffers (norm statistics)
        are taken as they are now."""
        out = {}
        for block, module in modules.items():
            owner = {id(p): f"{block}.{n}" for n, p in module.named_parameters()}
            # a weight tied under two names is averaged once and saved under both
            averaged = {f"{block}.{n}": self.shadow.get(owner[id(p)])
                        for n, p in module.named_parameters(remove_duplicate=False)}
            for name, tensor in module.state_dict().items():
                key = f"{block}.{name}"
                shadow = averaged.get(key)
                out[key] = tensor if shadow is None else shadow.to(tensor.dtype)
        return out

    def load(self, shadow: dict[str, torch.Tensor], updates: int) -> None:
        """Restore saved averages (names and shapes are checked by the caller)."""
        for key, tensor in shadow.items():
            self.shadow[key].copy_(tensor)
        self.updates = updates


def _params(modules: dict[str, nn.Module]):
    for block, module in modules.items():
        for name, param in module.named_parameters():
            if param.is_floating_point():
                yield f"{block}.{name}", param

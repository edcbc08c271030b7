"""Data parallel training under torchrun: one process per device, each on its own share of the data,
gradients averaged across processes after every backward pass so all copies stay identical.

Gradients are averaged here, in bucketed all-reduces, rather than by wrapping the networks in
`DistributedDataParallel`: DDP only synchronises what runs through its wrapper's `forward`, while a
`TrainTask` calls its own networks (often only parts of them, or one network several times per step,
as a vocoder's discriminators do). Averaging the gradients of every trained parameter gives the same
update as DDP whatever the task does with its networks.

Outside torchrun (no WORLD_SIZE, or WORLD_SIZE=1) everything here is a no-op.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable, Sequence

import torch
from torch import nn

from ..errors import TavidError
from ..runtime.standalone import pick_device

BUCKET_ELEMENTS = 2 ** 24  # 64 MiB of fp32 per all-reduce: few collectives, bounded extra memory


@dataclass
class DistContext:
    """Where this process stands in a data parallel run."""

    world_size: int = 1
    rank: int = 0
    local_rank: int = 0
    owns_group: bool = False  # this context initialised the process group, so it also ends it

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Only the main process writes files and logs."""
        return self.rank == 0

    def shard(self, order: Sequence[int]) -> list[int]:
        """This process's share of a shuffled order. The order is first padded by wrapping around to a
        multiple of the world size, so every process runs the same number of steps (a process with one
        batch fewer would wait forever in the next all-reduce)."""
        order = list(order)
        if not self.enabled or not order:
            return order
        total = -(-len(order) // self.world_size) * self.world_size
        padded = [order[i % len(order)] for i in range(total)]
        return padded[self.rank::self.world_size]

    def barrier(self) -> None:
        if self.enabled:
            torch.distributed.barrier()

    def broadcast_modules(self, modules: Iterable[nn.Module]) -> None:
        """Copy the main process's weights (and buffers) to all others, as DDP does when it starts:
        the processes may have built their networks from different random states."""
        if not self.enabled:
            return
        with torch.no_grad():
            for module in modules:
                for tensor in list(module.parameters()) + list(module.buffers()):
                    torch.distributed.broadcast(tensor.data, src=0)

    def average_gradients(self, params: Sequence[nn.Parameter]) -> None:
        """Average `.grad` over all processes. A parameter no process gave a gradient keeps `None`
        (AdamW then leaves it alone, as in a single process); one that only some processes reached
        gets the average with zeros for the others, as DDP does."""
        if not self.enabled or not params:
            return
        device = params[0].device
        present = torch.tensor([p.grad is not None for p in params], dtype=torch.float32, device=device)
        torch.distributed.all_reduce(present)
        live = [p for p, n in zip(params, present.tolist()) if n > 0]
        for p in live:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        for bucket in _buckets(live):
            flat = torch.cat([p.grad.reshape(-1).float() for p in bucket])
            torch.distributed.all_reduce(flat)
            flat /= self.world_size
            offset = 0
            for p in bucket:
                n = p.numel()
                p.grad.copy_(flat[offset:offset + n].view_as(p.grad))
                offset += n

    def agree(self, value: int) -> bool:
        """Whether every process holds the same whole number (the step a resume starts from)."""
        if not self.enabled:
            return True
        device = torch.device("cuda", torch.cuda.current_device()) \
            if torch.distributed.get_backend() == "nccl" else torch.device("cpu")
        both = torch.tensor([value, -value], dtype=torch.int64, device=device)
        torch.distributed.all_reduce(both, op=torch.distributed.ReduceOp.MAX)
        return int(both[0]) == -int(both[1])

    def gather(self, tensor: torch.Tensor) -> list[torch.Tensor]:
        """Every process's copy of a small tensor of the same shape (random generator states), on the
        CPU, in rank order; `[tensor]` in a single process."""
        if not self.enabled:
            return [tensor]
        backend = torch.distributed.get_backend()
        device = torch.device("cuda", torch.cuda.current_device()) if backend == "nccl" else torch.device("cpu")
        local = tensor.to(device)
        parts = [torch.empty_like(local) for _ in range(self.world_size)]
        torch.distributed.all_gather(parts, local)
        return [p.cpu() for p in parts]

    def close(self) -> None:
        """Wait for every process, then end the group if this context started it."""
        if not self.enabled:
            return
        torch.distributed.barrier()
        if self.owns_group:
            torch.distributed.destroy_process_group()
            self.owns_group = False


def _buckets(params: Sequence[nn.Parameter]) -> Iterable[list[nn.Parameter]]:
    bucket, size = [], 0
    for p in params:
        if bucket and size + p.numel() > BUCKET_ELEMENTS:
            yield bucket
            bucket, size = [], 0
        bucket.append(p)
        size += p.numel()
    if bucket:
        yield bucket


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise TavidError(f"the environment variable {name}={value!r} is not a whole number", where=name,
                         fix="Start distributed training with torchrun, which sets it.") from None


def setup_distributed(device: str = "auto") -> tuple[DistContext, torch.device]:
    """The process's place in a torchrun job and the device it trains on. Under torchrun with GPUs each
    process takes `cuda:LOCAL_RANK` and the group talks over NCCL; on CPUs over gloo."""
    world = _env_int("WORLD_SIZE", 1)
    rank = _env_int("RANK", 0)
    local = _env_int("LOCAL_RANK", rank)
    if world <= 1:
        return DistContext(), pick_device(device)
    if not 0 <= rank < world:
        raise TavidError(f"RANK {rank} is outside WORLD_SIZE {world}", where="RANK",
                         fix="Start distributed training with torchrun.")
    target = pick_device(device)
    if target.type == "cuda":
        if local >= torch.cuda.device_count():
            raise TavidError(f"process {rank} wants GPU {local} but only {torch.cuda.device_count()} are visible",
                             where="--nproc_per_node", fix="Start at most one process per GPU.")
        target = torch.device("cuda", local)
        torch.cuda.set_device(target)
    owns = False
    if not torch.distributed.is_initialized():
        if target.type == "cuda":
            try:  # binding the group to this GPU avoids NCCL guessing it (torch >= 2.3 takes device_id)
                torch.distributed.init_process_group(backend="nccl", device_id=target)
            except TypeError:
                torch.distributed.init_process_group(backend="nccl")
        else:
            torch.distributed.init_process_group(backend="gloo")
        owns = True
    return DistContext(world_size=world, rank=rank, local_rank=local, owns_group=owns), target

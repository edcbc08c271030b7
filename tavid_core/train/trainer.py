"""The one training loop behind every `tavid train <block>`: AdamW with warm-up and cosine decay, an
EMA of the weights, gradient clipping, mixed precision, deterministic data order, logging, atomic
checkpoints, exact resume and torchrun data parallelism. A `TrainTask` supplies networks, data and
losses; the loop knows nothing about speech or faces.

    trainer = Trainer(task, TrainSettings(steps=20000, batch_size=16), "runs/vocoder")
    result = trainer.run()        # continues from runs/vocoder/resume.safetensors when it exists

Files in the output folder (written by the main process only):
    <task.block>.safetensors   the EMA weights of the trained networks plus the frozen ones, as a TAVID
                               checkpoint ("<block>.<param>" tensors, `tavid_config` metadata)
    resume.safetensors         the full training state (resume.py)
    log.jsonl                  the loss values every `log_every` steps
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any, Iterator

import torch
from torch import nn

from ..checkpoints import write_checkpoint
from ..errors import TavidError
from ..limits import PRECISIONS, is_whole
from ..media.files import check_output_path
from ..runtime.base import DTYPES
from .distributed import DistContext, setup_distributed
from .ema import EMA
from .resume import RESUME_FILE, LoopState, load_resume, remove_stale_partials, save_resume
from .task import TrainTask

LOG_FILE = "log.jsonl"
FINAL_LR_FRACTION = 0.1  # the cosine decays to 10 % of the peak learning rate


def flag(name: str) -> str:
    """The command-line flag of a setting: batch_size -> --batch-size."""
    return "--" + name.replace("_", "-")


def _bad(name: str, message: str, fix: str | None = None) -> TavidError:
    return TavidError(message, where=flag(name), fix=fix)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass
class TrainSettings:
    """Settings shared by every `tavid train`; each mistake names its flag."""

    steps: int
    batch_size: int = 8
    lr: float = 2e-4
    critic_lr: float | None = None    # None: the same as lr
    warmup: int = 100                 # steps of linear warm-up
    weight_decay: float = 0.01        # AdamW; not applied to biases, norms and other 1-D parameters
    betas: tuple[float, float] = (0.9, 0.99)
    grad_clip: float = 1.0            # largest gradient norm; 0 turns clipping off
    ema_decay: float = 0.999
    precision: str = "auto"           # auto: bf16 on a CUDA GPU that has it, else fp32
    save_every: int = 1000            # steps between checkpoints; 0: only at the end
    log_every: int = 10
    seed: int = 0
    device: str = "auto"
    num_workers: int = 0              # DataLoader worker processes for task.collate

    def __post_init__(self):
        for name in ("steps", "batch_size", "log_every"):
            value = getattr(self, name)
            if not is_whole(value) or value < 1:
                raise _bad(name, f"must be a whole number of at least 1, got {value!r}")
        for name in ("warmup", "save_every", "num_workers"):
            value = getattr(self, name)
            if not is_whole(value) or value < 0:
                raise _bad(name, f"must be a whole number of at least 0, got {value!r}")
        if not is_whole(self.seed) or not 0 <= self.seed < 2 ** 63:
            raise _bad("seed", f"must be a whole number from 0 to 2**63 - 1, got {self.seed!r}")
        if not _number(self.lr) or self.lr <= 0:
            raise _bad("lr", f"must be a learning rate above 0, got {self.lr!r}", "Try 2e-4.")
        if self.critic_lr is not None and (not _number(self.critic_lr) or self.critic_lr <= 0):
            raise _bad("critic_lr", f"must be a learning rate above 0, got {self.critic_lr!r}")
        for name in ("weight_decay", "grad_clip"):
            value = getattr(self, name)
            if not _number(value) or value < 0:
                raise _bad(name, f"must be a number of at least 0, got {value!r}")
        if not _number(self.ema_decay) or not 0 <= self.ema_decay < 1:
            raise _bad("ema_decay", f"must be at least 0 and below 1, got {self.ema_decay!r}", "Try 0.999.")
        betas = tuple(self.betas) if isinstance(self.betas, (tuple, list)) else ()
        if len(betas) != 2 or not all(_number(b) and 0 <= b < 1 for b in betas):
            raise _bad("betas", f"must be two numbers from 0 to below 1, got {self.betas!r}", "Try 0.9 0.99.")
        self.betas = (float(betas[0]), float(betas[1]))
        if self.precision not in PRECISIONS:
            raise _bad("precision", f"unknown precision {self.precision!r}", f"Use one of {', '.join(PRECISIONS)}.")
        if not isinstance(self.device, str):
            raise _bad("device", f"must be a device name, got {self.device!r}")
        if self.device != "auto":
            try:
                torch.device(self.device)
            except RuntimeError:
                raise _bad("device", f"unknown device {self.device!r}", "Use auto, cpu, cuda or cuda:N.") from None


@dataclass
class TrainResult:
    losses: list[float]            # the loss of every step this call ran (after a resume: only the new ones)
    final_path: str                # out_dir/<block>.safetensors
    steps_done: int                # updates done in total, resumed ones included
    log_path: str = ""
    extra: dict = field(default_factory=dict)


def lr_factor(step: int, warmup: int, total: int) -> float:
    """The learning rate of update `step` (0 for the first) as a fraction of the peak: linear warm-up
    to 1 over `warmup` updates, then a cosine down to FINAL_LR_FRACTION at the last update."""
    if step < warmup:
        return (step + 1) / warmup
    span = max(1, total - 1 - warmup)
    progress = min(1.0, (step - warmup) / span)
    return FINAL_LR_FRACTION + (1 - FINAL_LR_FRACTION) * 0.5 * (1 + math.cos(math.pi * progress))


def resolve_precision(precision: str, device: torch.device) -> str:
    """fp32, bf16 or fp16 for this device; a choice the device cannot do is an error."""
    cuda = device.type == "cuda"
    bf16_ok = cuda and torch.cuda.is_bf16_supported()
    if precision == "auto":
        return "bf16" if bf16_ok else "fp32"
    if precision == "fp16" and not cuda:
        raise _bad("precision", f"fp16 training needs a CUDA GPU, and this run is on {device.type}",
                   "Use --precision bf16 or fp32.")
    if precision == "bf16" and cuda and not bf16_ok:
        raise _bad("precision", "this GPU has no bfloat16", "Use --precision fp16 or fp32.")
    return precision




def _autocast(device: torch.device, dtype: torch.dtype | None):
    """Mixed precision for the forward passes; weights, gradients and optimiser state stay fp32."""
    return contextlib.nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype)


# --------------------------------------------------------------------------------------- data order
class DataOrder:
    """A fresh permutation of the data set every epoch from one seeded generator (never the global
    RNG), this process's share of it, cut into batches. The state that reproduces a position is the
    generator as the epoch began plus the number of batches used."""

    def __init__(self, size: int, batch_size: int, seed: int, dist: DistContext):
        self.size, self.batch_size, self.dist = size, batch_size, dist
        self.generator = torch.Generator().manual_seed(seed)
        self.epoch, self.position = 0, 0
        self._draw()

    def _draw(self) -> None:
        self.epoch_start = self.generator.get_state()
        shard = self.dist.shard(torch.randperm(self.size, generator=self.generator).tolist())
        full = len(shard) // self.batch_size
        # the ragged last batch is dropped (steady shapes) unless the shard is smaller than one batch
        self.batches = [shard[i * self.batch_size:(i + 1) * self.batch_size] for i in range(full)] or [shard]

    def restore(self, epoch_start: torch.Tensor, epoch: int, position: int) -> None:
        self.generator.set_state(epoch_start)
        self.epoch, self.position = epoch, position
        self._draw()

    def next(self) -> tuple[list[int], tuple[torch.Tensor, int, int]]:
        """The next batch's indices and the state after it (epoch start, epoch, position)."""
        if self.position >= len(self.batches):
            self.epoch, self.position = self.epoch + 1, 0
            self._draw()
        batch = self.batches[self.position]
        self.position += 1
        return batch, (self.epoch_start, self.epoch, self.position)


class _Sampler:
    """An endless batch sampler for the DataLoader. Workers fetch ahead, so the order's state as each
    batch is handed out is queued and popped when the loop takes that batch."""

    def __init__(self, order: DataOrder, states: deque):
        self.order, self.states = order, states

    def __iter__(self):
        while True:
            batch, state = self.order.next()
            self.states.append(state)
            yield batch


def _batches(task: TrainTask, dataset, order: DataOrder, workers: int, seed: int, pin: bool) -> Iterator:
    """(collated batch, order state after it), forever."""
    if workers == 0:
        while True:
            indices, state = order.next()
            yield task.collate([dataset[i] for i in indices]), state
    from torch.utils.data import DataLoader
    states: deque = deque()
    loader = DataLoader(dataset, batch_sampler=_Sampler(order, states), collate_fn=task.collate,
                        num_workers=workers, pin_memory=pin, persistent_workers=True,
                        generator=torch.Generator().manual_seed(seed))  # never draws from the global RNG
    for batch in loader:
        yield batch, states.popleft()


def _to_device(batch: Any, device: torch.device, non_blocking: bool) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=non_blocking)
    if isinstance(batch, dict):
        return {k: _to_device(v, device, non_blocking) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(v, device, non_blocking) for v in batch)
    return batch


# --------------------------------------------------------------------------------------------- loop
def _adamw(modules: dict[str, nn.Module], lr: float, settings: TrainSettings) -> torch.optim.AdamW | None:
    """AdamW with weight decay on matrices and kernels only: decaying gains, biases and norm scales
    pulls them towards 0 for no gain in generalisation."""
    params = [p for m in modules.values() for p in m.parameters() if p.requires_grad]
    if not params:
        return None
    decay = [p for p in params if p.dim() >= 2]
    plain = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": settings.weight_decay}, {"params": plain, "weight_decay": 0.0}]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=lr, betas=settings.betas)


def _check_modules(task: TrainTask) -> tuple[dict, dict, dict]:
    where = f"tavid train {task.block}"
    modules, critics, frozen = dict(task.modules()), dict(task.critics()), dict(task.frozen())
    if not modules:
        raise TavidError("the task has no networks to train", where=where)
    names = list(modules) + list(critics) + list(frozen)
    if len(set(names)) != len(names):
        raise TavidError(f"a network name is used twice among {names}", where=where)
    for name, module in {**modules, **critics, **frozen}.items():
        if not isinstance(module, nn.Module) or "." in name or not name:
            raise TavidError(f"{name!r} must name an nn.Module by a block name without dots", where=where)
    return modules, critics, frozen


class Trainer:
    """Runs a `TrainTask` with `TrainSettings`, writing into `out_dir`. `quiet` hides the progress bar."""

    def __init__(self, task: TrainTask, settings: TrainSettings, out_dir: str, *, quiet: bool = False):
        if not isinstance(settings, TrainSettings):
            raise TypeError("settings must be TrainSettings")
        self.task, self.settings, self.out_dir, self.quiet = task, settings, os.path.abspath(out_dir), quiet
        self.final_path = os.path.join(self.out_dir, f"{task.block}.safetensors")
        self.resume_path = os.path.join(self.out_dir, RESUME_FILE)
        self.log_path = os.path.join(self.out_dir, LOG_FILE)

    # ------------------------------------------------------------------------------------------ run
    def run(self, resume: bool = True) -> TrainResult:
        """Train to `settings.steps` updates, continuing from out_dir/resume.safetensors when `resume`
        and the file exists; write the checkpoint and the training state at the end."""
        try:
            dist, device = setup_distributed(self.settings.device)
        except TavidError as e:
            if e.where != "device":
                raise
            raise TavidError(e.message, where=flag("device"), fix=e.fix) from None
        try:
            result = self._run(dist, device, resume)
        except BaseException:
            if dist.enabled and dist.owns_group:  # no barrier: the other processes may be inside a collective
                torch.distributed.destroy_process_group()
            raise
        dist.close()
        return result

    def _run(self, dist: DistContext, device: torch.device, resume: bool) -> TrainResult:
        s, task = self.settings, self.task
        precision = resolve_precision(s.precision, device)
        if dist.is_main:
            check_output_path(self.final_path, "--out")
            remove_stale_partials(self.out_dir)
        modules, critics, frozen = _check_modules(task)
        try:  # found now, not when the first checkpoint is written hours later
            json.dumps(task.config())
        except (TypeError, ValueError) as e:
            raise TavidError(f"the task's configuration cannot be saved as JSON ({e})",
                             where=f"tavid train {task.block}") from None
        dataset = task.dataset()
        if len(dataset) == 0:
            raise TavidError("the data set is empty", where=f"tavid train {task.block}",
                             fix="Check the manifest: every clip may have been filtered out.")
        for module in frozen.values():
            module.to(device).eval().requires_grad_(False)
        for module in (*modules.values(), *critics.values()):
            module.to(device).train()
        dist.broadcast_modules([*modules.values(), *critics.values()])
        optimizer = _adamw(modules, s.lr, s)
        if optimizer is None:
            raise TavidError("the networks to train have no trainable parameters", where=f"tavid train {task.block}")
        critic_optimizer = _adamw(critics, s.critic_lr or s.lr, s) if critics else None
        optimizers = {"model": optimizer} | ({"critic": critic_optimizer} if critic_optimizer else {})
        params = [p for g in optimizer.param_groups for p in g["params"]]
        critic_params = [p for g in critic_optimizer.param_groups for p in g["params"]] if critic_optimizer else []
        scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
        ema = EMA(modules, s.ema_decay)
        order = DataOrder(len(dataset), s.batch_size, s.seed, dist)
        torch.manual_seed(s.seed + dist.rank)  # the task's own randomness (noise, masks, flow times)

        loop = LoopState(order_generator=order.epoch_start)
        if resume and os.path.exists(self.resume_path):
            loop = load_resume(self.resume_path, block=task.block, config=task.config(), modules=modules, ema=ema,
                               critics=critics, optimizers=optimizers, scaler=scaler)
            order.restore(loop.order_generator, loop.epoch, loop.position)
            self._restore_rng(loop.rng, dist, device)
        if not dist.agree(loop.step):
            raise TavidError("the processes would resume from different steps", where=RESUME_FILE,
                             fix="Every process must see the same output folder (a shared disk).")
        if dist.is_main:
            self._trim_log(loop.step)

        autocast = None if precision == "fp32" else DTYPES[precision]
        losses: list[float] = []
        started = time.monotonic()
        bar = self._progress(loop.step, dist)
        log = open(self.log_path, "a", encoding="utf-8") if dist.is_main else None
        stream = _batches(task, dataset, order, s.num_workers, s.seed, device.type == "cuda")
        try:
            while loop.step < s.steps:
                batch, (loop.order_generator, loop.epoch, loop.position) = next(stream)
                batch = _to_device(batch, device, device.type == "cuda")
                values = self._step(batch, loop.step, device, autocast, scaler, dist, optimizer, params,
                                    critic_optimizer, critic_params)
                ema.update(modules)
                loop.step += 1
                losses.append(values["loss"])
                if bar is not None:
                    bar.update(1)
                if log is not None and (loop.step % s.log_every == 0 or loop.step == s.steps):
                    line = {"step": loop.step, **values, "lr": optimizer.param_groups[0]["lr"],
                            "seconds": round(time.monotonic() - started, 3)}
                    log.write(json.dumps(line) + "\n")
                    log.flush()
                    if bar is not None:
                        bar.set_postfix(loss=f"{values['loss']:.4f}", refresh=False)
                if s.save_every and loop.step % s.save_every == 0 and loop.step < s.steps:
                    self._save(loop, dist, device, precision, modules, frozen, critics, ema, optimizers, scaler)
            self._save(loop, dist, device, precision, modules, frozen, critics, ema, optimizers, scaler)
        finally:
            stream.close()
            if bar is not None:
                bar.close()
            if log is not None:
                log.close()
        return TrainResult(losses=losses, final_path=self.final_path, steps_done=loop.step, log_path=self.log_path,
                           extra={"precision": precision, "device": str(device), "world_size": dist.world_size})

    # ------------------------------------------------------------------------------------ one update
    def _step(self, batch, step: int, device, autocast, scaler, dist: DistContext, optimizer, params,
              critic_optimizer, critic_params) -> dict[str, float]:
        s, task = self.settings, self.task
        factor = lr_factor(step, s.warmup, s.steps)
        values: dict[str, float] = {}
        if critic_optimizer is not None:
            with _autocast(device, autocast):
                critic_loss = task.critic_loss(batch, step)
            if critic_loss is not None:  # None while the critics wait (must not depend on the process)
                critic_optimizer.zero_grad(set_to_none=True)
                scaler.scale(critic_loss).backward()
                values["critic_loss"] = self._finite(critic_loss, "critic loss", step, scaler)
                values["critic_grad_norm"] = self._apply(critic_optimizer, critic_params, s.critic_lr or s.lr, factor,
                                                         scaler, dist)
        for p in critic_params:  # the model's loss reads the critics but must not train them
            p.requires_grad_(False)
        try:
            with _autocast(device, autocast):
                loss, logged = task.loss(batch, step)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
        finally:
            for p in critic_params:
                p.requires_grad_(True)
        values = {"loss": self._finite(loss, "loss", step, scaler), **values}
        values["grad_norm"] = self._apply(optimizer, params, s.lr, factor, scaler, dist)
        scaler.update()
        for key, value in (logged or {}).items():
            values.setdefault(key, float(value))
        return values

    def _apply(self, optimizer, params, lr: float, factor: float, scaler, dist: DistContext) -> float:
        """Average gradients over processes, unscale, clip, and step at the scheduled learning rate."""
        dist.average_gradients(params)
        scaler.unscale_(optimizer)
        clip = self.settings.grad_clip or float("inf")
        norm = torch.nn.utils.clip_grad_norm_([p for p in params if p.grad is not None], clip)
        for group in optimizer.param_groups:
            group["lr"] = lr * factor
        scaler.step(optimizer)
        return float(norm)

    @staticmethod
    def _finite(loss: torch.Tensor, name: str, step: int, scaler) -> float:
        value = float(loss.detach())
        if not math.isfinite(value) and not scaler.is_enabled():  # fp16: the scaler skips the step instead
            raise TavidError(f"the {name} became {value} at step {step + 1}", where="training",
                             fix="Lower --lr, keep --grad-clip on, or train in --precision fp32.")
        return value

    # ---------------------------------------------------------------------------------------- files
    def _save(self, loop: LoopState, dist: DistContext, device, precision: str, modules, frozen, critics, ema,
              optimizers, scaler) -> None:
        """Write the training state and the checkpoint (main process; every process gives its RNG)."""
        cpu = dist.gather(torch.get_rng_state())
        loop.rng = {f"cpu.{rank}": state for rank, state in enumerate(cpu)}
        if device.type == "cuda":
            cuda = dist.gather(torch.cuda.get_rng_state(device))
            loop.rng |= {f"cuda.{rank}": state for rank, state in enumerate(cuda)}
        if not dist.is_main:
            return
        train = {**asdict(self.settings), "steps": loop.step, "target_steps": self.settings.steps,
                 "precision": precision, "device": device.type, "world_size": dist.world_size}
        save_resume(self.resume_path, block=self.task.block, config=self.task.config(), loop=loop, modules=modules,
                    ema=ema, critics=critics, optimizers=optimizers, scaler=scaler, extra={"settings": train})
        tensors = ema.state_dicts(modules)
        tensors |= {f"{block}.{n}": t for block, m in frozen.items() for n, t in m.state_dict().items()}
        write_checkpoint(self.final_path, tensors, {"tavid_config": json.dumps(self.task.config()),
                                               "tavid_train": json.dumps(train)})

    @staticmethod
    def _restore_rng(states: dict[str, torch.Tensor], dist: DistContext, device) -> None:
        """Each process's saved generator; a process the state has none for (more processes than when
        it was saved) keeps its fresh seed."""
        if f"cpu.{dist.rank}" in states:
            torch.set_rng_state(states[f"cpu.{dist.rank}"])
        if device.type == "cuda" and f"cuda.{dist.rank}" in states:
            torch.cuda.set_rng_state(states[f"cuda.{dist.rank}"], device)

    def _trim_log(self, step: int) -> None:
        """Keep the log lines up to `step`: a resumed run redoes the steps after its last save."""
        lines = []
        if step and os.path.exists(self.log_path):
            with open(self.log_path, encoding="utf-8") as f:
                for text in f:
                    try:
                        if json.loads(text)["step"] <= step:
                            lines.append(text)
                    except (ValueError, KeyError, TypeError):
                        continue
        with open(self.log_path, "w", encoding="utf-8") as f:
            f.writelines(lines)

    def _progress(self, initial: int, dist: DistContext):
        if self.quiet or not dist.is_main:
            return None
        from tqdm.auto import tqdm
        return tqdm(total=self.settings.steps, initial=initial, desc=f"train {self.task.block}", unit="step",
                    file=sys.stderr, dynamic_ncols=True)

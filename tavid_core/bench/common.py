"""What every benchmark shares: memory and device figures and how they are printed."""
from __future__ import annotations

import os
import resource
import sys

import torch

from ..errors import TavidError


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, MiB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def sync(device: torch.device) -> None:
    """Wait for the device's queued work, so a wall time covers it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench_device(name: str) -> torch.device:
    """The device `--device` names (auto: a GPU when there is one)."""
    from ..runtime.standalone import pick_device
    try:
        return pick_device(name)
    except TavidError as e:
        raise TavidError(e.message, where="--device", fix=e.fix) from None


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def machine_figures(device: torch.device, precision: torch.dtype) -> dict:
    """Where a bench ran and the memory it peaked at: peak RSS of this process (CPU memory, never reset),
    torch's CPU threads (on a busy machine, more threads than free cores slow a run down many times), and
    on CUDA the peak of allocated GPU memory since the last `reset_peak_memory` and the GPU's name."""
    figures = {"device": str(device), "dtype": str(precision).replace("torch.", ""), "cpus": os.cpu_count(),
               "torch_threads": torch.get_num_threads(), "peak_rss_mb": round(peak_rss_mb())}
    if device.type == "cuda":
        figures["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20)
        figures["gpu"] = torch.cuda.get_device_name(device)
    return figures


def parameter_line(result: dict) -> str:
    return ("  parameters: " + ", ".join(f"{k} {v / 1e6:.2f}M" for k, v in result["parameters"].items())
            + f" (total {result['parameters_total'] / 1e6:.2f}M)")


def memory_line(result: dict) -> str:
    memory = f"  peak RSS {result['peak_rss_mb']} MiB (torch threads: {result['torch_threads']}, CPUs: {result['cpus']})"
    if "peak_gpu_mb" in result:
        memory += f", peak GPU memory {result['peak_gpu_mb']} MiB ({result['peak_gpu_mb'] / 1024:.2f} GiB)"
    return memory

"""`tavid bench speech`: parameters, real-time factor and peak memory of the neural speech side at a
configuration's size. Speed does not depend on what the weights learned, so freshly initialised
networks of the configuration are timed: one utterance of `seconds` of speech (a DiT forward per ODE
step, with text and speaker guidance batched into it, then the vocoder), after one warm-up run.
The face and motion benches (bench_face.py) share the device, memory and formatting helpers here.
"""
from __future__ import annotations

import os
import time

import numpy as np
import torch

from .bench import peak_rss_mb
from .errors import TavidError
from .engines.neural.layers import parameter_count


SPEECH_STEPS = 16


def sync(device: torch.device) -> None:
    """Wait for the device's queued work, so a wall time covers it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench_device(name: str) -> torch.device:
    """The device `--device` names (auto: a GPU when there is one)."""
    from .runtime.standalone import pick_device
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


def bench_speech(config: str = "base", device: str = "auto", steps: int = SPEECH_STEPS, seconds: float = 10.0,
                 dtype: str = "auto", repeat: int = 1) -> dict:
    from .engines.neural.configs import speech_config
    from .engines.neural.inference import precision_for
    from .engines.neural.loader import speech_networks
    from .engines.neural.speech_generator import NeuralSpeechGenerator
    from .pipeline import check_between
    from .limits import STEPS_RANGE
    check_between(steps, STEPS_RANGE, "steps", "--steps", "Use 8 to 64.")
    check_between(seconds, (0.5, 600.0), "the utterance in seconds", "--seconds", "Use 1 to 60.")
    cfg = speech_config(config)
    target = bench_device(device)
    precision = precision_for(dtype, target)
    torch.manual_seed(0)
    networks = speech_networks(cfg)
    params = {block: parameter_count(net) for block, net in networks.items()}
    generator = NeuralSpeechGenerator(networks["speech_model"], networks["vocoder"], cfg, precision)
    for module in generator.modules():
        module.to(target)
    # a transcript whose duration rule gives `seconds` of speech
    frames = int(seconds * cfg.mel.frame_rate)
    length = max(1, round(frames / cfg.dit.frames_per_token))
    text = np.random.default_rng(0).standard_normal((length, cfg.dit.text_dim)).astype(np.float32)
    voice = np.random.default_rng(1).standard_normal(cfg.dit.speaker_dim).astype(np.float32)

    def run() -> float:
        from .engines.neural.dit import generate
        from .engines.neural.inference import autocast, seeded
        sync(target)
        start = time.perf_counter()
        with torch.inference_mode(), autocast(target, precision):
            mel, _ = generate(generator.dit, None, frames, torch.from_numpy(text)[None].to(target),
                              torch.from_numpy(voice)[None].to(target), steps=steps, generator=seeded(0))
            generator.vocoder.vocode(mel.to(target))
        sync(target)
        return time.perf_counter() - start

    reset_peak_memory(target)
    run()  # warm-up: kernels, allocator, caches
    walls = [run() for _ in range(max(1, repeat))]
    audio_s = (frames - 1) * cfg.mel.hop / cfg.mel.sample_rate
    return {"target": "speech", "config": config, "steps": steps, "parameters": params,
            "parameters_total": sum(params.values()), "audio_s": round(audio_s, 2),
            "runs": [{"wall_s": round(w, 3), "rtf": round(w / audio_s, 4)} for w in walls],
            **machine_figures(target, precision)}


def format_speech_bench(result: dict) -> str:
    lines = [f"tavid bench speech: {result['config']} on {result.get('gpu', result['device'])}, {result['dtype']}, "
             f"{result['steps']} steps, {result['audio_s']} s of speech"]
    lines.append(parameter_line(result))
    for i, run in enumerate(result["runs"], 1):
        lines.append(f"  run {i}: {run['wall_s']:.2f} s wall, real-time factor {run['rtf']:.3f}")
    lines.append(memory_line(result))
    return "\n".join(lines)


def parameter_line(result: dict) -> str:
    return ("  parameters: " + ", ".join(f"{k} {v / 1e6:.2f}M" for k, v in result["parameters"].items())
            + f" (total {result['parameters_total'] / 1e6:.2f}M)")


def memory_line(result: dict) -> str:
    memory = f"  peak RSS {result['peak_rss_mb']} MiB (torch threads: {result['torch_threads']}, CPUs: {result['cpus']})"
    if "peak_gpu_mb" in result:
        memory += f", peak GPU memory {result['peak_gpu_mb']} MiB ({result['peak_gpu_mb'] / 1024:.2f} GiB)"
    return memory

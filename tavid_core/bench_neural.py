"""`tavid bench speech`: parameters, real-time factor and peak memory of the neural speech side at a
configuration's size. Speed does not depend on what the weights learned, so freshly initialised
networks of the configuration are timed: one utterance of `seconds` of speech (a DiT forward per ODE
step, with text and speaker guidance batched into it, then the vocoder), after one warm-up run.
"""
from __future__ import annotations

import os
import time

import numpy as np
import torch

from .bench import peak_rss_mb
from .engines.neural.layers import parameter_count


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench_speech(config: str = "base", device: str = "auto", steps: int = 16, seconds: float = 10.0,
                 dtype: str = "auto", repeat: int = 1) -> dict:
    from .engines.neural.configs import speech_config
    from .engines.neural.inference import precision_for
    from .engines.neural.loader import speech_networks
    from .engines.neural.speech_generator import NeuralSpeechGenerator
    from .pipeline import check_between
    from .runtime.standalone import pick_device
    from .limits import STEPS_RANGE
    check_between(steps, STEPS_RANGE, "steps", "--steps", "Use 8 to 64.")
    check_between(seconds, (0.5, 600.0), "the utterance in seconds", "--seconds", "Use 1 to 60.")
    cfg = speech_config(config)
    target = pick_device(device)
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
        _sync(target)
        start = time.perf_counter()
        with torch.inference_mode(), autocast(target, precision):
            mel, _ = generate(generator.dit, None, frames, torch.from_numpy(text)[None].to(target),
                              torch.from_numpy(voice)[None].to(target), steps=steps, generator=seeded(0))
            generator.vocoder.vocode(mel.to(target))
        _sync(target)
        return time.perf_counter() - start

    if target.type == "cuda":
        torch.cuda.reset_peak_memory_stats(target)
    run()  # warm-up: kernels, allocator, caches
    walls = [run() for _ in range(max(1, repeat))]
    audio_s = (frames - 1) * cfg.mel.hop / cfg.mel.sample_rate
    result = {
        "target": "speech", "config": config, "device": str(target), "dtype": str(precision).replace("torch.", ""),
        "steps": steps, "parameters": params, "parameters_total": sum(params.values()),
        "audio_s": round(audio_s, 2), "cpus": os.cpu_count(),
        "runs": [{"wall_s": round(w, 3), "rtf": round(w / audio_s, 4)} for w in walls],
        "peak_rss_mb": round(peak_rss_mb()),
    }
    if target.type == "cuda":
        result["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated(target) / 2**20)
        result["gpu"] = torch.cuda.get_device_name(target)
    return result


def format_speech_bench(result: dict) -> str:
    lines = [f"tavid bench speech: {result['config']} on {result.get('gpu', result['device'])}, {result['dtype']}, "
             f"{result['steps']} steps, {result['audio_s']} s of speech"]
    lines.append("  parameters: " + ", ".join(f"{k} {v / 1e6:.1f}M" for k, v in result["parameters"].items())
                 + f" (total {result['parameters_total'] / 1e6:.1f}M)")
    for i, run in enumerate(result["runs"], 1):
        lines.append(f"  run {i}: {run['wall_s']:.2f} s wall, real-time factor {run['rtf']:.3f}")
    memory = f"peak RSS {result['peak_rss_mb']} MiB"
    if "peak_gpu_mb" in result:
        memory += f", peak GPU memory {result['peak_gpu_mb']} MiB"
    lines.append("  " + memory)
    return "\n".join(lines)

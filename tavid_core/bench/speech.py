"""`tavid bench speech`: parameters, real-time factor and peak memory of the neural speech side at a
configuration's size. Speed does not depend on what the weights learned, so freshly initialised
networks of the configuration are timed: one utterance of `seconds` of speech (a DiT forward per ODE
step, with text and speaker guidance batched into it, then the vocoder), after one warm-up run.
The device, memory and formatting helpers are common.py's, shared with the face and motion benches.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from ..engines.neural.common.layers import parameter_count
from .common import bench_device, machine_figures, memory_line, parameter_line, reset_peak_memory, sync

SPEECH_STEPS = 16


def bench_speech(config: str = "base", device: str = "auto", steps: int = SPEECH_STEPS, seconds: float = 10.0,
                 dtype: str = "auto", repeat: int = 1) -> dict:
    from ..engines.neural.common.inference import precision_for
    from ..engines.neural.speech.config import speech_config
    from ..engines.neural.speech.generator import NeuralSpeechGenerator
    from ..engines.neural.speech.loader import speech_networks
    from ..limits import STEPS_RANGE
    from ..pipeline import check_between
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
        from ..engines.neural.common.inference import autocast, seeded
        from ..engines.neural.speech.dit import generate
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

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


F5_PROMPT_S = 3.0          # the prompt the benchmark's speech imitates
F5_CHARS_PER_S = 15.0      # symbols of text per second of speech (prompt and new speech), as in English


def bench_f5_speech(device: str = "auto", steps: int | None = None, seconds: float = 5.0, dtype: str = "auto",
                    repeat: int = 1) -> dict:
    """F5-TTS v1 Base + Vocos mel-24khz at full size (seeded fresh weights: speed does not depend on them):
    `seconds` of new speech after a 3 s prompt, `steps` Euler steps with guidance batched (cond + uncond),
    then the vocoder. The real-time factor is wall time over the new speech's length, as the reference
    reports it."""
    from ..engines.neural.common.inference import autocast, precision_for, seeded
    from ..engines.neural.speech.f5.config import F5_MEL, F5_V1_BASE, SAMPLING
    from ..engines.neural.speech.f5.dit import F5DiT
    from ..engines.neural.speech.f5.sampler import sample
    from ..engines.neural.speech.f5.vocos import VocosVocoder
    from ..engines.neural.speech.mel import LogMel
    from ..limits import STEPS_RANGE
    from ..pipeline import check_between
    steps = SAMPLING.steps if steps is None else steps
    check_between(steps, STEPS_RANGE, "steps", "--steps", "The reference uses 32.")
    check_between(seconds, (0.5, 19.0), "the new speech in seconds", "--seconds",
                  "Use 1 to 19 (one generation holds about 22 s with its prompt).")
    target = bench_device(device)
    precision = precision_for(dtype, target)
    torch.manual_seed(0)
    dit, vocoder = F5DiT(F5_V1_BASE).eval().to(target), VocosVocoder().eval().to(target)
    params = {"speech_model": parameter_count(dit), "vocoder": parameter_count(vocoder)}
    rng = np.random.default_rng(0)
    prompt = torch.from_numpy(0.1 * rng.standard_normal(int(F5_PROMPT_S * F5_MEL.sample_rate)).astype(np.float32))
    with torch.inference_mode():
        prompt_mel = LogMel(F5_MEL).to(target)(prompt[None].to(target))
    new_frames = int(seconds * F5_MEL.frame_rate)
    frames = prompt_mel.shape[1] - 1 + new_frames
    symbols = int(F5_CHARS_PER_S * (F5_PROMPT_S + seconds))
    text = torch.from_numpy(rng.integers(1, F5_V1_BASE.vocab_size, (1, symbols))).to(target)

    def run() -> float:
        sync(target)
        start = time.perf_counter()
        with torch.inference_mode():
            with autocast(target, precision):
                mel = sample(dit, prompt_mel, text, frames, generator=seeded(0), steps=steps, cfg=SAMPLING.cfg,
                             sway=SAMPLING.sway)
            vocoder.vocode(mel[:, prompt_mel.shape[1] - 1:].float())
        sync(target)
        return time.perf_counter() - start

    reset_peak_memory(target)
    run()  # warm-up: kernels, allocator, caches
    walls = [run() for _ in range(max(1, repeat))]
    audio_s = new_frames * F5_MEL.hop / F5_MEL.sample_rate
    return {"target": "speech", "engine": "f5", "config": "F5TTS_v1_Base + vocos-mel-24khz", "steps": steps,
            "parameters": params, "parameters_total": sum(params.values()), "audio_s": round(audio_s, 2),
            "runs": [{"wall_s": round(w, 3), "rtf": round(w / audio_s, 4)} for w in walls],
            **machine_figures(target, precision)}

"""`tavid bench motion`: the neural motion mapper on a conversation of given length, at a configuration's size."""
from __future__ import annotations

import time

import numpy as np
import torch

from ..engines.neural.motion.config import DEFAULT_STEPS as MOTION_STEPS
from ..types import Segment, Speech
from .common import bench_device, machine_figures, memory_line, parameter_line, reset_peak_memory, sync

MOTION_SECONDS = (1.0, 3600.0)
TURN_S, GAP_S = 4.0, 0.4   # the bench conversation: alternating turns of TURN_S with GAP_S between them


def bench_speech_input(seconds: float, hidden_dim: int, seed: int = 0) -> Speech:
    """`seconds` of a two-person conversation as the neural speech generator hands it to the motion
    mapper: alternating turns, the named features and `hidden_dim` hidden ones at its feature rate,
    random (seeded) where a person speaks and zero where they are quiet; silent tracks (only their
    length is read)."""
    from ..analysis.audio_features import SPEECH_FEATURES
    from ..engines.neural.speech.config import MelConfig
    from ..engines.neural.speech.features import FEATURE_STRIDE
    mel = MelConfig()
    rate = mel.frame_rate / FEATURE_STRIDE
    timeline, start, turn = [], 0.0, 0
    while start < seconds:
        timeline.append(Segment(turn=turn, speaker=turn % 2, start_s=start, end_s=min(start + TURN_S, seconds),
                                text="bench"))
        start, turn = start + TURN_S + GAP_S, turn + 1
    # the timeline alone first: it says who speaks when, which the features follow
    speech = Speech(sample_rate=mel.sample_rate, tracks=np.zeros((2, int(seconds * mel.sample_rate)), np.float32),
                    timeline=tuple(timeline), features=np.zeros((2, 1, 1), np.float32), feature_rate=rate)
    frames = int(np.ceil(seconds * rate))
    rng = np.random.default_rng(seed)
    named = rng.uniform(0, 1, (2, frames, len(SPEECH_FEATURES)))
    features = np.concatenate([named, rng.standard_normal((2, frames, hidden_dim))], axis=2).astype(np.float32)
    times = (np.arange(frames) + 0.5) / rate
    features *= np.stack([speech.activity_at(p, times) for p in (0, 1)])[..., None]
    names = SPEECH_FEATURES + tuple(f"hidden_{k}" for k in range(hidden_dim))
    return Speech(sample_rate=speech.sample_rate, tracks=speech.tracks, timeline=speech.timeline,
                  features=features, feature_rate=rate, feature_names=names)


def bench_motion(config: str = "base", device: str = "auto", steps: int = MOTION_STEPS, seconds: float = 60.0,
                 dtype: str = "auto") -> dict:
    """Both people's motion for `seconds` of conversation (see the module docstring)."""
    from ..engines.neural.common.inference import precision_for
    from ..engines.neural.common.layers import parameter_count
    from ..engines.neural.common.windows import windows
    from ..engines.neural.motion.config import motion_config
    from ..engines.neural.motion.engine import NeuralMotionMapper
    from ..engines.neural.motion.net import MotionMapperNet
    from ..limits import STEPS_RANGE
    from ..pipeline import check_between
    from ..runtime import StandaloneRuntime
    check_between(steps, STEPS_RANGE, "steps", "--steps", f"Use 8 to 32 ({MOTION_STEPS} is the default).")
    check_between(seconds, MOTION_SECONDS, "the conversation in seconds", "--seconds", "Use 10 to 600.")
    mc = motion_config(config)
    target = bench_device(device)
    precision = precision_for(dtype, target)
    torch.manual_seed(0)
    mapper = NeuralMotionMapper(MotionMapperNet(mc), precision, steps=steps)
    runtime = StandaloneRuntime(device=str(target), quiet=True)

    def run(speech: Speech) -> float:
        sync(target)
        start = time.perf_counter()
        mapper.map(speech, runtime=runtime, fps=mc.fps, seed=0)
        sync(target)
        return time.perf_counter() - start

    run(bench_speech_input(mc.window_frames / mc.fps, mc.hidden_dim))   # warm-up: one window
    speech = bench_speech_input(seconds, mc.hidden_dim)
    reset_peak_memory(target)
    wall = run(speech)
    frames = speech.num_frames(mc.fps)
    params = {"motion_mapper": parameter_count(mapper.net)}
    return {"target": "motion", "config": config, "steps": steps, "seconds": seconds, "fps": mc.fps,
            "frames": 2 * frames, "windows_per_person": len(windows(frames, mc.window_frames, mc.overlap_frames)),
            "parameters": params, "parameters_total": sum(params.values()), "wall_s": round(wall, 6),
            "frames_per_s": round(2 * frames / wall, 4), "rtf": round(wall / seconds, 5),
            **machine_figures(target, precision)}


def format_motion_bench(result: dict) -> str:
    lines = [f"tavid bench motion: {result['config']} on {result.get('gpu', result['device'])}, {result['dtype']}, "
             f"{result['steps']} steps, {result['seconds']:g} s of conversation ({result['frames']} frames at "
             f"{result['fps']:g} fps for both people, {result['windows_per_person']} windows each)",
             parameter_line(result),
             f"  {result['wall_s']:.2f} s wall: {result['frames_per_s']:.1f} frames/s, "
             f"real-time factor {result['rtf']:.4f}",
             memory_line(result)]
    return "\n".join(lines)

"""`tavid bench face`: parameters, speed and peak memory of the neural face model at a configuration's size.

As in `tavid bench speech` (speech.py), freshly initialised networks of the configuration are
timed, since speed does not depend on what the weights learned, after one warm-up run of one window:
- face: one person's face, a sample portrait prepared (dlib, VAE encoding) outside the timing, then
  `frames` frames of a gentle nod rendered window by window (by default two windows, so the join with
  its prompt and cross-fade is timed too) and decoded by the VAE.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from ..errors import TavidError
from ..types import EXPR_CHANNELS, Motion
from .common import bench_device, machine_figures, memory_line, parameter_line, reset_peak_memory, sync

FACE_STEPS = 8
MAX_FRAMES = 25 * 600      # ten minutes of one face at 25 fps


# where a sampling setting's error is reported on the command line
_SAMPLING_FLAGS = {"sampler": "--sampler", "steps": "--steps", "cfg_motion": "--cfg", "cfg_identity": "--cfg"}


def nod(frames: int, fps: float = 25.0) -> Motion:
    """A gentle nod with the mouth opening and closing: every frame's maps and vector differ, as in a
    real conversation."""
    t = np.arange(frames, dtype=np.float32)
    pose = np.zeros((frames, 6), np.float32)
    pose[:, 1], pose[:, 5] = 0.15 * np.sin(t / 4), 1.0
    expr = np.zeros((frames, len(EXPR_CHANNELS)), np.float32)
    expr[:, EXPR_CHANNELS.index("jaw_open")] = 0.5 + 0.5 * np.sin(t / 2)
    return Motion(fps=fps, pose=pose, expr=expr, speaking=np.ones(frames, np.float32))


def face_sampling(sampler: str, steps: int, cfg: float, prediction: str) -> tuple:
    """The settings `render` gets and what they resolve to (Sampling, sampler, scheduler), mistakes
    reported under the flag that sets them."""
    from ..engines.neural.face.model import sampling_of
    from ..engines.neural.sampling.schedulers import resolve
    from ..engines.protocols import SamplerSettings
    settings = SamplerSettings(sampler=sampler, steps=steps, cfg=cfg, seed=0)
    try:
        sampling = sampling_of(settings)
        return settings, sampling, resolve(sampling, prediction)
    except TavidError as e:
        raise TavidError(e.message, where=_SAMPLING_FLAGS.get(e.where, e.where), fix=e.fix) from None


def bench_face(config: str = "base", device: str = "auto", steps: int = FACE_STEPS, size: int | None = None,
               frames: int | None = None, dtype: str = "auto", sampler: str = "auto", cfg: float = 2.0) -> dict:
    """Render `frames` frames of one face at `size` px (default: the configuration's training size;
    frames default: two windows' worth) and report the figures (see the module docstring)."""
    from dataclasses import replace

    from ..engines.neural.common.inference import precision_for
    from ..engines.neural.common.layers import parameter_count
    from ..engines.neural.common.windows import windows
    from ..engines.neural.face.denoiser import FaceDenoiser, face_config
    from ..engines.neural.face.model import NeuralFaceModel
    from ..engines.neural.face.vae import FaceVAE, vae_config
    from ..engines.neural.sampling.guidance import guidance_passes
    from ..examples import sample_portrait
    from ..limits import MAX_SIZE, MIN_SIZE, STEPS_RANGE
    from ..pipeline import check_between
    from ..runtime import StandaloneRuntime
    fc = face_config(config)
    size = fc.train_size if size is None else size
    frames = 2 * fc.window - fc.overlap if frames is None else frames
    check_between(steps, STEPS_RANGE, "steps", "--steps", "Use 8 to 30.")
    check_between(size, (MIN_SIZE, MAX_SIZE), "the face size in pixels", "--size", f"Use {fc.train_size}.")
    check_between(frames, (1, MAX_FRAMES), "frames", "--frames", f"Use {2 * fc.window - fc.overlap} (two windows).")
    settings, sampling, (sampler_name, scheduler_name) = face_sampling(sampler, steps, cfg, fc.prediction)
    target = bench_device(device)
    precision = precision_for(dtype, target)
    torch.manual_seed(0)
    model = NeuralFaceModel(FaceDenoiser(fc).eval(), FaceVAE(vae_config(config)).eval(), fc, precision)
    try:
        model.check_size(size)
    except TavidError as e:
        raise TavidError(e.message, where="--size", fix=e.fix) from None
    runtime = StandaloneRuntime(device=str(target), quiet=True)
    face = model.prepare(sample_portrait("grace_hopper"), size=size, runtime=runtime)

    def render(count: int, steps_: int) -> float:
        sync(target)
        start = time.perf_counter()
        with torch.inference_mode():
            for _ in model.render_chunks(face, nod(count), runtime=runtime, settings=replace(settings, steps=steps_)):
                pass
        sync(target)
        return time.perf_counter() - start

    # warm-up: one window of the same shape and guidance batch (one step is enough for kernels and the allocator)
    render(min(frames, fc.window), 1)
    reset_peak_memory(target)
    wall = render(frames, steps)
    params = {"denoiser": parameter_count(model.denoiser), "vae": parameter_count(model.vae)}
    return {"target": "face", "config": config, "size": size, "frames": frames, "steps": steps,
            "sampler": sampler_name, "scheduler": scheduler_name, "cfg": cfg,
            "guidance_passes": len(guidance_passes(sampling.cfg_identity, sampling.cfg_motion)),
            "window": fc.window, "overlap": fc.overlap, "windows": len(windows(frames, fc.window, fc.overlap)),
            "parameters": params, "parameters_total": sum(params.values()), "wall_s": round(wall, 6),
            "frames_per_s": round(frames / wall, 4), "s_per_frame": round(wall / frames, 6),
            **machine_figures(target, precision)}


def format_face_bench(result: dict) -> str:
    passes = result["guidance_passes"]
    lines = [f"tavid bench face: {result['config']} on {result.get('gpu', result['device'])}, {result['dtype']}, "
             f"{result['size']} px, {result['frames']} frames in {result['windows']} windows of {result['window']} "
             f"(overlap {result['overlap']})",
             f"  sampling: {result['sampler']} / {result['scheduler']}, {result['steps']} steps, cfg {result['cfg']:g} "
             f"({passes} denoiser pass{'es' if passes > 1 else ''} per step)",
             parameter_line(result),
             f"  {result['wall_s']:.2f} s wall: {result['frames_per_s']:.3f} frames/s per face, "
             f"{result['s_per_frame']:.3f} s per frame",
             memory_line(result)]
    return "\n".join(lines)

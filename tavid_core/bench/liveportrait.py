"""`tavid bench face --engine liveportrait`: frames per second of one LivePortrait face, the time of each network
and peak memory, at full size with random weights (speed does not depend on what the weights learned).

A sample portrait is prepared (cropped, its features and keypoints read once: the appearance and motion
networks' times), one batch is rendered to warm up (and compile, with --compile), then `frames` frames of a
gentle nod with the mouth moving. On a GPU the frames are rendered twice: once as they are, for frames per second
and peak memory, once with each network timed (that needs a synchronisation per network call); on a CPU once,
timed. What the networks do not take is the keypoints' driving and the paste-back into the portrait.
"""
from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager

import torch

from .common import bench_device, machine_figures, memory_line, parameter_line, reset_peak_memory, sync
from .face import MAX_FRAMES, nod

PER_FRAME = ("warping", "generator", "stitching")   # the networks every frame runs
PER_FACE = ("appearance", "motion")                # those a face runs once, in prepare


@contextmanager
def timed_networks(named: dict[str, torch.nn.Module], device: torch.device):
    """Seconds spent in each network's forward while inside, {name: [seconds, calls]} (synchronised on a GPU)."""
    spent: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
    handles = []
    for name, module in named.items():
        def before(_m, _args, name=name):
            sync(device)
            spent[name].append(time.perf_counter())

        def after(_m, _args, _out, name=name):
            sync(device)
            total = spent[name]
            total[0] += time.perf_counter() - total.pop()
            total[1] += 1

        handles += [module.register_forward_pre_hook(before), module.register_forward_hook(after)]
    try:
        yield spent
    finally:
        for h in handles:
            h.remove()


def bench_liveportrait(device: str = "auto", dtype: str = "auto", size: int = 512, frames: int | None = None,
                       batch: int | None = None, compile: bool = False, config=None) -> dict:
    """The figures of the module docstring; `config`: another LivePortraitConfig than the published one (tests)."""
    from ..engines.neural.common.inference import precision_for
    from ..engines.neural.common.layers import parameter_count
    from ..engines.neural.face.liveportrait.config import LivePortraitConfig
    from ..engines.neural.face.liveportrait.engine import LivePortraitFaceModel
    from ..engines.neural.face.liveportrait.networks import build_networks
    from ..examples import sample_portrait
    from ..limits import MAX_SIZE, MIN_SIZE
    from ..pipeline import check_between
    from ..runtime import StandaloneRuntime
    target = bench_device(device)
    check_between(size, (MIN_SIZE, MAX_SIZE), "the face size in pixels", "--size", "Use 512.")
    if batch is not None:
        check_between(batch, (1, 256), "frames per batch", "--batch", "Use 8 on a GPU, 2 on a CPU.")
    torch.manual_seed(0)
    config = config or LivePortraitConfig()
    networks = build_networks(config)
    for module in networks.named().values():
        module.eval().requires_grad_(False)
    model = LivePortraitFaceModel(networks, config, precision=precision_for(dtype, target), batch=batch,
                                  compile=compile)
    step = model.frames_per_batch(target)
    frames = (4 if target.type == "cpu" else 25 * step) if frames is None else frames
    check_between(frames, (1, MAX_FRAMES), "frames", "--frames", "Use 200 on a GPU, 4 on a CPU.")
    frames = -(-frames // step) * step   # whole batches: a compiled network would recompile for a shorter one
    runtime = StandaloneRuntime(device=str(target), quiet=True)
    photo = sample_portrait("grace_hopper")
    named = networks.named()

    with timed_networks({k: named[k] for k in PER_FACE}, target) as once:
        face = model.prepare(photo, size=size, runtime=runtime)
    model.render(face, nod(step), runtime=runtime)   # warm-up (kernels, allocator, compilation)

    def render() -> float:
        sync(target)
        start = time.perf_counter()
        for _ in model.render_chunks(face, nod(frames), runtime=runtime, chunk=max(step, 25 // step * step)):
            pass
        sync(target)
        return time.perf_counter() - start

    reset_peak_memory(target)
    if target.type != "cpu":   # the plain run gives speed and memory; the timed one waits for every network
        wall, figures = render(), machine_figures(target, model.precision)
    with timed_networks({k: model.network(k, target) for k in PER_FRAME}, target) as spent:
        timed_wall = render()
    if target.type == "cpu":
        wall, figures = timed_wall, machine_figures(target, model.precision)
    per_frame = {k: round(spent[k][0] / frames * 1000, 3) for k in PER_FRAME}
    per_frame["driving_and_paste"] = round(max(timed_wall / frames * 1000 - sum(per_frame.values()), 0.0), 3)
    params = {k: parameter_count(m) for k, m in named.items()}
    return {"target": "face", "engine": "liveportrait", "size": size, "render_size": model.config.render_size,
            "frames": frames, "batch": step, "compile": compile and target.type == "cuda",
            "parameters": params, "parameters_total": sum(params.values()),
            "prepare_ms": {k: round(once[k][0] * 1000, 1) for k in PER_FACE}, "per_frame_ms": per_frame,
            "wall_s": round(wall, 6), "frames_per_s": round(frames / wall, 4), "s_per_frame": round(wall / frames, 6),
            **figures}


def format_liveportrait_bench(result: dict) -> str:
    prepare = ", ".join(f"{k} {v:.0f} ms" for k, v in result["prepare_ms"].items())
    frame = ", ".join(f"{k.replace('_', ' ')} {v:.1f} ms" for k, v in result["per_frame_ms"].items())
    return "\n".join([
        f"tavid bench face: LivePortrait on {result.get('gpu', result['device'])}, {result['dtype']}, "
        f"{result['render_size']} px faces into {result['size']} px portraits, {result['frames']} frames in batches of "
        f"{result['batch']}{', compiled' if result['compile'] else ''}",
        parameter_line(result),
        f"  once per face: {prepare}",
        f"  per frame: {frame}",
        f"  {result['wall_s']:.2f} s wall: {result['frames_per_s']:.3f} frames/s per face, "
        f"{result['s_per_frame'] * 1000:.1f} ms per frame",
        memory_line(result)])


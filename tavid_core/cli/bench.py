"""`tavid bench`: the figures of a benchmark (tavid_core.bench) printed as text or JSON."""
from __future__ import annotations

import argparse

from ..errors import TavidError
from ..limits import PRECISIONS, SAMPLERS


def cmd_bench(args) -> int:
    import json

    from ..bench.evaluate import bench_eval
    from ..bench.pipeline import bench_pipeline
    if args.target in ("speech", "face", "motion"):
        result, text = neural_bench(args)
        print(json.dumps(result, indent=2) if args.json else text(result))
        return 0
    if args.target == "eval":
        from ..eval import check_eval_packages
        check_eval_packages()
        result = bench_eval(video=args.video, timeline=args.timeline, repeat=args.repeat)
    else:
        size = 512 if args.size is None else args.size
        result = bench_pipeline(seconds=args.seconds, size=size, fps=args.fps, repeat=args.repeat)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    if args.target == "eval":
        print(f"tavid bench eval: {result['video']} ({result['video_s']:.1f} s of video), "
              f"{result['cpus']} CPUs, peak RSS {result['peak_rss_mb']} MiB")
    else:
        print(f"tavid bench pipeline: built-in engines, {result['size']} px per face at {result['fps']:g} fps, "
              f"{result['cpus']} CPUs")
    for i, run in enumerate(result["runs"], 1):
        stages = ", ".join(f"{k} {v:.1f} s" for k, v in run["stages_s"].items())
        length = f"{run['video_s']:.1f} s of video: " if "video_s" in run else ""
        memory = f", peak RSS {run['peak_rss_mb']} MiB" if "peak_rss_mb" in run else ""
        print(f"  run {i}: {length}{run['wall_s']:.1f} s wall, real-time factor {run['rtf']:.2f}{memory} ({stages})")
    return 0


def neural_bench(args):
    """The figures of `tavid bench speech|face|motion` and their formatter."""
    from ..bench.face import FACE_STEPS, bench_face, format_face_bench
    from ..bench.motion import MOTION_STEPS, bench_motion, format_motion_bench
    from ..bench.speech import SPEECH_STEPS, bench_speech, format_speech_bench
    engine_target = {"f5": "speech", "liveportrait": "face"}.get(args.engine, args.target)
    if engine_target != args.target:
        raise TavidError(f"--engine {args.engine} is a {engine_target} engine", where=f"tavid bench {args.target}",
                         fix=f"Use tavid bench {engine_target} --engine {args.engine}, or leave --engine out.")
    if args.target == "speech" and args.engine == "f5":
        from ..bench.speech import bench_f5_speech
        return bench_f5_speech(device=args.device, steps=args.steps, seconds=args.seconds[0], dtype=args.dtype,
                               repeat=args.repeat), format_speech_bench
    common = dict(config=args.config, device=args.device, dtype=args.dtype)
    steps = {"face": FACE_STEPS, "motion": MOTION_STEPS, "speech": SPEECH_STEPS}[args.target]
    common["steps"] = steps if args.steps is None else args.steps
    if args.target == "face" and args.engine == "liveportrait":
        from ..bench.liveportrait import bench_liveportrait, format_liveportrait_bench
        return bench_liveportrait(device=args.device, dtype=args.dtype, size=512 if args.size is None else args.size,
                                  frames=args.frames, batch=args.batch, compile=args.compile), format_liveportrait_bench
    if args.target == "face":
        return bench_face(size=args.size, frames=args.frames, sampler=args.sampler, cfg=args.cfg,
                          **common), format_face_bench
    if args.target == "motion":
        return bench_motion(seconds=args.seconds[0], **common), format_motion_bench
    return bench_speech(seconds=args.seconds[0], repeat=args.repeat, **common), format_speech_bench


DESCRIPTION = ("Benchmarks run on this machine. pipeline renders dialogues made of the example's turns with the "
               "sample portraits, one process per run, so each peak RSS is that render's own. The first evaluation "
               "on a new machine also compiles librosa's code once (about 20 s), so use eval --repeat 2 to see both.")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    bench = sub.add_parser("bench", help="wall time, real-time factor and peak memory of a job", description=DESCRIPTION)
    bench.add_argument("target", choices=("eval", "pipeline", "speech", "face", "motion"),
                       help="eval: tavid eval on a video; pipeline: render dialogues with the built-in engines; "
                            "speech, face, motion: the neural speech side, face model or motion mapper at a "
                            "configuration's size (freshly initialised networks)")
    bench.add_argument("--video", help="eval: video to evaluate (default: render the README main job first)")
    bench.add_argument("--timeline", help="eval: its timeline JSON (default: the one beside it)")
    bench.add_argument("--seconds", type=float, nargs="+", default=[60.0],
                       help="pipeline: dialogue lengths to render, each in a fresh process; speech: length of the "
                            "utterance to generate; motion: length of the conversation (default: 60)")
    bench.add_argument("--engine", default="tavid", choices=("tavid", "f5", "liveportrait"),
                       help="speech: TAVID's own networks at --config's size, or f5 (F5-TTS v1 Base with Vocos); "
                            "face: TAVID's face diffusion model at --config's size, or liveportrait at full size; "
                            "random weights either way (default: %(default)s)")
    bench.add_argument("--config", default="base",
                       help="speech, face, motion: tiny, small or base (default: %(default)s)")
    bench.add_argument("--device", default="auto",
                       help="speech, face, motion: auto, cpu or cuda (default: %(default)s)")
    bench.add_argument("--steps", type=int,
                       help="speech, motion: ODE steps (default: 16; F5-TTS: 32); face: sampling steps (default: 8)")
    bench.add_argument("--dtype", default="auto", choices=PRECISIONS,
                       help="speech, face, motion: precision (default: %(default)s)")
    bench.add_argument("--size", type=int,
                       help="pipeline: pixels per face (default: 512); face: the same (default: the configuration's "
                            "training size, 512 for base)")
    bench.add_argument("--frames", type=int,
                       help="face: frames to render (default: two windows' worth, so a window join is timed; "
                            "liveportrait: 4 on a CPU, 25 batches on a GPU)")
    bench.add_argument("--batch", type=int,
                       help="face, liveportrait: frames per batch (default: 8 on a GPU, 2 on a CPU)")
    bench.add_argument("--compile", action="store_true",
                       help="face, liveportrait: torch.compile the per-frame networks (GPU only)")
    bench.add_argument("--sampler", default="auto", choices=SAMPLERS, help="face: sampler (default: %(default)s)")
    bench.add_argument("--cfg", type=float, default=2.0,
                       help="face: guidance on identity and motion, 3 denoiser passes per step (default: "
                            "%(default)s; 0 is none: 1 pass)")
    bench.add_argument("--fps", type=float, default=25.0, help="pipeline: frames per second (default: %(default)s)")
    bench.add_argument("--repeat", type=int, default=1, help="runs (default: %(default)s)")
    bench.add_argument("--json", action="store_true", help="print the figures as JSON")
    bench.set_defaults(func=cmd_bench)

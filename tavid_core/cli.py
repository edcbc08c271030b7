"""The `tavid` command.

    tavid generate [--script PATH] [--face-a IMG] [--face-b IMG] [-o OUT.mp4] [--seed N] [--fps N] [--size PX]
                   [--pitch-a/-b SEMITONES] [--speed-a/-b FACTOR] [--mirror auto|never] ...
    tavid voices                  list the built-in voices
    tavid samples --out DIR       write the two sample portraits (e.g. into ComfyUI/input)
    tavid strip VIDEO -o PNG      a picture of captioned frames of a video
    tavid eval VIDEO [--timeline JSON] [--script TXT] [--ref-a IMG --ref-b IMG] [--json]
                                  measure a two-person conversation video on four dimensions
    tavid bench eval [--video VIDEO] [--repeat N]   time and memory of a job
    tavid bench speech --config base [--device cuda] [--steps N] [--dtype bf16] [--json]
    tavid bench face --config base [--device cuda] [--steps N] [--size PX] [--frames N] [--cfg W] [--json]
    tavid bench motion --config base [--device cuda] [--steps N] [--seconds S] [--json]
    tavid train speech|vocoder|speaker-mapper ...   see cli_train.py

Mistakes (a bad script line, a photo without a face) end with exit code 2 and one line saying what
and where; nothing is printed from deep inside the libraries.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from dataclasses import fields
from pathlib import Path

from .cli_train import add_parsers as add_train_parsers
from .compose import LAYOUTS
from .errors import TavidError
from .limits import MAX_MINUTES, MIRROR_MODES, PITCH_SHIFT_RANGE, SAMPLERS, SCHEDULERS, SPEAKERS, SPEED_RANGE

EXAMPLE_SCRIPT = Path(__file__).resolve().parent.parent / "workflows" / "example_dialogue.txt"


def example_script_path() -> str:
    if not EXAMPLE_SCRIPT.is_file():
        raise TavidError("the example script ships with the repository checkout and is not here",
                         where="--script", fix="Pass your own script: --script dialogue.txt")
    return str(EXAMPLE_SCRIPT)


def _face(path: str | None, sample: str, which: str):
    from .media import load_image, sample_portrait
    if path is None:
        return sample_portrait(sample), f"sample:{sample}"
    try:
        return load_image(path), path
    except TavidError as e:
        raise e.located(f"--face-{which}") from None


def checked_settings(settings):
    """The settings, or their first mistake reported under the flag that sets it (pitch_b -> --pitch-b)."""
    from .pipeline import GenerateSettings
    try:
        settings.check()
    except TavidError as e:
        if e.where not in {f.name for f in fields(GenerateSettings)}:
            raise
        raise TavidError(e.message, where="--" + e.where.replace("_", "-"), fix=e.fix) from None
    return settings


def cmd_generate(args) -> int:
    from .dialogue import read_script
    from .engines.protocols import SamplerSettings
    from .pipeline import GenerateSettings, TavidPipeline
    from .runtime import StandaloneRuntime

    settings = checked_settings(GenerateSettings(
        fps=args.fps, size=args.size, seed=args.seed, layout=args.layout, voice_a=args.voice_a, voice_b=args.voice_b,
        pitch_a=args.pitch_a, pitch_b=args.pitch_b, speed_a=args.speed_a, speed_b=args.speed_b,
        expressiveness=args.expressiveness, mirror=args.mirror,
        sampler=SamplerSettings(sampler=args.sampler, scheduler=args.scheduler, steps=args.steps, cfg=args.cfg,
                                identity_cfg=args.identity_cfg, seed=args.seed),
        max_minutes=args.max_minutes))
    script = args.script or example_script_path()
    dialogue = read_script(script)
    face_a, source_a = _face(args.face_a, "grace_hopper", "a")
    face_b, source_b = _face(args.face_b, "astronaut", "b")
    output = args.output
    if os.path.isdir(output):
        raise TavidError("is a folder", where=f"-o {output}", fix="Give a file name such as out.mp4.")
    runtime = StandaloneRuntime(device=args.device, quiet=args.quiet)
    if args.engines:
        pipeline = TavidPipeline.from_checkpoints(engine_files(args.engines), runtime, dtype=args.dtype,
                                                  loras=[lora_option(o) for o in args.lora or ()], vae=args.vae)
    elif args.lora or args.vae:
        if args.vae:
            raise TavidError("a VAE is for a neural face model, and the built-in engines have none", where="--vae",
                             fix="Give the face model's checkpoint with --engines.")
        raise TavidError("a LoRA changes a trained network, and the built-in engines have none", where="--lora",
                         fix="Give the trained checkpoint it was made for with --engines.")
    else:
        pipeline = TavidPipeline.builtin(runtime, voices=args.voice_set)
    start = time.perf_counter()
    result = pipeline.generate(dialogue, face_a, face_b, output, settings)
    wall = time.perf_counter() - start
    if not args.quiet:
        voices = ", ".join(f"{name}: {v.preset or 'from ' + v.source.replace('_', ' ')}"
                           for name, v in zip(dialogue.speakers, result.voices))
        print(f"{result.video_path}: {result.duration_s:.1f} s, {result.frames} frames at {settings.fps:g} fps "
              f"({source_a} | {source_b}; {voices}) in {wall:.1f} s")
        print(f"{result.timeline_path}: timeline and settings")
    return 0


def lora_option(option: str) -> tuple[str, float]:
    """--lora PATH or PATH:STRENGTH (a path that itself ends in ':<number>' is taken whole when it exists)."""
    path, strength = option, 1.0
    head, colon, tail = option.rpartition(":")
    if colon and not os.path.isfile(option):
        try:
            path, strength = head, float(tail)
        except ValueError:
            pass
    if not os.path.isfile(path):
        raise TavidError("no such LoRA file", where=f"--lora {option}")
    return path, strength


def engine_files(paths: list[str]) -> list[str]:
    """--engines: checkpoint files, or folders whose .safetensors files are all used (in name order)."""
    files = []
    for path in paths:
        if os.path.isdir(path):
            found = sorted(os.path.join(path, n) for n in os.listdir(path)
                           if n.endswith(".safetensors") and n != "resume.safetensors")
            if not found:
                raise TavidError("the folder holds no .safetensors checkpoints", where=f"--engines {path}")
            files += found
        elif not os.path.isfile(path):
            raise TavidError("no such checkpoint file or folder", where=f"--engines {path}")
        else:
            files.append(path)
    return files


def cmd_voices(args) -> int:
    from .engines.builtin.tts.catalog import ESPEAK_VOICES, NEURAL_VOICES, VoiceCatalog
    catalog = VoiceCatalog()
    for info in NEURAL_VOICES + ESPEAK_VOICES:
        state = "" if not info.neural or catalog.available(info.name) else "  (not installed)"
        print(f"{info.name:18} {info.description}{state}")
    print("Any other espeak-ng voice works as espeak:<language>[+variant], e.g. espeak:de+f2.")
    return 0


def cmd_samples(args) -> int:
    from .media import SAMPLE_PORTRAITS, sample_portrait, save_image
    os.makedirs(args.out, exist_ok=True)
    for name in SAMPLE_PORTRAITS:
        path = os.path.join(args.out, f"tavid_{name}.png")
        save_image(sample_portrait(name), path)
        print(path)
    return 0


def cmd_strip(args) -> int:
    from .strip import frame_strip
    print(frame_strip(args.video, args.output, count=args.count, columns=args.columns, width=args.width,
                      timeline_path=args.timeline))
    return 0


def cmd_eval(args) -> int:
    import json

    from .eval import evaluate_video, format_report, rounded, timeline_beside
    from .runtime import StandaloneRuntime
    timeline = None if args.no_timeline else (args.timeline or timeline_beside(args.video))
    report = evaluate_video(args.video, timeline=timeline, script=args.script, ref_a=args.ref_a, ref_b=args.ref_b,
                            runtime=StandaloneRuntime(device="cpu", quiet=args.json or args.quiet))
    report = rounded(report)
    print(json.dumps(report, indent=2, ensure_ascii=False) if args.json else format_report(report))
    return 0


def cmd_bench(args) -> int:
    import json

    from .bench import bench_eval, bench_pipeline
    if args.target in ("speech", "face", "motion"):
        result, text = neural_bench(args)
        print(json.dumps(result, indent=2) if args.json else text(result))
        return 0
    if args.target == "eval":
        from .eval import check_eval_packages
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
    from .bench_face import FACE_STEPS, MOTION_STEPS, bench_face, bench_motion, format_face_bench, format_motion_bench
    from .bench_neural import SPEECH_STEPS, bench_speech, format_speech_bench
    common = dict(config=args.config, device=args.device, dtype=args.dtype)
    steps = {"face": FACE_STEPS, "motion": MOTION_STEPS, "speech": SPEECH_STEPS}[args.target]
    common["steps"] = steps if args.steps is None else args.steps
    if args.target == "face":
        return bench_face(size=args.size, frames=args.frames, sampler=args.sampler, cfg=args.cfg,
                          **common), format_face_bench
    if args.target == "motion":
        return bench_motion(seconds=args.seconds[0], **common), format_motion_bench
    return bench_speech(seconds=args.seconds[0], repeat=args.repeat, **common), format_speech_bench


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tavid", description="Two-person conversation video with speech "
                                     "from a text dialogue and two face images (TAVID).")
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="render a conversation video",
                         description="Render a two-person conversation. Without arguments: the example script "
                                     "with two sample portraits.")
    gen.add_argument("--script", help="dialogue script (default: workflows/example_dialogue.txt)")
    gen.add_argument("--face-a", help="photo of speaker A (default: Grace Hopper sample)")
    gen.add_argument("--face-b", help="photo of speaker B (default: astronaut sample)")
    gen.add_argument("-o", "--output", default="tavid_conversation.mp4", help="output MP4 (default: %(default)s)")
    gen.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    gen.add_argument("--fps", type=float, default=25.0, help="frames per second (default: %(default)s)")
    gen.add_argument("--size", type=int, default=512, help="pixels per face (default: %(default)s)")
    gen.add_argument("--layout", default="side_by_side", choices=LAYOUTS,
                     help="side_by_side, stacked (A on top), speaker_follow (one shot of whoever speaks) or "
                          "picture_in_picture (that shot with the listener inset) (default: %(default)s)")
    gen.add_argument("--voice-a", default="auto", help="voice of A by name, or auto from the face (see tavid voices)")
    gen.add_argument("--voice-b", default="auto", help="voice of B by name, or auto from the face")
    gen.add_argument("--voice-set", default="neural", choices=("neural", "espeak"),
                     help="voices that faces are mapped onto (default: %(default)s)")
    for who in SPEAKERS:
        gen.add_argument(f"--pitch-{who}", type=float, default=0.0, metavar="SEMITONES",
                         help=f"semitones added to the voice of {who.upper()}, {PITCH_SHIFT_RANGE[0]:g} to "
                              f"{PITCH_SHIFT_RANGE[1]:g} (default: %(default)s)")
        gen.add_argument(f"--speed-{who}", type=float, default=1.0, metavar="FACTOR",
                         help=f"speaking rate of {who.upper()} as a multiple of the voice's own, {SPEED_RANGE[0]:g} "
                              f"to {SPEED_RANGE[1]:g} (default: %(default)s)")
    gen.add_argument("--mirror", default="auto", choices=MIRROR_MODES,
                     help="auto: mirror a photo whose face is turned away from the partner (A sits left, B right); "
                          "never: use the photos as they are (default: %(default)s)")
    gen.add_argument("--max-minutes", type=float, default=MAX_MINUTES, metavar="MINUTES",
                     help="refuse a dialogue whose speech lasts longer (default: %(default)s)")
    gen.add_argument("--expressiveness", type=float, default=1.0, help="motion strength, 0-3 (default: %(default)s)")
    gen.add_argument("--engines", nargs="+", metavar="CKPT",
                     help="trained TAVID checkpoints (files or folders) to use instead of the built-in engines; "
                          "blocks they lack stay built in")
    gen.add_argument("--lora", nargs="+", metavar="FILE[:STRENGTH]",
                     help="LoRAs for the speech or face model of --engines, each with a strength (default 1)")
    gen.add_argument("--sampler", default="auto", choices=SAMPLERS, help="neural face model: sampler (default: auto)")
    gen.add_argument("--scheduler", default="auto", choices=SCHEDULERS,
                     help="neural face model: noise schedule (default: auto)")
    gen.add_argument("--steps", type=int, default=20,
                     help="sampling steps of the neural speech and face models (default: %(default)s)")
    gen.add_argument("--cfg", type=float, default=2.0,
                     help="guidance: on the text for neural speech, on the motion for the neural face model "
                          "(default: %(default)s; 0 is none)")
    gen.add_argument("--identity-cfg", type=float, metavar="CFG",
                     help="neural face model: guidance on the reference face (default: the same as --cfg)")
    gen.add_argument("--vae", metavar="FILE",
                     help="a Stable Diffusion VAE (.safetensors), for a face model of --engines trained on one")
    gen.add_argument("--dtype", default="auto", choices=("auto", "fp32", "fp16", "bf16"),
                     help="precision of neural engines (default: %(default)s: bf16 or fp16 on a GPU, else fp32)")
    gen.add_argument("--device", default="auto", help="auto, cpu, cuda, ... (default: %(default)s)")
    gen.add_argument("-q", "--quiet", action="store_true", help="no progress bars or summary")
    gen.set_defaults(func=cmd_generate)

    add_train_parsers(sub)
    voices = sub.add_parser("voices", help="list the built-in voices")
    voices.set_defaults(func=cmd_voices)

    samples = sub.add_parser("samples", help="write the two sample portraits as PNG files")
    samples.add_argument("--out", required=True, help="folder to write into (e.g. ComfyUI/input)")
    samples.set_defaults(func=cmd_samples)
    strip = sub.add_parser("strip", help="a picture of captioned frames of a conversation video")
    strip.add_argument("video")
    strip.add_argument("-o", "--output", default="strip.png", help="PNG to write (default: %(default)s)")
    strip.add_argument("--timeline", help="timeline JSON (default: the one beside the video, if any)")
    strip.add_argument("--count", type=int, default=6, help="frames (default: %(default)s)")
    strip.add_argument("--columns", type=int, default=2, help="frames per row (default: %(default)s)")
    strip.add_argument("--width", type=int, default=480, help="pixels per frame (default: %(default)s)")
    strip.set_defaults(func=cmd_strip)

    ev = sub.add_parser("eval", help="measure a two-person conversation video (needs the [eval] extra)",
                        description="Talking-face realism, listening responsiveness, dyadic fluency and speech "
                                    "quality of a side-by-side two-person video with mixed audio, offline. Works on "
                                    "any such video; a timeline JSON from tavid generate adds timing errors and "
                                    "word error rates.")
    ev.add_argument("video")
    ev.add_argument("--timeline", help="timeline JSON (default: the one beside the video, if any)")
    ev.add_argument("--no-timeline", action="store_true",
                    help="ignore any timeline: find who speaks from the faces, as for other tools' videos")
    ev.add_argument("--script", help="dialogue script, for word error rates when there is no timeline")
    ev.add_argument("--ref-a", help="reference photo of A, the left person (default: the first frame)")
    ev.add_argument("--ref-b", help="reference photo of B, the right person (default: the first frame)")
    ev.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    ev.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    ev.set_defaults(func=cmd_eval)

    bench = sub.add_parser("bench", help="wall time, real-time factor and peak memory of a job",
                           description="Benchmarks run on this machine. pipeline renders dialogues made of the "
                                       "example's turns with the sample portraits, one process per run, so each "
                                       "peak RSS is that render's own. The first evaluation on a new machine also "
                                       "compiles librosa's code once (about 20 s), so use eval --repeat 2 to see both.")
    bench.add_argument("target", choices=("eval", "pipeline", "speech", "face", "motion"),
                       help="eval: tavid eval on a video; pipeline: render dialogues with the built-in engines; "
                            "speech, face, motion: the neural speech side, face model or motion mapper at a "
                            "configuration's size (freshly initialised networks)")
    bench.add_argument("--video", help="eval: video to evaluate (default: render the README main job first)")
    bench.add_argument("--timeline", help="eval: its timeline JSON (default: the one beside it)")
    bench.add_argument("--seconds", type=float, nargs="+", default=[60.0],
                       help="pipeline: dialogue lengths to render, each in a fresh process; speech: length of the "
                            "utterance to generate; motion: length of the conversation (default: 60)")
    bench.add_argument("--config", default="base",
                       help="speech, face, motion: tiny, small or base (default: %(default)s)")
    bench.add_argument("--device", default="auto",
                       help="speech, face, motion: auto, cpu or cuda (default: %(default)s)")
    bench.add_argument("--steps", type=int,
                       help="speech, motion: ODE steps (default: 16); face: sampling steps (default: 8)")
    bench.add_argument("--dtype", default="auto", choices=("auto", "fp32", "fp16", "bf16"),
                       help="speech, face, motion: precision (default: %(default)s)")
    bench.add_argument("--size", type=int,
                       help="pipeline: pixels per face (default: 512); face: the same (default: the configuration's "
                            "training size, 512 for base)")
    bench.add_argument("--frames", type=int,
                       help="face: frames to render (default: two windows' worth, so a window join is timed)")
    bench.add_argument("--sampler", default="auto", choices=SAMPLERS, help="face: sampler (default: %(default)s)")
    bench.add_argument("--cfg", type=float, default=2.0,
                       help="face: guidance on identity and motion, 3 denoiser passes per step (default: "
                            "%(default)s; 0 is none: 1 pass)")
    bench.add_argument("--fps", type=float, default=25.0, help="pipeline: frames per second (default: %(default)s)")
    bench.add_argument("--repeat", type=int, default=1, help="runs (default: %(default)s)")
    bench.add_argument("--json", action="store_true", help="print the figures as JSON")
    bench.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="tavid: %(message)s")
    try:
        return args.func(args)
    except TavidError as e:
        print(f"tavid: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tavid: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

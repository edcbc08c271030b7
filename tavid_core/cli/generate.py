"""`tavid generate`: one conversation video from a script and two photos, with the built-in engines or
trained checkpoints (--engines) and their LoRAs."""
from __future__ import annotations

import argparse
import os
import time
from dataclasses import fields

from ..errors import TavidError
from ..examples import example_script_path
from ..limits import (MAX_MINUTES, MIRROR_MODES, ODE_METHODS, PITCH_SHIFT_RANGE, PRECISIONS, SAMPLERS, SCHEDULERS,
                      SPEAKERS, SPEED_RANGE)
from ..media.compose import LAYOUTS

FACE_STEPS = 20


def _face(path: str | None, sample: str, which: str):
    from ..examples import sample_portrait
    from ..media.images import load_image
    if path is None:
        return sample_portrait(sample), f"sample:{sample}"
    try:
        return load_image(path), path
    except TavidError as e:
        raise e.located(f"--face-{which}") from None


def checked_settings(settings):
    """The settings, or their first mistake reported under the flag that sets it (pitch_b -> --pitch-b)."""
    from ..pipeline import GenerateSettings
    try:
        settings.check()
    except TavidError as e:
        if e.where not in {f.name for f in fields(GenerateSettings)}:
            raise
        raise TavidError(e.message, where="--" + e.where.replace("_", "-"), fix=e.fix) from None
    return settings


def cmd_generate(args) -> int:
    from ..dialogue import read_script
    from ..engines.protocols import SamplerSettings
    from ..pipeline import GenerateSettings, TavidPipeline
    from ..runtime import StandaloneRuntime

    settings = checked_settings(GenerateSettings(
        fps=args.fps, size=args.size, seed=args.seed, layout=args.layout, voice_a=args.voice_a, voice_b=args.voice_b,
        pitch_a=args.pitch_a, pitch_b=args.pitch_b, speed_a=args.speed_a, speed_b=args.speed_b,
        expressiveness=args.expressiveness, mirror=args.mirror,
        sampler=SamplerSettings(sampler=args.sampler, scheduler=args.scheduler,
                                steps=FACE_STEPS if args.steps is None else args.steps, cfg=args.cfg,
                                identity_cfg=args.identity_cfg, seed=args.seed),
        max_minutes=args.max_minutes, solver=args.solver,
        speech_steps=args.steps if args.speech_steps is None else args.speech_steps,
        recording_a=args.recording_a, recording_b=args.recording_b, transcript_a=args.transcript_a,
        transcript_b=args.transcript_b))
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
        for name, v in zip(dialogue.speakers, result.voices):
            if v.reason:   # what the speaker mapper read in the face, so a wrong guess is plain to see
                print(f"{name}'s voice: {v.reason}")
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
    """--engines: checkpoint files, or folders whose .safetensors files are all used (in name order; a folder of
    LivePortrait's five files makes the face model)."""
    from ..engines.convert import ORIGINAL_SUFFIXES
    files = []
    for path in paths:
        if os.path.isdir(path):
            names = sorted(os.listdir(path))
            found = [os.path.join(path, n) for n in names if n.endswith(".safetensors") and n != "resume.safetensors"]
            if not found:
                originals = [n for n in names if n.lower().endswith(ORIGINAL_SUFFIXES)]
                more = " ..." if len(originals) > 3 else ""
                fix = (f"Convert its PyTorch originals ({', '.join(originals[:3])}{more}) first: tavid convert "
                       f"<files> -o {path}" if originals else None)
                raise TavidError("the folder holds no .safetensors checkpoints", where=f"--engines {path}", fix=fix)
            files += found
        elif not os.path.isfile(path):
            raise TavidError("no such checkpoint file or folder", where=f"--engines {path}")
        else:
            files.append(path)
    return files


def add_parsers(sub: argparse._SubParsersAction) -> None:
    gen = sub.add_parser("generate", help="render a conversation video",
                         description="Render a two-person conversation. Without arguments: the example script "
                                     "with two sample portraits.")
    gen.add_argument("--script", help="dialogue script (default: workflows/example_dialogue.txt)")
    add_video_arguments(gen, "tavid_conversation.mp4")
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
        gen.add_argument(f"--recording-{who}", metavar="AUDIO",
                         help=f"a recording of {who.upper()}'s voice (a few seconds of clean speech): F5-TTS imitates "
                              "it, the built-in engines match its pitch")
        gen.add_argument(f"--transcript-{who}", metavar="TEXT",
                         help=f"the words said in --recording-{who} (F5-TTS needs them)")
    add_motion_arguments(gen)
    gen.add_argument("--max-minutes", type=float, default=MAX_MINUTES, metavar="MINUTES",
                     help="refuse a dialogue whose speech lasts longer (default: %(default)s)")
    gen.add_argument("--engines", nargs="+", metavar="CKPT",
                     help="trained TAVID checkpoints (files or folders) to use instead of the built-in engines, "
                          "a folder of LivePortrait's five .safetensors files as the face model, or F5-TTS's model "
                          "and Vocos vocoder .safetensors as the speech side; blocks they lack stay built in")
    gen.add_argument("--lora", nargs="+", metavar="FILE[:STRENGTH]",
                     help="LoRAs for the speech or face model of --engines, each with a strength (default 1)")
    gen.add_argument("--sampler", default="auto", choices=SAMPLERS, help="neural face model: sampler (default: auto)")
    gen.add_argument("--scheduler", default="auto", choices=SCHEDULERS,
                     help="neural face model: noise schedule (default: auto)")
    gen.add_argument("--steps", type=int,
                     help=f"sampling steps of the neural speech and face models (default: {FACE_STEPS} for the face, "
                          "the speech engine's own for speech: 32)")
    gen.add_argument("--speech-steps", type=int, metavar="N", help="ODE steps of neural speech, if other than --steps")
    gen.add_argument("--solver", choices=ODE_METHODS,
                     help="ODE solver of neural speech (default: the engine's, euler)")
    gen.add_argument("--cfg", type=float, default=2.0,
                     help="guidance: on the text for neural speech, on the motion for the neural face model "
                          "(default: %(default)s; 0 is none)")
    gen.add_argument("--identity-cfg", type=float, metavar="CFG",
                     help="neural face model: guidance on the reference face (default: the same as --cfg)")
    gen.add_argument("--vae", metavar="FILE",
                     help="a Stable Diffusion VAE (.safetensors), for a face model of --engines trained on one")
    gen.add_argument("--dtype", default="auto", choices=PRECISIONS,
                     help="precision of neural engines (default: %(default)s: bf16 or fp16 on a GPU, else fp32)")
    add_run_arguments(gen)
    gen.set_defaults(func=cmd_generate)


def add_video_arguments(parser: argparse.ArgumentParser, output: str) -> None:
    """The photos and the picture of a command that renders a conversation video (generate, dub)."""
    parser.add_argument("--face-a", help="photo of speaker A (default: Grace Hopper sample)")
    parser.add_argument("--face-b", help="photo of speaker B (default: astronaut sample)")
    parser.add_argument("-o", "--output", default=output, help="output MP4 (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    parser.add_argument("--fps", type=float, default=25.0, help="frames per second (default: %(default)s)")
    parser.add_argument("--size", type=int, default=512, help="pixels per face (default: %(default)s)")
    parser.add_argument("--layout", default="side_by_side", choices=LAYOUTS,
                        help="side_by_side, stacked (A on top), speaker_follow (one shot of whoever speaks) or "
                             "picture_in_picture (that shot with the listener inset) (default: %(default)s)")


def add_motion_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mirror", default="auto", choices=MIRROR_MODES,
                        help="auto: mirror a photo whose face is turned away from the partner (A sits left, B "
                             "right); never: use the photos as they are (default: %(default)s)")
    parser.add_argument("--expressiveness", type=float, default=1.0,
                        help="motion strength, 0-3 (default: %(default)s)")


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, ... (default: %(default)s)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars or summary")

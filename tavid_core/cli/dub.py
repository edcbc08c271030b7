"""`tavid dub`: a video of two faces talking and listening to a recording of two people (one mixed file, or
one file per person), with an optional transcript; the video carries the recording itself."""
from __future__ import annotations

import argparse
import os
import time

from ..dub.dubbing import FIRST_SPEAKERS, LANGUAGES, WORD_MODES
from ..errors import TavidError
from .generate import _face, add_motion_arguments, add_run_arguments, add_video_arguments, checked_settings


def cmd_dub(args) -> int:
    from ..dialogue import read_script
    from ..dub import DubSettings, load_recording
    from ..pipeline import GenerateSettings, TavidPipeline
    from ..runtime import StandaloneRuntime

    settings = checked_settings(GenerateSettings(fps=args.fps, size=args.size, seed=args.seed, layout=args.layout,
                                                 expressiveness=args.expressiveness, mirror=args.mirror))
    dub_settings = DubSettings(first_speaker=args.first, language=args.language, words=args.words,
                               max_minutes=args.max_minutes)
    try:
        dub_settings.check()
    except TavidError as e:
        raise TavidError(e.message, where="--" + (e.where or "").replace("_", "-"), fix=e.fix) from None
    dialogue = read_script(args.script) if args.script else None
    face_a, source_a = _face(args.face_a, "grace_hopper", "a")
    face_b, source_b = _face(args.face_b, "astronaut", "b")
    if os.path.isdir(args.output):
        raise TavidError("is a folder", where=f"-o {args.output}", fix="Give a file name such as out.mp4.")
    runtime = StandaloneRuntime(device=args.device, quiet=args.quiet)
    start = time.perf_counter()
    if args.audio_b:
        recording = load_recording(a=args.audio, b=args.audio_b, max_minutes=args.max_minutes, runtime=runtime)
    else:
        recording = load_recording(mix=args.audio, max_minutes=args.max_minutes, runtime=runtime)
    result = TavidPipeline.builtin(runtime).dub(recording, face_a, face_b, args.output, settings, dialogue,
                                                dub_settings)
    if not args.quiet:
        print(f"{result.video_path}: {result.duration_s:.1f} s, {result.frames} frames at {settings.fps:g} fps "
              f"({source_a} | {source_b}) in {time.perf_counter() - start:.1f} s")
        print(f"{result.timeline_path}: who speaks when, the words, what the dub used")
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    dub = sub.add_parser("dub", help="animate two faces from a recording of two people",
                         description="Both faces talk and listen to an existing recording: one file holding both "
                                     "voices, or one file per person (AUDIO is A's, AUDIO_B is B's). The video "
                                     "carries the recording as it is.")
    dub.add_argument("audio", metavar="AUDIO", help="the recording (any audio or video file), or A's own track")
    dub.add_argument("audio_b", metavar="AUDIO_B", nargs="?", help="B's own track, when each person has one")
    dub.add_argument("--script", help="transcript in the dialogue script format (A:/B: or names), for exact words")
    add_video_arguments(dub, "tavid_dub.mp4")
    dub.add_argument("--first", default="a", choices=FIRST_SPEAKERS,
                     help="one mixed recording without a script: who speaks first (default: %(default)s)")
    dub.add_argument("--language", default="en", choices=LANGUAGES,
                     help="en: words and phonemes drive the mouths; other: the loudness does (default: %(default)s)")
    dub.add_argument("--words", default="auto", choices=WORD_MODES,
                     help="auto: from the script, else heard by Whisper; energy: mouths follow the loudness only")
    dub.add_argument("--max-minutes", type=float, default=60.0, metavar="MINUTES",
                     help="refuse a longer recording (default: %(default)s)")
    add_motion_arguments(dub)
    add_run_arguments(dub)
    dub.set_defaults(func=cmd_dub)

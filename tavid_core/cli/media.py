"""`tavid voices`, `tavid samples` and `tavid strip`: the built-in voices, the sample portraits, and a
picture of captioned frames of a video."""
from __future__ import annotations

import argparse
import os


def cmd_voices(args) -> int:
    from ..engines.builtin.tts.catalog import ESPEAK_VOICES, NEURAL_VOICES, VoiceCatalog
    catalog = VoiceCatalog()
    for info in NEURAL_VOICES + ESPEAK_VOICES:
        state = "" if not info.neural or catalog.available(info.name) else "  (not installed)"
        print(f"{info.name:18} {info.description}{state}")
    print("Any other espeak-ng voice works as espeak:<language>[+variant], e.g. espeak:de+f2.")
    return 0


def cmd_samples(args) -> int:
    from ..examples import SAMPLE_PORTRAITS, sample_portrait
    from ..media.images import save_image
    os.makedirs(args.out, exist_ok=True)
    for name in SAMPLE_PORTRAITS:
        path = os.path.join(args.out, f"tavid_{name}.png")
        save_image(sample_portrait(name), path)
        print(path)
    return 0


def cmd_strip(args) -> int:
    from ..media.strip import frame_strip
    print(frame_strip(args.video, args.output, count=args.count, columns=args.columns, width=args.width,
                      timeline_path=args.timeline))
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
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

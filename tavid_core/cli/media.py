"""`tavid voices`, `tavid samples`, `tavid strip` and `tavid mouths`: the built-in voices, the sample portraits,
a picture of captioned frames of a video, and one of the built-in renderer's mouths for given faces."""
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


def cmd_mouths(args) -> int:
    from ..engines.builtin.mouth_sheet import mouth_sheet
    from ..examples import SAMPLE_PORTRAITS, sample_portrait
    from ..media.images import load_image
    if args.face:
        faces = [(os.path.basename(path), load_image(path)) for path in args.face]
    else:
        faces = [(name.replace("_", " "), sample_portrait(name)) for name in SAMPLE_PORTRAITS]
    print(mouth_sheet(faces, args.output, width=args.width))
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
    mouths = sub.add_parser("mouths", help="close-ups of each face's mouth at six openings, as the built-in "
                                           "renderer draws it")
    mouths.add_argument("--face", action="append", metavar="IMG", help="a photo (repeat for more; default: the "
                                                                       "two sample portraits)")
    mouths.add_argument("-o", "--output", default="mouths.png", help="PNG or JPG to write (default: %(default)s)")
    mouths.add_argument("--width", type=int, default=200, help="pixels per close-up (default: %(default)s)")
    mouths.set_defaults(func=cmd_mouths)

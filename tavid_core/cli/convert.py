"""`tavid convert`: public PyTorch originals (.pth, .pt, .bin) turned once into the safetensors files the engines
load (engines/convert.py), with torch's weights-only loader."""
from __future__ import annotations

import argparse


def cmd_convert(args) -> int:
    from ..engines.convert import convert_original
    for path in args.files:
        for written in convert_original(path, args.out):
            print(written)
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    convert = sub.add_parser("convert", help="turn public .pth/.pt/.bin weights into the .safetensors files TAVID loads",
                             description="Reads each file with torch's weights-only loader (never a full unpickle), "
                                         "recognises the model it belongs to and writes its safetensors files. "
                                         "Generation only ever opens safetensors.")
    convert.add_argument("files", nargs="+", metavar="FILE", help="downloaded originals, e.g. spade_generator.pth")
    convert.add_argument("-o", "--out", default=".", help="folder to write into (default: the current folder)")
    convert.set_defaults(func=cmd_convert)

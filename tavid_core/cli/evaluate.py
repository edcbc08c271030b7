"""`tavid eval`: a two-person conversation video measured on the paper's four dimensions."""
from __future__ import annotations

import argparse


def cmd_eval(args) -> int:
    import json

    from ..eval import evaluate_video, format_report, rounded, timeline_beside
    from ..runtime import StandaloneRuntime
    timeline = None if args.no_timeline else (args.timeline or timeline_beside(args.video))
    report = evaluate_video(args.video, timeline=timeline, script=args.script, ref_a=args.ref_a, ref_b=args.ref_b,
                            runtime=StandaloneRuntime(device="cpu", quiet=args.json or args.quiet))
    report = rounded(report)
    print(json.dumps(report, indent=2, ensure_ascii=False) if args.json else format_report(report))
    return 0


DESCRIPTION = ("Talking-face realism, listening responsiveness, dyadic fluency and speech quality of a side-by-side "
               "two-person video with mixed audio, offline. Works on any such video; a timeline JSON from tavid "
               "generate adds timing errors and word error rates.")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    ev = sub.add_parser("eval", help="measure a two-person conversation video (needs the [eval] extra)",
                        description=DESCRIPTION)
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

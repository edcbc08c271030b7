"""Offline evaluation of two-person conversation videos on TAVID's four dimensions (docs/architecture.md)."""
from .clip import Clip, clip_from_arrays, clip_from_file
from .deps import INSTALL_HINT, check_eval_packages, missing_packages
from .evaluate import evaluate, evaluate_video, timeline_beside
from .reference import Reference, load_timeline, reference_from_speech
from .report import SECTIONS, format_report, metric_keys, report_tables, rounded

__all__ = [
    "Clip", "clip_from_arrays", "clip_from_file", "INSTALL_HINT", "check_eval_packages", "missing_packages",
    "evaluate", "evaluate_video", "timeline_beside", "Reference", "load_timeline", "reference_from_speech",
    "SECTIONS", "format_report", "metric_keys", "report_tables", "rounded",
]

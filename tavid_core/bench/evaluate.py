"""`tavid bench eval`: time and memory of `tavid eval` on a video (the main job's by default)."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

from ..errors import TavidError
from .common import peak_rss_mb


def example_video(folder: str) -> str:
    """The README main job's video, rendered in a separate process so its memory is not counted."""
    path = os.path.join(folder, "conversation.mp4")
    done = subprocess.run([sys.executable, "-m", "tavid_core.cli", "generate", "-o", path, "-q"],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise TavidError(f"rendering the example failed: {done.stderr.strip()}", where="tavid bench")
    return path


def bench_eval(video: str | None = None, timeline: str | None = None, repeat: int = 1) -> dict:
    """Evaluate a video (default: the main job's, rendered first) `repeat` times; the figures of each run."""
    from ..eval import evaluate_video, timeline_beside
    from ..runtime import StandaloneRuntime
    with tempfile.TemporaryDirectory() as folder:
        video = video or example_video(folder)
        timeline = timeline or timeline_beside(video)
        runs = []
        for _ in range(repeat):
            start = time.perf_counter()
            report = evaluate_video(video, timeline=timeline, runtime=StandaloneRuntime(device="cpu", quiet=True))
            wall = time.perf_counter() - start
            runs.append({"wall_s": round(wall, 2), "rtf": round(wall / report["video"]["duration_s"], 3),
                         "stages_s": report["seconds"]})
    return {"target": "eval", "video": os.path.basename(video), "video_s": report["video"]["duration_s"],
            "cpus": os.cpu_count(), "runs": runs, "peak_rss_mb": round(peak_rss_mb())}

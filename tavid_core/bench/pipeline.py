"""`tavid bench pipeline`: dialogues of given lengths rendered with the built-in engines, each in a fresh process
so its peak memory is its own.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

from ..errors import TavidError
from .common import peak_rss_mb

WORDS_PER_SECOND = 3.0  # the example dialogue's pace with the default voices, pauses included


def bench_script(seconds: float) -> str:
    """A dialogue of about `seconds` of speech: the example dialogue's turns, over and over."""
    from ..examples import example_script_path
    with open(example_script_path(), encoding="utf-8") as f:
        turns = [line for line in f.read().splitlines() if line.strip() and not line.lstrip().startswith("#")]
    lines, words, i = [], 0, 0
    while words < seconds * WORDS_PER_SECOND or not lines:
        line = turns[i % len(turns)]
        lines.append(line)
        words += 0 if line.startswith("[") else len(line.split()) - 1
        i += 1
    return "\n".join(lines) + "\n"


def render_once(seconds: float, size: int, fps: float, folder: str) -> dict:
    """Render a dialogue of about `seconds` with the built-in engines in this process; its figures."""
    from ..dialogue import parse_script
    from ..examples import sample_portrait
    from ..pipeline import GenerateSettings, TavidPipeline
    from ..runtime import StandaloneRuntime
    dialogue = parse_script(bench_script(seconds))
    faces = sample_portrait("grace_hopper"), sample_portrait("astronaut")
    start = time.perf_counter()
    pipeline = TavidPipeline.builtin(StandaloneRuntime(device="cpu", quiet=True))
    result = pipeline.generate(dialogue, *faces, os.path.join(folder, "bench.mp4"), GenerateSettings(fps=fps, size=size))
    wall = time.perf_counter() - start
    seconds_total = sum(result.seconds.values())
    stages = dict(result.seconds, setup=round(wall - seconds_total, 2))
    return {"video_s": round(result.duration_s, 2), "frames": result.frames, "wall_s": round(wall, 2),
            "rtf": round(wall / result.duration_s, 3), "stages_s": stages, "peak_rss_mb": round(peak_rss_mb())}


def bench_pipeline(seconds: list[float] | None = None, size: int = 512, fps: float = 25.0, repeat: int = 1) -> dict:
    """Render dialogues of each length `repeat` times, each in a fresh process so its peak memory is its own."""
    runs = []
    with tempfile.TemporaryDirectory() as folder:
        for length in seconds or [60.0]:
            for _ in range(repeat):
                child = [sys.executable, "-m", "tavid_core.bench.pipeline", str(length), str(size), str(fps), folder]
                done = subprocess.run(child, capture_output=True, text=True)
                if done.returncode != 0:
                    raise TavidError(f"rendering failed: {done.stderr.strip()[-2000:]}", where="tavid bench pipeline")
                runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return {"target": "pipeline", "size": size, "fps": fps, "cpus": os.cpu_count(), "runs": runs}



if __name__ == "__main__":  # one pipeline render, run by bench_pipeline in a child process
    length, size_px, rate, out = sys.argv[1:5]
    print(json.dumps(render_once(float(length), int(size_px), float(rate), out)))

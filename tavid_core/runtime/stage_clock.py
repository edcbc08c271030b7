"""Wall time per named stage of a long job, for reports and `tavid bench`."""
from __future__ import annotations

import time


class StageClock:
    """Each `lap(stage)` records the seconds since the previous lap (or since the clock was made)."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.seconds[stage] = round(now - self._last, 3)
        self._last = now

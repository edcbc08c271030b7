"""From moments of speech to turns: a person's stretches of speech with only short pauses between them and no
reply from the partner in those pauses are one turn; a short stretch said over the partner's turn is a
backchannel ("mm-hm"), not a turn of its own."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..analysis.voice_activity import spans

MAX_PAUSE_S = 1.0          # a pause shorter than this, with no reply in it, stays inside the turn
BACKCHANNEL_MAX_S = 1.2    # a stretch at most this long, mostly over the partner's speech, is a backchannel


@dataclass(frozen=True)
class Stretch:
    speaker: int
    start_s: float
    end_s: float
    backchannel: bool = False

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def _overlap(a: Stretch, b: Stretch) -> float:
    return max(0.0, min(a.end_s, b.end_s) - max(a.start_s, b.start_s))


def turns_of(masks: np.ndarray, duration_s: float) -> list[Stretch]:
    """Turns and backchannels, sorted by start, from each person's speech mask `[2, T]` at voice_activity.RATE."""
    found = [Stretch(p, a, b) for p in (0, 1) for a, b in spans(masks[p], duration_s)]
    marked = []
    for s in found:
        over = sum(_overlap(s, o) for o in found if o.speaker != s.speaker)
        marked.append(Stretch(s.speaker, s.start_s, s.end_s,
                              s.duration_s <= BACKCHANNEL_MAX_S and over >= 0.5 * s.duration_s))
    turns = [s for s in marked if s.backchannel]
    for person in (0, 1):
        own = sorted((s for s in marked if s.speaker == person and not s.backchannel), key=lambda s: s.start_s)
        replies = [s for s in marked if s.speaker != person and not s.backchannel]
        current = None
        for s in own:
            if current is not None and s.start_s - current.end_s < MAX_PAUSE_S and not any(
                    current.end_s <= r.start_s < s.start_s for r in replies):
                current = Stretch(person, current.start_s, s.end_s)
                continue
            if current is not None:
                turns.append(current)
            current = s
        if current is not None:
            turns.append(current)
    return sorted(turns, key=lambda s: (s.start_s, s.speaker))

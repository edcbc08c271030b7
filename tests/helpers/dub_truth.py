"""Scoring a dub against the truth: our own speech, whose timeline says exactly who speaks when and each word."""
from __future__ import annotations

import numpy as np

from tavid_core.types import Segment

GRID = 100.0   # frames per second


def speaking(timeline: tuple[Segment, ...], duration_s: float) -> np.ndarray:
    """[2, T] who speaks in each 10 ms frame (its centre inside one of the person's segments)."""
    t = (np.arange(int(np.ceil(duration_s * GRID))) + 0.5) / GRID
    out = np.zeros((2, len(t)), bool)
    for seg in timeline:
        out[seg.speaker, (t >= seg.start_s) & (t < seg.end_s)] = True
    return out


def right_share(truth: tuple[Segment, ...], found: tuple[Segment, ...], duration_s: float) -> tuple[float, float]:
    """(share of the truth's speech given to the right person, speech given to someone not speaking then, as a
    share of the truth's speech)."""
    t, f = speaking(truth, duration_s), speaking(found, duration_s)
    return float((t & f).sum() / t.sum()), float((f & ~t).sum() / t.sum())


def turn_errors(truth: tuple[Segment, ...], found: tuple[Segment, ...]) -> np.ndarray:
    """|start| and |end| errors (s) of each true turn against the found turns of that person overlapping it."""
    errors = []
    for seg in truth:
        if seg.is_backchannel:
            continue
        near = [s for s in found if s.speaker == seg.speaker and not s.is_backchannel
                and s.end_s > seg.start_s - 0.3 and s.start_s < seg.end_s + 0.3]
        errors += ([abs(min(s.start_s for s in near) - seg.start_s), abs(max(s.end_s for s in near) - seg.end_s)]
                   if near else [9.0, 9.0])
    return np.array(errors)


def word_errors(truth: tuple[Segment, ...], found: tuple[Segment, ...]) -> tuple[np.ndarray, int]:
    """(|start| and |end| errors (s) of the true words found with the same spelling near where they are, how many
    true words there are)."""
    errors, count = [], 0
    for seg in truth:
        if seg.is_backchannel:
            continue
        heard = [w for s in found if s.speaker == seg.speaker and s.end_s > seg.start_s and s.start_s < seg.end_s
                 for w in s.words]
        for word in seg.words:
            count += 1
            same = [w for w in heard if w.text.lower().strip(".,!?") == word.text.lower()
                    and abs(w.start_s - word.start_s) < 0.5]
            if same:
                w = min(same, key=lambda w: abs(w.start_s - word.start_s))
                errors += [abs(w.start_s - word.start_s), abs(w.end_s - word.end_s)]
    return np.array(errors), count

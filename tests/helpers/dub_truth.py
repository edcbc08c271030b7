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


def room_noise(n: int, db: float, seed: int) -> np.ndarray:
    """Reddish noise at `db` dBFS (a room's hum and air), seeded."""
    x = np.cumsum(np.random.default_rng(seed).standard_normal(n)) * 0.02
    x -= np.convolve(x, np.ones(801) / 801, mode="same")
    return (x / np.sqrt(np.mean(x ** 2)) * 10 ** (db / 20)).astype(np.float32)


def delayed(x: np.ndarray, samples: int) -> np.ndarray:
    return np.pad(x, (samples, 0))[:len(x)]


def db(value: float) -> float:
    return 10 ** (value / 20)


def own_tracks(a: np.ndarray, b: np.ndarray, rate: int, *, b_gain_db: float = -8.0, bleed_db: float = -14.0,
               noise_db: float = -55.0) -> tuple[np.ndarray, np.ndarray]:
    """A's and B's microphones: B `b_gain_db` quieter, each hearing the other `bleed_db` below that voice's level on
    its own microphone, 3 ms late, with room noise."""
    lag = int(0.003 * rate)
    quiet_b = b * db(b_gain_db)
    track_a = a + delayed(b, lag) * db(bleed_db) + room_noise(len(a), noise_db, 1)
    track_b = quiet_b + delayed(a, lag) * db(bleed_db + b_gain_db) + room_noise(len(a), noise_db - 3, 2)
    return track_a, track_b


def mixed(a: np.ndarray, b: np.ndarray, *, b_gain_db: float = -6.0, noise_db: float = -50.0) -> np.ndarray:
    """One recording of both, B `b_gain_db` quieter, with room noise."""
    return a + b * db(b_gain_db) + room_noise(len(a), noise_db, 3)

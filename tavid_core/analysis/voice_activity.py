"""Who speaks when, from loudness: the stretches of speech in one recording, and in two people's own
microphone tracks with the partner's voice leaking into each (bleed) told apart from their own.

Everything runs on a 100 Hz grid of levels in dBFS (`energy_db`), a few bytes per second of sound, so an
hour is a few MB. A stretch starts where the level rises well above the track's noise floor and close
enough to its loud level, and is widened while the level stays above a lower threshold, so soft onsets and
word endings stay inside; short pauses are bridged and blips dropped.

With two tracks, the level difference between them (A's minus B's) tells whose voice a moment holds: while
only A speaks it sits near one value (A's voice against what leaks of it into B's microphone), while only B
speaks near another, far lower; both are found from the recording itself (two means of the differences over
the loud moments), so microphone gains and how much each hears of the other need no setting. A moment is A's
own speech when it is loud on A's track and its difference lies clearly above B's value (B alone would
leave it there); overlaps fall between the two values and belong to both.
"""
from __future__ import annotations

import numpy as np

from ..types import Segment
from .audio_features import SILENCE_DB, energy_db
from .spans import lasting, runs

RATE = 100.0              # level frames per second
BELOW_LOUD_DB = 30.0      # a stretch starts within this of the track's loud level (its 95th percentile) ...
ABOVE_FLOOR_DB = 10.0     # ... and this far above its noise floor (10th percentile),
HOLD_BELOW_LOUD_DB = 40.0  # and goes on while within this of the loud level
HOLD_ABOVE_FLOOR_DB = 3.0  # and this far above the floor
OWN_MARGIN_DB = 6.0       # a moment is A's when the level difference lies this far above B-alone's (at most a
                          # third of the way to A-alone's), and the same for B
MIN_SEPARATION_DB = 8.0   # two voices leave their differences at least this far apart; closer: one voice
SMOOTH_FRAMES = 5         # level differences are taken as medians over this many frames
MIN_PAUSE_S = 0.2         # shorter silences stay inside one stretch of speech
MIN_SPEECH_S = 0.08       # shorter blips are not speech


def levels(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """[T] level in dBFS at RATE Hz of mono audio."""
    return energy_db(audio, sample_rate, RATE)


def loud_and_floor(level: np.ndarray) -> tuple[float, float]:
    """A track's loud level (95th percentile) and noise floor (10th percentile), in dB."""
    if len(level) == 0:
        return SILENCE_DB, SILENCE_DB
    return float(np.percentile(level, 95)), float(np.percentile(level, 10))


def grow(core: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """`core` widened to the whole runs of `allowed` it touches (hysteresis)."""
    out = np.zeros_like(allowed)
    for a, b in runs(allowed):
        if core[a:b].any():
            out[a:b] = True
    return out | core


def loud_mask(level: np.ndarray) -> np.ndarray:
    """Frames of speech by loudness alone (see the module docstring)."""
    loud, floor = loud_and_floor(level)
    if loud - floor < ABOVE_FLOOR_DB:           # nothing stands out: silence, or steady noise
        return np.zeros(len(level), bool)
    start = level > max(loud - BELOW_LOUD_DB, floor + ABOVE_FLOOR_DB)
    hold = level > max(loud - HOLD_BELOW_LOUD_DB, floor + HOLD_ABOVE_FLOOR_DB)
    return grow(start, hold)


def tidy(mask: np.ndarray) -> np.ndarray:
    """Pauses shorter than MIN_PAUSE_S bridged, then blips shorter than MIN_SPEECH_S dropped."""
    return lasting(~lasting(~mask, MIN_PAUSE_S * RATE), MIN_SPEECH_S * RATE)


def two_means(values: np.ndarray, rounds: int = 20) -> tuple[float, float]:
    """The two centres (low, high) of 1-D values by k-means, started at their 10th and 90th percentiles."""
    low, high = np.percentile(values, [10, 90])
    for _ in range(rounds):
        upper = values > (low + high) / 2
        if upper.all() or not upper.any():
            break
        low, high = values[~upper].mean(), values[upper].mean()
    return float(low), float(high)


def track_difference(track_levels: np.ndarray) -> np.ndarray:
    """[T] A's level minus B's, in dB, as a running median (single frames of noise do not flip it)."""
    from scipy.ndimage import median_filter
    return median_filter(track_levels[0] - track_levels[1], SMOOTH_FRAMES, mode="nearest")


def own_speech(track_levels: np.ndarray) -> np.ndarray:
    """[2, T] masks of each person's own speech from their tracks' levels `[2, T]` (see the module docstring)."""
    loud = np.stack([loud_mask(level) for level in track_levels])
    active = loud.any(axis=0)
    if active.sum() < MIN_SPEECH_S * RATE:
        return np.stack([tidy(mask) for mask in loud])
    difference = track_difference(track_levels)
    low, high = two_means(difference[active])
    if high - low < MIN_SEPARATION_DB:   # one voice on both tracks: the track where it is louder owns it
        a_louder = np.median(difference[active]) > 0
        return np.stack([tidy(loud[0] & a_louder), tidy(loud[1] & ~a_louder)])
    margin = min(OWN_MARGIN_DB, (high - low) / 3)
    return np.stack([tidy(loud[0] & (difference > low + margin)), tidy(loud[1] & (difference < high - margin))])


def spans(mask: np.ndarray, duration_s: float) -> list[tuple[float, float]]:
    """(start_s, end_s) of the True runs of a RATE Hz mask; frame j covers half a frame either side of j / RATE."""
    return [(max(0.0, (a - 0.5) / RATE), min(duration_s, (b - 0.5) / RATE)) for a, b in runs(mask)]


def voice_activity(tracks: np.ndarray, sample_rate: int) -> tuple[Segment, ...]:
    """Who speaks when, from each person's own track `[2, N]`: stretches of their own speech (bleed from the
    partner's voice discounted), as Segments without text, sorted by start."""
    masks = own_speech(np.stack([levels(track, sample_rate) for track in tracks]))
    duration = tracks.shape[1] / sample_rate
    found = sorted((start, end, person) for person in (0, 1) for start, end in spans(masks[person], duration))
    return tuple(Segment(turn=i, speaker=person, start_s=start, end_s=end, text="")
                 for i, (start, end, person) in enumerate(found))

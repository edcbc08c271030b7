"""Dyadic fluency: is the speech where the timeline says, how fast does the floor pass from one
person to the other, do they talk over each other, and are there dead silences?

Floor-transfer offsets are the next speaker's start minus the previous speaker's end: negative
when they overlap."""
from __future__ import annotations

import numpy as np

from .activity import RATE, Activity, grid_times, spans_mask
from .reference import Reference
from .signal_math import percentile_or_none

LONG_SILENCE_S = 2.0


def _segment_windows(reference: Reference) -> list[tuple[float, float]]:
    """Each timeline turn's search window: up to the middle of the gaps to its neighbours, so speech
    next to a turn is never counted for it."""
    segs = reference.segments
    out = []
    for i, s in enumerate(segs):
        lo = (segs[i - 1].end_s + s.start_s) / 2 if i > 0 else 0.0
        hi = (s.end_s + segs[i + 1].start_s) / 2 if i + 1 < len(segs) else np.inf
        out.append((min(lo, s.start_s), max(hi, s.end_s)))
    return out


def timing_errors(activity: Activity, reference: Reference, person: int) -> dict:
    """Mean absolute onset and offset error (ms) of the detected speech against the person's
    timeline turns, and the share of turns where speech was found at all."""
    onsets, offsets, found = [], [], []
    for seg, (lo, hi) in zip(reference.segments, _segment_windows(reference)):
        if seg.speaker != person:
            continue
        inside = [(max(a, lo), min(b, hi)) for a, b in activity.segments if b > lo and a < hi]
        found.append(bool(inside))
        if inside:
            onsets.append(abs(inside[0][0] - seg.start_s) * 1000)
            offsets.append(abs(inside[-1][1] - seg.end_s) * 1000)
    return {
        "onset_error_ms": float(np.mean(onsets)) if onsets else None,
        "offset_error_ms": float(np.mean(offsets)) if offsets else None,
        "detected_share": float(np.mean(found)) if found else None,
    }


def speaker_fluency(activity: Activity, reference: Reference, person: int) -> dict:
    own = activity.owner == person
    out = {
        "speech_s": float(own.sum() / RATE),
        "turns": sum(t.speaker == person for t in activity.turns()),
        "onset_error_ms": None, "offset_error_ms": None, "detected_share": None, "attribution_agreement": None,
    }
    if reference.has_timeline:
        out.update(timing_errors(activity, reference, person))
        if own.any():
            out["attribution_agreement"] = float(np.mean(activity.face_owner[own] == person))
    return out


def _intended_overlap(reference: Reference, count: int) -> np.ndarray:
    times = grid_times(count)
    return np.logical_and(*[spans_mask([(s.start_s, s.end_s) for s in reference.segments if s.speaker == p], times)
                            for p in (0, 1)])


def _visible_start(activity: Activity, turn) -> float:
    """When the next speaker really started: speech is given to one person at a time, so a start
    that overlaps the previous turn shows only as this face already talking during it."""
    i = int(round(turn.start_s * RATE))
    while i > 0 and activity.talking[turn.speaker, i - 1] and activity.owner[i - 1] == 1 - turn.speaker:
        i -= 1
    return i / RATE


def conversation_fluency(activity: Activity, reference: Reference) -> dict:
    turns = activity.turns()
    transfers = [_visible_start(activity, b) - a.end_s for a, b in zip(turns, turns[1:]) if a.speaker != b.speaker]
    overlap = activity.talking.all(axis=0) & ~_intended_overlap(reference, len(activity.speech))
    speech_frames = max(int(activity.speech.sum()), 1)
    gaps = [b[0] - a[1] for a, b in zip(activity.segments, activity.segments[1:])]
    long = [g for g in gaps if g > LONG_SILENCE_S]
    return {
        "speech_share": float(activity.speech.mean()),
        "floor_transfers": len(transfers),
        "fto_median_s": percentile_or_none(transfers, 50),
        "fto_p10_s": percentile_or_none(transfers, 10),
        "fto_p90_s": percentile_or_none(transfers, 90),
        "overlap_share": float(overlap.sum() / speech_frames),
        "long_silences": len(long),
        "long_silence_s": float(sum(long)),
    }

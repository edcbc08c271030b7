"""Dyadic fluency: is the speech where the timeline says, how fast does the floor pass from one
person to the other, do they talk over each other, and are there dead silences?

Floor-transfer offsets are the next speaker's start minus the previous speaker's end: negative
when they overlap."""
from __future__ import annotations

import numpy as np

from ..analysis.spans import lasting
from .activity import RATE, Activity, grid_times, spans_mask
from .reference import Reference
from .signal_math import percentile_or_none

LONG_SILENCE_S = 2.0
BACKCHANNEL_MOTION_PAD_S = 0.2
MIN_OVERLAP_S = 0.1          # shorter overlaps are within the blur of the mouth-motion measure


def _turns(reference: Reference) -> list:
    """The timeline's turns, without the backchannels said over them."""
    return [s for s in reference.segments if not s.is_backchannel]


def _segment_windows(segs: list) -> list[tuple[float, float]]:
    """Each timeline turn's search window: up to the middle of the gaps to its neighbours, so speech
    next to a turn is never counted for it."""
    out = []
    for i, s in enumerate(segs):
        lo = (segs[i - 1].end_s + s.start_s) / 2 if i > 0 else 0.0
        hi = (s.end_s + segs[i + 1].start_s) / 2 if i + 1 < len(segs) else np.inf
        out.append((min(lo, s.start_s), max(hi, s.end_s)))
    return out


def _detected_spans(activity: Activity, segs: list) -> list[tuple[float, float] | None]:
    """For each timeline turn, where speech was detected inside its window: (first start, last end)."""
    out = []
    for lo, hi in _segment_windows(segs):
        inside = [(max(a, lo), min(b, hi)) for a, b in activity.segments if b > lo and a < hi]
        out.append((inside[0][0], inside[-1][1]) if inside else None)
    return out


def timing_errors(activity: Activity, reference: Reference, person: int) -> dict:
    """Mean absolute onset and offset error (ms) of the detected speech against the person's
    timeline turns, and the share of turns where speech was found at all."""
    onsets, offsets, found = [], [], []
    segs = _turns(reference)
    for seg, span in zip(segs, _detected_spans(activity, segs)):
        if seg.speaker != person:
            continue
        found.append(span is not None)
        if span is not None:
            onsets.append(abs(span[0] - seg.start_s) * 1000)
            offsets.append(abs(span[1] - seg.end_s) * 1000)
    return {
        "onset_error_ms": float(np.mean(onsets)) if onsets else None,
        "offset_error_ms": float(np.mean(offsets)) if offsets else None,
        "detected_share": float(np.mean(found)) if found else None,
    }


def gap_errors(activity: Activity, reference: Reference) -> list[float]:
    """|heard gap - timeline gap| (ms) between each pair of consecutive timeline turns that the timeline
    keeps apart: how well floor transfers and the script's pauses come out in the sound."""
    segs = _turns(reference)
    spans = _detected_spans(activity, segs)
    return [abs((spans[i + 1][0] - spans[i][1]) - (segs[i + 1].start_s - segs[i].end_s)) * 1000
            for i in range(len(segs) - 1)
            if spans[i] and spans[i + 1] and segs[i + 1].start_s >= segs[i].end_s]


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
    """Where the timeline has both people speaking. A backchannel's span is widened by half the window
    over which mouth motion is measured, which keeps the listener's lips 'moving' that much longer."""
    times = grid_times(count)
    pad = lambda s: BACKCHANNEL_MOTION_PAD_S if s.is_backchannel else 0.0  # noqa: E731
    return np.logical_and(*[spans_mask([(s.start_s - pad(s), s.end_s + pad(s)) for s in reference.segments
                                        if s.speaker == p], times) for p in (0, 1)])


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
    # Mouth motion is averaged over 0.4 s, so a mouth that starts moving right after the other stops reads as
    # talking a little early: at a quick floor transfer the two blur into a few hundredths of a second of
    # 'overlap' that no one could see or hear. Only overlaps of MIN_OVERLAP_S or more count.
    overlap = lasting(activity.talking.all(axis=0) & ~_intended_overlap(reference, len(activity.speech)),
                      MIN_OVERLAP_S * RATE)
    speech_frames = max(int(activity.speech.sum()), 1)
    gaps = [b[0] - a[1] for a, b in zip(activity.segments, activity.segments[1:])]
    long = [g for g in gaps if g > LONG_SILENCE_S]
    timing = gap_errors(activity, reference) if reference.has_timeline else []
    return {
        "speech_share": float(activity.speech.mean()),
        "floor_transfers": len(transfers),
        "fto_median_s": percentile_or_none(transfers, 50),
        "fto_p10_s": percentile_or_none(transfers, 10),
        "fto_p90_s": percentile_or_none(transfers, 90),
        "overlap_share": float(overlap.sum() / speech_frames),
        "gap_error_ms": float(np.mean(timing)) if timing else None,
        "gap_error_max_ms": float(np.max(timing)) if timing else None,
        "long_silences": len(long),
        "long_silence_s": float(sum(long)),
    }

"""Listening responsiveness: while the partner speaks, does this face keep its mouth closed, move
more than in silence, react after the partner's phrases, and move in step with the speaker?"""
from __future__ import annotations

import numpy as np

from ..analysis.spans import runs
from .activity import RATE, Activity
from .face_signals import FaceSignals, reaction_frames
from .signal_math import lagged_correlation, ratio_or_none

REACTION_WINDOW_S = 1.0
MAX_FOLLOW_S = 1.0          # how far behind the speaker a listener's motion is looked for
MIN_FRAMES_S = 0.5          # less than this of a condition gives no number


def phrase_ends(activity: Activity, speaker: int) -> list[float]:
    """Ends of the speaker's stretches of speech after which the listener stays quiet for the reaction
    window, with a full window left in the video: the moments a listener would nod or smile."""
    window = int(REACTION_WINDOW_S * RATE)
    ends = []
    for _, stop in runs(activity.owner == speaker):
        after = activity.owner[stop:stop + window]
        if stop + window <= len(activity.owner) and not (after == 1 - speaker).any():
            ends.append(stop / RATE)
    return ends


def _mean_energy(speed: np.ndarray, mask: np.ndarray, fps: float) -> float | None:
    return float(np.mean(speed[mask] ** 2)) if mask.sum() >= MIN_FRAMES_S * fps else None


def listening(listener: int, signals: tuple[FaceSignals, FaceSignals], activity: Activity,
              owner_frames: np.ndarray) -> dict:
    me, partner = signals[listener], signals[1 - listener]
    fps = me.fps
    # the listener's own backchannels ("mm-hm" over the partner's turn) are speech, not listening
    listening_frames = (owner_frames == 1 - listener) & ~activity.backchannel_frames(listener, fps, len(owner_frames))
    silent_frames = owner_frames == -1
    speed = me.head_speed()

    # reactions only count while the listener is not speaking
    reactions = [f / fps for f in reaction_frames(me) if owner_frames[f] != listener]
    ends = phrase_ends(activity, 1 - listener)
    reacted = [any(end < r <= end + REACTION_WINDOW_S for r in reactions) for end in ends]

    lags = range(0, int(round(MAX_FOLLOW_S * fps)) + 1)
    follow = lagged_correlation(partner.head_speed(), speed, listening_frames, lags) \
        if listening_frames.sum() >= MIN_FRAMES_S * fps else None
    during, silence = _mean_energy(speed, listening_frames, fps), _mean_energy(speed, silent_frames, fps)
    return {
        "mouth_closed_share": float(np.mean(me.mouth_closed()[listening_frames]))
        if listening_frames.any() else None,
        "head_motion_listening": during,
        "head_motion_silence": silence,
        "head_motion_ratio": ratio_or_none(during, silence),
        "phrase_ends": len(ends),
        "reaction_share": float(np.mean(reacted)) if ends else None,
        "motion_corr": float(follow.max()) if follow is not None else None,
        "motion_lag_s": float(lags[int(np.argmax(follow))] / fps) if follow is not None else None,
    }

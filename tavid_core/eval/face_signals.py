"""Per-frame signals read off a face track's 68 landmarks, and the visible events in them.

All lengths are in units of the face size (the distance between the eye centres), so the numbers
do not depend on the video's resolution.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import median_filter, uniform_filter1d

from .tracking import FaceTrack

# Points that move with the head but not with speech, blinks or smiles: the upper face outline,
# the nose and the eye corners. dlib places the outline least steadily, so the head's position is
# read from the nose and eye corners only.
RIGID = [0, 1, 2, 3, 13, 14, 15, 16, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 39, 42, 45]
HEAD = [27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 39, 42, 45]
HEAD_SMOOTHING = 5          # frames averaged before head speed is taken: landmark noise is not motion
UPPER_INNER_LIP, LOWER_INNER_LIP = [61, 62, 63], [65, 66, 67]

MOUTH_CLOSED = 0.05         # inner-lip gap below this (face sizes) counts as a closed mouth
BLINK_RATIO = 0.75          # eye opening below this share of its typical value is a blink (dlib sees
                            # closed eyes behind glasses only about two-thirds closed)
SMILE_RATIO = 1.06          # mouth width above this share of its typical value is a smile
NOD_AMPLITUDE = 0.02        # vertical head excursion (face sizes) that counts as a nod
EVENT_GAP_S = 0.3           # events of one kind closer than this are one event


@dataclass(frozen=True)
class FaceSignals:
    fps: float
    aperture: np.ndarray      # [T] inner-lip gap
    mouth_width: np.ndarray   # [T] corner to corner
    eye_open: np.ndarray      # [T] eye height over eye width, both eyes averaged
    head: np.ndarray          # [T, 3] x, y of the rigid points' centre (face sizes), roll (radians)

    @property
    def num_frames(self) -> int:
        return len(self.aperture)

    def head_speed(self) -> np.ndarray:
        """[T] how fast the head moves, face sizes (or radians) per second."""
        head = uniform_filter1d(self.head, size=HEAD_SMOOTHING, axis=0, mode="nearest")
        velocity = np.diff(head, axis=0, prepend=head[:1]) * self.fps
        return np.linalg.norm(velocity, axis=1)

    def mouth_motion(self, window_s: float = 0.4) -> np.ndarray:
        """[T] mean absolute change of the lip gap over a short window: high while articulating,
        near zero for a still mouth, open or closed."""
        change = np.abs(np.diff(self.aperture, prepend=self.aperture[:1]))
        return uniform_filter1d(change, size=max(1, int(round(window_s * self.fps))), mode="nearest")


def _fill(values: np.ndarray, found: np.ndarray) -> np.ndarray:
    """Frames where the face was lost take values interpolated from the nearest found ones."""
    if found.all() or not found.any():
        return values
    index = np.arange(len(values))
    flat = values.reshape(len(values), -1)
    out = np.stack([np.interp(index, index[found], col[found]) for col in flat.T], axis=1)
    return out.reshape(values.shape).astype(values.dtype)


def face_signals(track: FaceTrack, fps: float) -> FaceSignals:
    points = _fill(track.landmarks, track.found) / track.size
    aperture = np.maximum(points[:, LOWER_INNER_LIP, 1].mean(1) - points[:, UPPER_INNER_LIP, 1].mean(1), 0.0)
    width = np.linalg.norm(points[:, 54] - points[:, 48], axis=1)

    def eye(p):  # eye height over width for points p[0..5] of one eye
        return (np.linalg.norm(p[:, 1] - p[:, 5], axis=1) + np.linalg.norm(p[:, 2] - p[:, 4], axis=1)) / (
            2 * np.linalg.norm(p[:, 0] - p[:, 3], axis=1) + 1e-6)

    eye_open = (eye(points[:, 36:42]) + eye(points[:, 42:48])) / 2
    centre = points[:, HEAD].mean(1)
    eye_line = points[:, 45] - points[:, 36]
    roll = np.arctan2(eye_line[:, 1], eye_line[:, 0])
    head = np.column_stack([centre, roll])
    return FaceSignals(fps, aperture.astype(np.float32), width.astype(np.float32), eye_open.astype(np.float32),
                       head.astype(np.float32))


def landmark_jitter(track: FaceTrack) -> float:
    """High-frequency energy of the rigid points: RMS distance (thousandths of the face size) between
    each point and its 5-frame moving average. Smooth head motion scores near zero, flicker high."""
    points = _fill(track.landmarks, track.found)[:, RIGID] / track.size
    if len(points) < 5:
        return 0.0
    smooth = uniform_filter1d(points, size=5, axis=0, mode="nearest")
    residual = (points - smooth)[2:-2]
    return float(np.sqrt(np.mean(np.sum(residual ** 2, axis=-1))) * 1000.0)


def _onsets(active: np.ndarray, fps: float) -> np.ndarray:
    """Frames where `active` switches on, merging switches closer than EVENT_GAP_S."""
    starts = np.flatnonzero(active & ~np.concatenate([[False], active[:-1]]))
    keep, last = [], -np.inf
    for s in starts:
        if s - last >= EVENT_GAP_S * fps:
            keep.append(s)
        last = s
    return np.array(keep, dtype=int)


def _baseline(values: np.ndarray, fps: float, seconds: float = 4.0) -> np.ndarray:
    """A slowly moving typical value (running median), so slow drifts are not events."""
    size = max(3, int(round(seconds * fps)) | 1)
    return median_filter(values, size=size, mode="nearest")


def blink_frames(signals: FaceSignals) -> np.ndarray:
    return _onsets(signals.eye_open < BLINK_RATIO * _baseline(signals.eye_open, signals.fps), signals.fps)


def smile_frames(signals: FaceSignals) -> np.ndarray:
    return _onsets(signals.mouth_width > SMILE_RATIO * _baseline(signals.mouth_width, signals.fps), signals.fps)


def nod_frames(signals: FaceSignals) -> np.ndarray:
    """Frames where the head dips (or rises) by NOD_AMPLITUDE from where it has been over the last second."""
    y = uniform_filter1d(signals.head[:, 1], size=3, mode="nearest")
    away = np.abs(y - _baseline(y, signals.fps, seconds=1.0)) > NOD_AMPLITUDE
    return _onsets(away, signals.fps)


def reaction_frames(signals: FaceSignals) -> np.ndarray:
    """All visible reactions (nods, blinks, smiles), sorted."""
    return np.sort(np.concatenate([nod_frames(signals), blink_frames(signals), smile_frames(signals)]))

"""Per-frame signals read off a face track's landmarks (dlib's 68 or MediaPipe's 478 points, and then
MediaPipe's blendshapes too), and the visible events in them.

All lengths are in units of the face size (the distance between the eye centres), so the numbers
do not depend on the video's resolution, and are read from the same places of the face with either set of
points (landmark_layout.py), so the thresholds below hold for both.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import median_filter, uniform_filter1d

from ..analysis.face_landmarker import blendshape_index
from .landmark_layout import DLIB68
from .tracking import FaceTrack

HEAD_SMOOTHING = 5          # frames averaged before head speed is taken: landmark noise is not motion

MOUTH_CLOSED = 0.05         # inner-lip gap below this (face sizes) counts as a closed mouth
JAW_SHUT = 0.01             # MediaPipe's jawOpen below this is a shut jaw (0.000-0.002 on listening renders)
SMILE_RATIO = 1.06          # mouth width above this share of its typical value is a smile
NOD_AMPLITUDE = 0.02        # vertical head excursion (face sizes) that counts as a nod
NOD_PITCH = np.radians(2.0)  # ... or a tilt this large (MediaPipe's head pose)
EVENT_GAP_S = 0.3           # events of one kind closer than this are one event
BLINK_RISE = 0.2            # MediaPipe's eyeBlink this far above its typical value is a blink too
SMILE_RISE = 0.1            # mouthSmile this far above its typical value is a smile too
_BLINKS = [blendshape_index(n) for n in ("eyeBlinkLeft", "eyeBlinkRight")]
_SMILES = [blendshape_index(n) for n in ("mouthSmileLeft", "mouthSmileRight")]
_JAW = blendshape_index("jawOpen")


@dataclass(frozen=True)
class FaceSignals:
    fps: float
    aperture: np.ndarray      # [T] inner-lip gap
    mouth_width: np.ndarray   # [T] corner to corner
    eye_open: np.ndarray      # [T] eye height over eye width, both eyes averaged
    head: np.ndarray          # [T, 3] x, y of the rigid points' centre (face sizes), roll (radians)
    source: str = DLIB68.name  # which landmarks they were read from
    blink_ratio: float = DLIB68.blink_ratio  # the eye opening, as a share of its typical value, of a blink
    jaw_open: np.ndarray | None = None   # [T] MediaPipe's jawOpen, with its landmarks
    blink: np.ndarray | None = None      # [T] its eyeBlink, both eyes averaged
    smile: np.ndarray | None = None      # [T] its mouthSmile, both sides averaged
    pitch: np.ndarray | None = None      # [T] the head's pitch from its pose (radians)

    @property
    def num_frames(self) -> int:
        return len(self.aperture)

    def head_speed(self) -> np.ndarray:
        """[T] how fast the head moves, face sizes (or radians) per second."""
        head = uniform_filter1d(self.head, size=HEAD_SMOOTHING, axis=0, mode="nearest")
        velocity = np.diff(head, axis=0, prepend=head[:1]) * self.fps
        return np.linalg.norm(velocity, axis=1)

    def mouth_closed(self) -> np.ndarray:
        """[T] bool: lips together, or (MediaPipe) the jaw shut with the lips only parted, as in a smile
        showing closed teeth."""
        closed = self.aperture < MOUTH_CLOSED
        return closed if self.jaw_open is None else closed | (self.jaw_open < JAW_SHUT)

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
    layout = track.layout
    points = _fill(track.landmarks, track.found) / track.size
    aperture = np.maximum(points[:, layout.lower_inner_lip, 1].mean(1) - points[:, layout.upper_inner_lip, 1].mean(1),
                          0.0)
    width = np.linalg.norm(points[:, layout.mouth_corners[1]] - points[:, layout.mouth_corners[0]], axis=1)

    def eye(p):  # eye height over width for points p[0..5] of one eye
        return (np.linalg.norm(p[:, 1] - p[:, 5], axis=1) + np.linalg.norm(p[:, 2] - p[:, 4], axis=1)) / (
            2 * np.linalg.norm(p[:, 0] - p[:, 3], axis=1) + 1e-6)

    eye_open = (eye(points[:, layout.left_eye]) + eye(points[:, layout.right_eye])) / 2
    centre = points[:, layout.head].mean(1)
    eye_line = points[:, layout.eye_line[1]] - points[:, layout.eye_line[0]]
    roll = np.arctan2(eye_line[:, 1], eye_line[:, 0])
    head = np.column_stack([centre, roll])
    scores = None if track.blendshapes is None else _fill(track.blendshapes, track.found)
    extra = {} if scores is None else {"jaw_open": scores[:, _JAW], "blink": scores[:, _BLINKS].mean(1),
                                       "smile": scores[:, _SMILES].mean(1)}
    if track.angles is not None:
        extra["pitch"] = _fill(track.angles, track.found)[:, 1]
    return FaceSignals(fps, aperture.astype(np.float32), width.astype(np.float32), eye_open.astype(np.float32),
                       head.astype(np.float32), layout.name, layout.blink_ratio,
                       **{k: v.astype(np.float32) for k, v in extra.items()})


def landmark_jitter(track: FaceTrack) -> float:
    """High-frequency energy of the rigid points: RMS distance (thousandths of the face size) between
    each point and its 5-frame moving average. Smooth head motion scores near zero, flicker high."""
    points = _fill(track.landmarks, track.found)[:, track.layout.rigid] / track.size
    if len(points) < 5:
        return 0.0
    smooth = uniform_filter1d(points, size=5, axis=0, mode="nearest")
    residual = (points - smooth)[2:-2]
    return float(np.sqrt(np.mean(np.sum(residual ** 2, axis=-1))) * 1000.0)


NOISE_FLOOR = 0.002         # face sizes: landmarks never count as steadier than this


def landmark_noise(track: FaceTrack) -> float:
    """How much landmarks flicker when nothing moves them (face sizes): the RMS distance of the nose and
    eye-corner points from their 5-frame average, which smooth head motion leaves near zero."""
    points = _fill(track.landmarks, track.found)[:, track.layout.head] / track.size
    if len(points) < 5:
        return NOISE_FLOOR
    residual = (points - uniform_filter1d(points, size=5, axis=0, mode="nearest"))[2:-2]
    return max(float(np.sqrt(np.mean(residual ** 2))), NOISE_FLOOR)


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


def _rises(values: np.ndarray | None, rise: float, fps: float) -> np.ndarray | bool:
    """Where a blendshape score is `rise` above its typical value (False without blendshapes)."""
    return False if values is None else values > _baseline(values, fps) + rise


def blink_frames(signals: FaceSignals) -> np.ndarray:
    """Eyes closing: the lids' opening falls, or (MediaPipe) the blink score rises."""
    closed = signals.eye_open < signals.blink_ratio * _baseline(signals.eye_open, signals.fps)
    return _onsets(closed | _rises(signals.blink, BLINK_RISE, signals.fps), signals.fps)


def smile_frames(signals: FaceSignals) -> np.ndarray:
    """Smiles: the mouth widens, or (MediaPipe) the smile score rises."""
    wide = signals.mouth_width > SMILE_RATIO * _baseline(signals.mouth_width, signals.fps)
    return _onsets(wide | _rises(signals.smile, SMILE_RISE, signals.fps), signals.fps)


def nod_frames(signals: FaceSignals) -> np.ndarray:
    """Frames where the head dips (or rises) by NOD_AMPLITUDE from where it has been over the last second,
    or (MediaPipe's head pose) tilts by NOD_PITCH."""
    def away(values, limit):
        values = uniform_filter1d(values, size=3, mode="nearest")
        return np.abs(values - _baseline(values, signals.fps, seconds=1.0)) > limit

    tilted = False if signals.pitch is None else away(signals.pitch, NOD_PITCH)
    return _onsets(away(signals.head[:, 1], NOD_AMPLITUDE) | tilted, signals.fps)


def reaction_frames(signals: FaceSignals) -> np.ndarray:
    """All visible reactions (nods, blinks, smiles), sorted."""
    return np.sort(np.concatenate([nod_frames(signals), blink_frames(signals), smile_frames(signals)]))

"""Follow the two faces of a side-by-side conversation video with MediaPipe's landmarker: 478 points,
52 blendshapes and the head's pose in every frame.

dlib finds the two faces at the start (tracking.find_pair); from then on each face has a video landmarker
of its own, which follows it from frame to frame inside a crop that stays put while the face stays near
its middle, on a thread of its own: MediaPipe releases Python's lock, so the two faces use two cores
while the main thread decodes. Identity embeddings still come from dlib, in the box its detector would
draw around these points. The person on the left is A.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..analysis.face_landmarker import new_landmarker
from ..analysis.faces import face_analyzer
from ..media.images import as_uint8_rgb
from ..runtime import Runtime
from .clip import Clip
from .landmark_layout import MEDIAPIPE478
from .tracking import (BOX_PER_SPAN, Box, FaceTrack, _Rows, check_frame, embed_samples, face_region, find_pair,
                       sampling_interval, take_sample, typical_size)

RECENTRE = 0.15          # the crop follows when the face has moved this share of its width from the crop's centre
RESIZE = 0.3             # ... or has grown or shrunk by this share
DLIB_BOX_DROP = 0.045    # dlib's box sits this share of the face width below the mean of the 478 points
IN_FLIGHT = 3            # frames handed to the landmarkers before the oldest one's results are collected
CHEEKS = (234, 454)      # the face's outer edges at the eyes' height: as wide as dlib's 68 points


def dlib_box(points: np.ndarray) -> Box:
    """The box dlib's detector would draw around this face (its 68 points span the cheek to cheek width)."""
    width = float(points[CHEEKS[1], 0] - points[CHEEKS[0], 0])
    side = BOX_PER_SPAN * abs(width)
    cx, cy = points[:, 0].mean(), points[:, 1].mean() + DLIB_BOX_DROP * abs(width)
    return (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)


def identity_box(frame: np.ndarray, points: np.ndarray) -> Box:
    """The box dlib's identity embedding reads the face in: its detector's, run near these points as it is
    run on a reference photo (the embedding moves with the box, by up to 0.05 for a few pixels), or one
    drawn around the points where it finds nothing."""
    guess = dlib_box(points)
    region, x0, y0 = face_region(frame, guess, 1.0)
    found = face_analyzer().detect(region)
    if not found:
        return guess
    (left, top, right, bottom), _ = found[0]
    return (left + x0, top + y0, right + x0, bottom + y0)


class _Follower:
    """One face: its landmarker, the crop it is looked for in, and what was found so far."""

    def __init__(self, box: Box):
        self.landmarker = new_landmarker(video=True)
        self.crop = box
        self.points, self.scores, self.angles, self.found = _Rows((478, 2)), _Rows((52,)), _Rows((3,)), _Rows(())
        self.last: np.ndarray | None = None

    def record(self, mesh) -> None:
        if mesh is not None:
            self.last = mesh.points[:, :2]
            box, crop = np.array(dlib_box(self.last)), np.array(self.crop)
            width = box[2] - box[0]
            moved = np.linalg.norm((box[:2] + box[2:]) / 2 - (crop[:2] + crop[2:]) / 2)
            if moved > RECENTRE * width or abs(width / (crop[2] - crop[0]) - 1) > RESIZE:
                self.crop = tuple(float(v) for v in box)
        self.found.append(mesh is not None)
        self.points.append(mesh.points[:, :2] if mesh is not None else (self.last if self.last is not None else 0))
        self.scores.append(mesh.blendshapes if mesh is not None else np.nan)
        self.angles.append(mesh.angles if mesh is not None else np.nan)


def track_meshes(clip: Clip, runtime: Runtime, where: str = "video") -> tuple[FaceTrack, FaceTrack]:
    """Both faces' 478 points, blendshapes and pose in every frame, plus identity and sharpness samples."""
    start_boxes, _ = find_pair(clip, where)
    followers = [_Follower(box) for box in start_boxes]
    tracks = [FaceTrack(np.empty(0), np.empty(0), 0.0, layout=MEDIAPIPE478) for _ in range(2)]
    sample_every = sampling_interval(clip)
    pools = [ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"tavid-face-{p}") for p in "AB"]  # in order
    pending: list[tuple[int, np.ndarray, list]] = []
    shape = None

    def collect():
        index, frame, futures = pending.pop(0)
        for person, (follower, future) in enumerate(zip(followers, futures)):
            mesh = future.result()
            follower.record(mesh)
            if index % sample_every == 0 and follower.last is not None:
                take_sample(tracks[person], frame, identity_box(frame, follower.last), follower.last, MEDIAPIPE478)

    try:
        for index, frame in runtime.steps(enumerate(clip.frames()), clip.num_frames, "evaluating faces"):
            frame = as_uint8_rgb(frame)
            shape = shape or frame.shape
            check_frame(frame, shape, index, where)
            time_s = index / clip.fps
            # the crop is read here, where results are recorded, so the same video always gets the same crops
            futures = [pool.submit(f.landmarker.detect, frame, f.crop, time_s) for pool, f in zip(pools, followers)]
            pending.append((index, frame, futures))
            if len(pending) >= IN_FLIGHT:
                collect()
        while pending:
            collect()
    finally:
        for pool in pools:
            pool.shutdown(wait=True, cancel_futures=True)
        for follower in followers:
            follower.landmarker.close()

    for track, follower in zip(tracks, followers):
        track.found = follower.found.array() > 0.5
        track.landmarks = _filled(follower.points.array(), track.found)
        track.blendshapes = np.nan_to_num(follower.scores.array())
        track.angles = np.nan_to_num(follower.angles.array())
        track.size = typical_size(track.landmarks, track.found, MEDIAPIPE478)
    embed_samples(*tracks)   # with the landmarkers done: while they run, it would keep them from Python
    return tracks[0], tracks[1]


def _filled(points: np.ndarray, found: np.ndarray) -> np.ndarray:
    """Frames before the face was first found take its first points (later gaps hold the last ones)."""
    if found.any() and not found[0]:
        points[:np.argmax(found)] = points[np.argmax(found)]
    return points

"""Follow the two faces of a side-by-side conversation video with dlib, in one streaming pass.

The detector runs once a second; the boxes in between are interpolated, so every frame gets a
smoothly moving box. dlib's landmarks depend on the box they are given, so a box that jumped from
frame to frame would show up as landmark jitter that is not in the video. The person on the left
is A, the one on the right is B.

Identity embeddings and sharpness are sampled on a sparser grid (they cost ~65 ms per face).
"""
from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass, field

import numpy as np

from ..analysis.faces import face_analyzer
from ..errors import FaceNotFoundError, TavidError
from ..media.images import as_uint8_rgb, resize
from ..runtime import Runtime
from .clip import Clip
from .landmark_layout import DLIB68, Layout

MEDIAN_KEYFRAMES = 15      # box size: the median over this many recent detections
BOX_PER_SPAN = 1.085        # dlib's detector box is this many times the width of its 68 points, centred on them
DETECT_MAX_SIDE = 640       # the detector sees frames at most this long (faces of 80+ px are found)
SEARCH_SECONDS = 10.0       # how far into the clip to look for the two faces
MAX_IDENTITY_SAMPLES = 8   # per face; embedding one takes ~0.1 s, while nothing else can run Python
SHARPNESS_CROP = 128        # face crops are compared for sharpness at this size
MIN_SAMPLE_GAP_S = 1.0

Box = tuple[float, float, float, float]


@dataclass
class FaceTrack:
    """One person's face through the clip."""

    landmarks: np.ndarray                 # [T, points, 2] pixels (see layout); interpolated where not found
    found: np.ndarray                     # [T] bool: the face was found in (or near) this frame
    size: float                           # median distance between the eye centres, pixels
    embeddings: list[np.ndarray] = field(default_factory=list)
    sharpness: list[float] = field(default_factory=list)
    layout: Layout = DLIB68
    blendshapes: np.ndarray | None = None  # [T, 52] MediaPipe's scores (BLENDSHAPES order), with its landmarks
    angles: np.ndarray | None = None       # [T, 3] yaw, pitch, roll (radians), with MediaPipe's landmarks
    first_face: np.ndarray | None = None   # the face as first seen (a crop of the frame), for its apparent age
    unembedded: list[tuple[np.ndarray, Box]] = field(default_factory=list)  # samples embed_samples has to embed


def eye_distance(landmarks: np.ndarray, layout: Layout = DLIB68) -> np.ndarray:
    """Distance between the eye centres ([..., points, 2] -> [...])."""
    return np.linalg.norm(landmarks[..., layout.left_eye, :].mean(-2) - landmarks[..., layout.right_eye, :].mean(-2),
                          axis=-1)


def face_crop(image: np.ndarray, landmarks: np.ndarray, layout: Layout = DLIB68) -> np.ndarray:
    """A square around the face, four eye distances wide, scaled to a fixed size. It is placed by the
    landmarks rather than the detector's box, whose size varies with the scale it was detected at."""
    eyes = float(eye_distance(landmarks, layout))
    cx, cy = landmarks.mean(0)
    half = 2.0 * max(eyes, 4.0)
    h, w = image.shape[:2]
    x0, y0 = int(max(0, cx - half)), int(max(0, cy - half))
    x1, y1 = int(min(w, cx + half)), int(min(h, cy + half))
    return resize(image[y0:y1, x0:x1], SHARPNESS_CROP, SHARPNESS_CROP)


def sharpness(image: np.ndarray, landmarks: np.ndarray, layout: Layout = DLIB68) -> float:
    """Variance of the Laplacian of the grey face crop: higher is sharper."""
    from scipy.ndimage import laplace
    grey = face_crop(image, landmarks, layout).astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    return float(laplace(grey).var())


def _centre(box: Box) -> np.ndarray:
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])


def _detect(image: np.ndarray, upsample: int) -> list[Box]:
    return [box for box, _ in face_analyzer().detect(image, max_side=DETECT_MAX_SIDE, upsample=upsample)]


def find_pair(clip: Clip, where: str) -> tuple[tuple[Box, Box], int]:
    """The boxes of the two largest faces, left one first, from the first frame that shows two, and
    the detector upsampling that found them."""
    step = max(1, int(round(clip.fps)))
    best = 0
    with closing(clip.frames()) as frames:  # closes the decoder when the faces are found early
        for index, frame in enumerate(frames):
            if index > SEARCH_SECONDS * clip.fps:
                break
            if index % step:
                continue
            for upsample in (0, 1):
                boxes = _detect(frame, upsample)
                best = max(best, len(boxes))
                if len(boxes) >= 2:
                    pair = sorted(boxes[:2], key=lambda b: _centre(b)[0])
                    return (pair[0], pair[1]), upsample
    raise FaceNotFoundError(
        f"found {'no face' if best == 0 else 'only one face'} in the first {SEARCH_SECONDS:g} s", where=where,
        fix="Evaluation needs a video that shows both people side by side, faces at least 40 pixels wide.")


def _steady(box: Box, widths: list[float]) -> Box:
    """The box about the same centre with the median size found so far: the detector's boxes jump between
    the scales of its image pyramid, and dlib's landmarks move with the box's size."""
    side = float(np.median(widths[-MEDIAN_KEYFRAMES:])) if widths else box[2] - box[0]
    cx, cy = _centre(box)
    return (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)


def landmark_box(analyzer, frame: np.ndarray, box: Box) -> Box:
    """The box the detector would draw around the landmarks fitted in `box`. dlib's shape model reads a
    face best in the boxes it was trained on, and the detector's own boxes jump by pyramid steps (up to
    a fifth in size); in the wrong box thin or pale lips read as parted."""
    points = analyzer.landmarks(frame, box)
    side = BOX_PER_SPAN * float(np.ptp(points[:, 0]))
    cx, cy = points.mean(axis=0)
    return (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)


def _match(tracks: list[Box], boxes: list[Box]) -> list[Box | None]:
    """Each track's nearest new box within half a face width, or None."""
    out: list[Box | None] = []
    taken: set[int] = set()
    for last in tracks:
        dists = [np.linalg.norm(_centre(b) - _centre(last)) if i not in taken else np.inf for i, b in enumerate(boxes)]
        i = int(np.argmin(dists)) if dists else -1
        if i >= 0 and dists[i] < 0.5 * (last[2] - last[0]):
            taken.add(i)
            out.append(boxes[i])
        else:
            out.append(None)
    return out


class _Rows:
    """A growing [N, *shape] float32 array kept in fixed chunks: a long video adds a few large blocks
    instead of one small array per frame, which would pin freed frame memory in the heap."""

    CHUNK = 1024

    def __init__(self, shape: tuple[int, ...]):
        self.shape, self.chunks, self.count = shape, [], 0

    def append(self, row: np.ndarray) -> None:
        if self.count == len(self.chunks) * self.CHUNK:
            self.chunks.append(np.empty((self.CHUNK, *self.shape), np.float32))
        self.chunks[-1][self.count % self.CHUNK] = row
        self.count += 1

    def array(self) -> np.ndarray:
        return np.concatenate(self.chunks)[:self.count] if self.chunks else np.empty((0, *self.shape), np.float32)


def sampling_interval(clip: Clip) -> int:
    """Frames between identity and sharpness samples: at most MAX_IDENTITY_SAMPLES, a second apart at least."""
    return max(1, int(round(clip.fps)), int(np.ceil(clip.num_frames / MAX_IDENTITY_SAMPLES)),
               int(MIN_SAMPLE_GAP_S * clip.fps))


def face_region(frame: np.ndarray, box: Box, reach: float) -> tuple[np.ndarray, int, int]:
    """The part of the frame `reach` box widths either side of the box's centre (a view), and its corner."""
    cx, cy = _centre(box)
    half = reach * (box[2] - box[0])
    h, w = frame.shape[:2]
    x0, y0 = int(max(0, cx - half)), int(max(0, cy - half))
    return frame[y0:int(min(h, cy + half)), x0:int(min(w, cx + half))], x0, y0


def take_sample(track: FaceTrack, frame: np.ndarray, box: Box, points: np.ndarray, layout: Layout) -> None:
    """A sharpness of the face in `box` and the face kept for its identity embedding (and, the first time, the
    face itself). The embedding waits for embed_samples: dlib's network holds Python's lock while it runs
    (0.1 s), which would stall the threads that follow the faces."""
    track.sharpness.append(sharpness(frame, points, layout))
    region, x0, y0 = face_region(frame, box, 1.5)   # the aligned chip reaches ~1.1 box widths out
    track.unembedded.append((region.copy(), (box[0] - x0, box[1] - y0, box[2] - x0, box[3] - y0)))
    if track.first_face is None:   # twice the box: the whole head, for a detector to find
        track.first_face = face_region(frame, box, 1.0)[0].copy()


def embed_samples(*tracks: FaceTrack) -> None:
    """The identity embeddings of the faces take_sample kept."""
    for track in tracks:
        track.embeddings += [face_analyzer().embedding(face, box) for face, box in track.unembedded]
        track.unembedded.clear()


def check_frame(frame: np.ndarray, shape: tuple[int, ...], index: int, where: str) -> None:
    if frame.shape != tuple(shape):
        raise TavidError(f"frame {index} is {frame.shape[1]}x{frame.shape[0]}, the first was {shape[1]}x{shape[0]}",
                         where=where)


def track_faces(clip: Clip, runtime: Runtime, where: str = "video") -> tuple[FaceTrack, FaceTrack]:
    """Landmarks of both faces in every frame, plus identity and sharpness samples."""
    analyzer = face_analyzer()
    start_boxes, upsample = find_pair(clip, where)
    step = max(1, int(round(clip.fps)))
    sample_every = sampling_interval(clip)

    last = list(start_boxes)                       # last known box of each person
    key_index, key_boxes = 0, [None, None]          # the previous keyframe and what it found
    buffer: np.ndarray | None = None                # the frames since that keyframe, reused
    pending: list[int] = []                         # their frame numbers
    landmarks, found = [_Rows((68, 2)) for _ in range(2)], [_Rows(()) for _ in range(2)]
    tracks = [FaceTrack(np.empty(0), np.empty(0), 0.0) for _ in range(2)]
    sizes: list[list[float]] = [[], []]             # box widths found at keyframes so far, per person

    def flush(next_index: int, next_boxes: list[Box | None]):
        for slot, index in enumerate(pending):
            frame = buffer[slot]
            t = (index - key_index) / max(next_index - key_index, 1)
            for person in range(2):
                a, b = key_boxes[person], next_boxes[person]
                if a is not None and b is not None:
                    box = tuple((1 - t) * np.array(a) + t * np.array(b))
                else:
                    box = a or b or last[person]
                box = _steady(box, sizes[person])
                points = analyzer.landmarks(frame, box)
                landmarks[person].append(points)
                found[person].append(a is not None or b is not None)
                if index % sample_every == 0:
                    take_sample(tracks[person], frame, box, points, DLIB68)
        pending.clear()

    count = 0
    for index, frame in runtime.steps(enumerate(clip.frames()), clip.num_frames, "evaluating faces"):
        frame = as_uint8_rgb(frame)
        if buffer is None:
            buffer = np.empty((step, *frame.shape), np.uint8)
        check_frame(frame, buffer.shape[1:], index, where)
        if index % step == 0:
            boxes = [b and landmark_box(analyzer, frame, b) for b in _match(last, _detect(frame, upsample))]
            for person, box in enumerate(boxes):
                if box is not None:
                    sizes[person].append(box[2] - box[0])
            flush(index, boxes)
            key_index, key_boxes = index, boxes
            last = [b or l for b, l in zip(boxes, last)]
        buffer[len(pending)] = frame
        pending.append(index)
        count = index + 1
    flush(count - 1, [None, None])

    for person, track in enumerate(tracks):
        track.landmarks = landmarks[person].array()
        track.found = found[person].array() > 0.5
        track.size = typical_size(track.landmarks, track.found, DLIB68)
    embed_samples(*tracks)
    return tracks[0], tracks[1]


def typical_size(landmarks: np.ndarray, found: np.ndarray, layout: Layout) -> float:
    """The median eye distance over the frames where the face was found."""
    eyes = eye_distance(landmarks, layout)
    return float(np.median(eyes[found])) if found.any() else float(np.median(eyes))

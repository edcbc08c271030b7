"""Which landmark is which, for dlib's 68 points and MediaPipe's 478: the points every face signal is read
from, so the signals (lip gap, eye opening, mouth width, head position) mean the same with either.

Eyes are listed as dlib lists them: outer or inner corner, two upper-lid points, the other corner, two
lower-lid points, the image's left eye first.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Layout:
    name: str                     # what the report says it used
    count: int
    upper_inner_lip: tuple[int, ...]
    lower_inner_lip: tuple[int, ...]
    mouth_corners: tuple[int, int]
    left_eye: tuple[int, ...]     # six points, see above
    right_eye: tuple[int, ...]
    head: tuple[int, ...]         # nose and eye corners: move with the head, not with speech, blinks or smiles
    rigid: tuple[int, ...]        # those and the upper face outline: what jitter is measured on
    eye_line: tuple[int, int]     # the outer eye corners, image-left first: the head's roll
    blink_ratio: float            # eye opening below this share of its typical value is a blink


DLIB68 = Layout(
    "dlib 68 points", 68, (61, 62, 63), (65, 66, 67), (48, 54), (36, 37, 38, 39, 40, 41), (42, 43, 44, 45, 46, 47),
    (27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 39, 42, 45),
    (0, 1, 2, 3, 13, 14, 15, 16, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 39, 42, 45), (36, 45),
    0.75)   # dlib sees closed eyes behind glasses only about two-thirds closed

MEDIAPIPE478 = Layout(
    "MediaPipe 478 points", 478, (82, 13, 312), (87, 14, 317), (61, 291), (33, 160, 158, 133, 153, 144),
    (362, 385, 387, 263, 373, 380),
    (168, 6, 197, 195, 5, 4, 98, 97, 2, 326, 327, 33, 133, 362, 263),
    (234, 93, 132, 58, 454, 323, 361, 288, 168, 6, 197, 195, 5, 4, 98, 97, 2, 326, 327, 33, 133, 362, 263),
    (33, 263),
    0.85)   # its lids are steady to a few hundredths, and it reads the built-in renderer's blinks at 256 px as
            # a fifth closed

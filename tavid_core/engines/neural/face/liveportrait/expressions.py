"""Motion's expression channels as offsets of LivePortrait's 21 implicit keypoints.

The offsets are those of the expression editor that ships with LivePortrait (its Gradio "image retargeting"
sliders; ComfyUI-AdvancedLivePortrait's `calc_fe` uses the very same numbers): per unit of a slider, how much
each keypoint's expression entry moves, on axes x (image right), y (image down), z (away from the camera). They
are added to the photo's own expression, so a photo keeps its smile unless the Motion says otherwise. How many
slider units one unit of a channel is (CHANNEL_UNITS) is our choice, inside each slider's range, to be
calibrated with the public weights.

Which of the two eye pairs {11, 13} and {15, 16} is the person's left eye is nowhere stated (the wink slider
moves only 11 and 13): `eye_pairs` reads it off the photo's keypoints, the pair further to the image's left
being the person's right eye (as dlib's 36-41).
"""
from __future__ import annotations

import numpy as np
import torch

from .....types import EXPR_CHANNELS

X, Y, Z = 0, 1, 2
EYE_A, EYE_B = (11, 13), (15, 16)      # (upper lid, lower lid) keypoints of each eye, as the blink slider moves them
LIP_UPPER, LIP_LOWER = 17, 19           # the keypoints the lip-opening slider parts ("aaa": 19 down, 17 up)

# Slider offsets per slider unit: {(keypoint, axis): offset}. Names are the editor's.
SMILE = {(20, Y): -0.01, (14, Y): -0.02, (17, Y): 0.0065, (17, Z): 0.003, (13, Y): -0.00275, (16, Y): -0.00275,
         (3, Y): -0.0035, (7, Y): -0.0035}                                     # "smile", -0.3..1.3
LIP_OPEN = {(19, Y): 0.001, (19, Z): 0.0001, (17, Y): -0.0001}                 # "aaa" / lip close-open, -30..120
GRIN = {(20, Z): -0.001, (20, Y): -0.001, (14, Y): -0.001}                     # "eee" / grin, -20..15
PURSE = {(14, Y): 0.001, (3, Y): -0.0005, (7, Y): -0.0005, (17, Z): -0.0005}   # "woo" / pursing, -20..15
BROW_UP = {(1, Y): 0.001, (2, Y): -0.001}                                      # eyebrow > 0, -10..15
BROW_DOWN = {(1, X): -0.001, (2, X): 0.001, (1, Y): 0.0003, (2, Y): -0.0003}   # eyebrow < 0 (times the value)
GAZE_RIGHT = {(11, X): 0.0007, (15, X): 0.001}                                 # eye gaze x > 0, -15..15
GAZE_LEFT = {(11, X): 0.001, (15, X): 0.0007}                                  # eye gaze x < 0 (times the value)
GAZE_UP = {(11, Y): -0.001, (15, Y): -0.001}                                   # eye gaze y > 0, -15..15
GAZE_UP_BLINK = -0.5                    # ...and the blink slider moves by -1/2 per unit of gaze y
LID_OPEN = (-0.001, 0.0003)             # blink slider (> 0 opens, -20..5): upper lid y, lower lid y, per eye

# Slider units per unit of a Motion channel (channels: tavid_core/types.py)
CHANNEL_UNITS = {
    "jaw_open": 100.0,      # 1 = a wide-open jaw: 100 of the lip slider's 120
    "mouth_wide": 15.0,     # +-1 = the grin slider's end (+15; -15 inside its -20)
    "mouth_round": 15.0,    # 1 = the pursing slider's end
    "smile": 1.0,           # 1 = the smile slider's 1 (its range goes to 1.3)
    "brow_raise": 15.0,     # +-1 = the eyebrow slider's 15 (-15 stays inside the reference's -30)
    "blink": -20.0,         # 1 = the blink slider's closed end, -20
    "gaze_x": 15.0,         # +-1 = the pupil slider's end; > 0 looks to the image's right, as the slider
    "gaze_y": -15.0,        # Motion's gaze_y > 0 looks down; the slider's > 0 moves the eyes up
}
# The terms of the expression offsets: (channel, part of its value: "all", "pos" or "neg")
TERMS = (("jaw_open", "all"), ("mouth_wide", "all"), ("mouth_round", "all"), ("smile", "all"),
         ("brow_raise", "pos"), ("brow_raise", "neg"), ("blink_left", "all"), ("blink_right", "all"),
         ("gaze_x", "pos"), ("gaze_x", "neg"), ("gaze_y", "all"))


def eye_pairs(source_kp: torch.Tensor) -> dict[str, tuple[int, int]]:
    """{"blink_right": pair, "blink_left": pair}: the pair whose keypoints lie further to the image's left (in the
    photo's keypoints (1, 21, 3)) is the person's right eye."""
    x = source_kp[0, :, X]
    a_left = float(x[list(EYE_A)].mean()) <= float(x[list(EYE_B)].mean())
    return {"blink_right": EYE_A if a_left else EYE_B, "blink_left": EYE_B if a_left else EYE_A}


def _offsets(table: dict[tuple[int, int], float], units: float, num_kp: int) -> np.ndarray:
    out = np.zeros((num_kp, 3), np.float64)
    for (kp, axis), value in table.items():
        out[kp, axis] += value * units
    return out


def _lids(pair: tuple[int, int], blink_units: float, num_kp: int) -> np.ndarray:
    return _offsets({(pair[0], Y): LID_OPEN[0], (pair[1], Y): LID_OPEN[1]}, blink_units, num_kp)


def expression_basis(source_kp: torch.Tensor, num_kp: int = 21) -> torch.Tensor:
    """(len(TERMS), num_kp, 3) offsets of the expression entries per unit of each term, for this photo."""
    eyes = eye_pairs(source_kp)
    both_eyes = lambda units: _lids(EYE_A, units, num_kp) + _lids(EYE_B, units, num_kp)  # noqa: E731
    u = CHANNEL_UNITS
    gaze_y = _offsets(GAZE_UP, u["gaze_y"], num_kp) + both_eyes(GAZE_UP_BLINK * u["gaze_y"])
    rows = {
        ("jaw_open", "all"): _offsets(LIP_OPEN, u["jaw_open"], num_kp),
        ("mouth_wide", "all"): _offsets(GRIN, u["mouth_wide"], num_kp),
        ("mouth_round", "all"): _offsets(PURSE, u["mouth_round"], num_kp),
        ("smile", "all"): _offsets(SMILE, u["smile"], num_kp),
        ("brow_raise", "pos"): _offsets(BROW_UP, u["brow_raise"], num_kp),
        ("brow_raise", "neg"): _offsets(BROW_DOWN, u["brow_raise"], num_kp),
        ("blink_left", "all"): _lids(eyes["blink_left"], u["blink"], num_kp),
        ("blink_right", "all"): _lids(eyes["blink_right"], u["blink"], num_kp),
        ("gaze_x", "pos"): _offsets(GAZE_RIGHT, u["gaze_x"], num_kp),
        ("gaze_x", "neg"): _offsets(GAZE_LEFT, u["gaze_x"], num_kp),
        ("gaze_y", "all"): gaze_y,
    }
    return torch.from_numpy(np.stack([rows[t] for t in TERMS])).float()


def term_values(expr: np.ndarray, expr_names: tuple[str, ...] = EXPR_CHANNELS) -> np.ndarray:
    """(T, len(TERMS)) the parts of the channel values each term takes."""
    out = np.zeros((expr.shape[0], len(TERMS)), np.float32)
    for i, (channel, part) in enumerate(TERMS):
        v = expr[:, expr_names.index(channel)]
        out[:, i] = v if part == "all" else np.maximum(v, 0) if part == "pos" else np.minimum(v, 0)
    return out

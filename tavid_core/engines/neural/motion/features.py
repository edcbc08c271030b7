"""What the motion mapper reads: both people's speech as per-frame features.

Input features: per person, per frame at `MotionMapperConfig.fps`, defined so that BOTH speech engines
drive it (the built-in voices give the named features only; the neural speech generator adds its
DiT's hidden layer):

    0     energy      loudness, 0 silent .. 1 full scale      Speech feature "energy" (0 if the speech lacks it)
    1     pitch       octaves above 100 Hz, 0 where unvoiced  Speech feature "pitch"  (likewise)
    2     voiced      share of the frame that is voiced       Speech feature "voiced" (likewise)
    3     speaking    1 inside one of the person's timeline segments (turns and backchannels), at the
                      frame centre (`Speech.activity`)
    4     has_hidden  1 when the Speech has the columns hidden_0 .. hidden_{hidden_dim-1}, else 0 (the same
                      in every frame of the utterance)
    5...  hidden      those hidden_dim columns, or zeros when has_hidden is 0 (built-in speech, or hidden
                      features of another width)

Each feature is averaged over its frame's span (frame centre +- half a frame), which resamples any
feature rate (100 Hz built-in, 31.25 Hz neural) to the motion rate without aliasing. The network reads,
for ONE target person, that person's features, the partner's features and the role (0 = A, 1 = B), so
listening behaviour comes out of the network (it hears the partner), not out of rules.
"""
from __future__ import annotations

import logging

import numpy as np

from ....analysis.audio_features import SPEECH_FEATURES
from ....types import Speech
from .config import HAS_HIDDEN, INPUT_NAMES, SPEAKING, MotionMapperConfig

log = logging.getLogger("tavid")


# ------------------------------------------------------------------------------------------- features
def _frame_means(values: np.ndarray, rate: float, frames: int, fps: float, block: int = 128) -> np.ndarray:
    """`values` `[N, D]` sampled at `rate` Hz (sample i covers [i, i+1) / rate) averaged over each of
    `frames` frames at `fps` ([j, j+1) / fps): the exact mean of the piecewise-constant signal, from its
    running integral. Beyond the last sample the signal is taken as 0 (silence). Column blocks keep the
    float64 integral small for wide hidden features."""
    n, d = values.shape
    out = np.zeros((frames, d), np.float32)
    if n == 0 or frames == 0:
        return out
    src = np.arange(n + 1) / rate
    edges = np.arange(frames + 1) / fps
    for lo in range(0, d, block):
        integral = np.zeros((n + 1, min(block, d - lo)))
        np.cumsum(values[:, lo:lo + block] / rate, axis=0, out=integral[1:])
        at = np.stack([np.interp(edges, src, integral[:, k]) for k in range(integral.shape[1])], axis=1)
        out[:, lo:lo + block] = np.diff(at, axis=0) * fps
    return out


def hidden_columns(speech: Speech, hidden_dim: int) -> list[int] | None:
    """Indices of hidden_0 .. hidden_{hidden_dim-1} in the speech's features, or None when it has no
    hidden features of exactly that width."""
    if hidden_dim == 0:
        return None
    names = speech.feature_names
    count = sum(1 for n in names if n.startswith("hidden_"))
    if count == 0:
        return None
    if count != hidden_dim:
        log.info("the speech has %d hidden features, the motion mapper reads %d: using the named ones only",
                 count, hidden_dim)
        return None
    try:
        return [names.index(f"hidden_{k}") for k in range(hidden_dim)]
    except ValueError:
        return None


def speech_inputs(speech: Speech, cfg: MotionMapperConfig, frames: int | None = None) -> np.ndarray:
    """Both people's input features `[2, frames, cfg.feature_width]` at `cfg.fps` (see the module
    docstring); `frames` defaults to `speech.num_frames(cfg.fps)`."""
    frames = speech.num_frames(cfg.fps) if frames is None else frames
    out = np.zeros((2, frames, cfg.feature_width), np.float32)
    named = [i for i, n in enumerate(SPEECH_FEATURES) if n in speech.feature_names]
    columns = [speech.feature_names.index(SPEECH_FEATURES[i]) for i in named]
    hidden = hidden_columns(speech, cfg.hidden_dim)
    for person in (0, 1):
        if columns:
            out[person][:, named] = _frame_means(speech.features[person][:, columns], speech.feature_rate,
                                                 frames, cfg.fps)
        out[person, :, SPEAKING] = speech.activity(person, frames, cfg.fps)
        if hidden is not None:
            out[person, :, HAS_HIDDEN] = 1.0
            out[person, :, len(INPUT_NAMES):] = _frame_means(speech.features[person][:, hidden],
                                                             speech.feature_rate, frames, cfg.fps)
    return out


def resample_frames(values: np.ndarray, src_fps: float, frames: int, fps: float) -> np.ndarray:
    """`values` `[T, C]` at `src_fps` linearly interpolated at the centres of `frames` frames at `fps`
    (the end frames held): motion keeps its peaks (a blink) better than with averaging."""
    if len(values) == frames and src_fps == fps:
        return values.astype(np.float32)
    src = (np.arange(len(values)) + 0.5) / src_fps
    dst = (np.arange(frames) + 0.5) / fps
    return np.stack([np.interp(dst, src, values[:, c]) for c in range(values.shape[1])], axis=1).astype(np.float32)

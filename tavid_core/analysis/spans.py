"""Runs of True in a boolean mask over time: the stretches of speech, silence or motion every stage measures."""
from __future__ import annotations

import numpy as np


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) index pairs of the True runs of a boolean array."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def lasting(mask: np.ndarray, min_length: float) -> np.ndarray:
    """The True runs of `mask` that are at least `min_length` long; shorter ones set to False."""
    out = np.zeros_like(mask)
    for a, b in runs(mask):
        if b - a >= min_length:
            out[a:b] = True
    return out

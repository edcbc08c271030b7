"""One spoken utterance with its phone and word timings: what every speech engine hands the shared turn timing
(engines/timeline.py).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ...types import Phone, Word

_WORD = re.compile(r"[\w’']+(?:[-.][\w’']+)*")


@dataclass(frozen=True, eq=False)
class Utterance:
    """Mono float32 audio at `sample_rate`, with phone and word timings in seconds from its start."""

    audio: np.ndarray
    sample_rate: int
    phones: tuple[Phone, ...]
    words: tuple[Word, ...]

    @property
    def duration_s(self) -> float:
        return len(self.audio) / self.sample_rate


def word_tokens(text: str) -> list[str]:
    """The words of a text as utterances label them (punctuation apart, "don't" and "mm-hm" one word)."""
    return _WORD.findall(text)

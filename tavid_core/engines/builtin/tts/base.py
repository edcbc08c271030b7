"""What a built-in text-to-speech backend is (`TTSBackend`: text in, an `Utterance` out) and the timing
bookkeeping the backends share.

Backends report their native timing units (samples per phoneme id, milliseconds per event);
`timed_utterance` turns a run of (symbol, start, end) entries into clean phones and words.
"""
from __future__ import annotations

from typing import Protocol

import numpy as np

from ....types import Phone, Word
from ...shared.utterance import Utterance, word_tokens

STRESS_MARKS = frozenset("ˈˌ")                     # belong to the phone that follows
TRAILING_MARKS = frozenset("ːˑ\u0303\u0361\u032f")  # length, nasal, tie, non-syllabic: belong to the phone before
BOUNDARY = frozenset(" ,.;:!?…—-–\"'()^$_")         # word and phrase boundaries, padding, BOS/EOS


class TTSBackend(Protocol):
    """One family of built-in voices (piper, hibari, espeak)."""

    name: str
    sample_rate: int

    def synthesize(self, text: str, *, voice: str, rate: float, pitch: float, seed: int) -> Utterance:
        """`rate` > 1 speaks faster; `pitch` multiplies the fundamental frequency; `seed` fixes any noise."""


def timed_utterance(text: str, entries: list[tuple[str, float, float]], audio: np.ndarray,
                    sample_rate: int) -> Utterance:
    """Phones and words from (symbol, start_s, end_s) entries in synthesis order, where a symbol may be
    a stress or length mark, a space or punctuation."""
    phones: list[list] = []
    groups: list[tuple[float, float]] = []
    group_start: int | None = None
    carry_start: float | None = None

    def close_group():
        nonlocal group_start
        if group_start is not None and group_start < len(phones):
            groups.append((phones[group_start][1], phones[-1][2]))
        group_start = None

    for symbol, start, end in entries:
        if not symbol or all(ch in BOUNDARY for ch in symbol):
            close_group()
            carry_start = None
            continue
        core = "".join(ch for ch in symbol if ch not in STRESS_MARKS and ch not in TRAILING_MARKS)
        if not core:
            if all(ch in STRESS_MARKS for ch in symbol):
                carry_start = start if carry_start is None else carry_start
            elif phones:
                phones[-1][2] = end
            continue
        if group_start is None:
            group_start = len(phones)
        phones.append([core, start if carry_start is None else carry_start, end])
        carry_start = None
    close_group()

    words = _label_words(text, groups)
    return Utterance(
        audio=np.asarray(audio, dtype=np.float32), sample_rate=sample_rate,
        phones=tuple(Phone(s, float(a), float(b)) for s, a, b in phones), words=words)


def _label_words(text: str, groups: list[tuple[float, float]]) -> tuple[Word, ...]:
    """Pair phoneme word groups with the words of the text. When the counts differ (numbers read out,
    abbreviations), each text word takes a proportional share of the groups."""
    tokens = word_tokens(text)
    if not groups or not tokens:
        return ()
    if len(tokens) == len(groups):
        return tuple(Word(t, a, b) for t, (a, b) in zip(tokens, groups))
    words = []
    for i, token in enumerate(tokens):
        lo = i * len(groups) // len(tokens)
        hi = max(lo + 1, (i + 1) * len(groups) // len(tokens))
        words.append(Word(token, groups[lo][0], groups[min(hi, len(groups)) - 1][1]))
    return tuple(words)


def entries_from_counts(symbols: list[str], counts, sample_rate: int, offset_s: float = 0.0):
    """(symbol, start, end) entries from per-symbol sample counts laid end to end."""
    edges = np.concatenate([[0], np.cumsum(np.asarray(counts, dtype=np.float64))]) / sample_rate + offset_s
    return [(s, float(edges[i]), float(edges[i + 1])) for i, s in enumerate(symbols)]


def resample_utterance(utt: Utterance, sample_rate: int, pitch: float = 1.0) -> Utterance:
    """The utterance at `sample_rate`. With `pitch` != 1 the audio is played `pitch` times faster (higher
    and shorter); backends without a pitch control synthesize `pitch` times slower first."""
    from ....media.audio import resample
    audio = resample(utt.audio, utt.sample_rate * pitch, sample_rate)
    k = 1.0 / pitch
    return Utterance(
        audio=audio, sample_rate=sample_rate,
        phones=tuple(Phone(p.symbol, p.start_s * k, p.end_s * k) for p in utt.phones),
        words=tuple(Word(w.text, w.start_s * k, w.end_s * k) for w in utt.words))

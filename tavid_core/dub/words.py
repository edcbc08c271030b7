"""The words and phonemes of each turn: a transcript's words placed in the sound by forced alignment
(pocketsphinx), or, without a transcript, the words Whisper hears, then placed the same way for phonemes.

Whisper pads everything it hears to 30 s, so a person's turns are laid end to end, with a little silence
between, into buffers of up to BUFFER_S and heard a buffer at a time; each word goes back to the turn its
middle falls in. A turn longer than a buffer is cut at its quietest moment.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..analysis.voice_activity import levels
from ..types import Phone, Word
from .forced_aligner import Alignment, Timed, word_tokens

SAMPLE_RATE = 16000
BUFFER_S = 28.0        # Whisper hears 30 s at once
GAP_S = 0.6            # silence between two turns in a buffer
MARGIN_S = 0.2         # sound kept before and after a turn for recognition and alignment
NOT_ENGLISH_PROBABILITY = 0.45   # Whisper tiny.en's mean word probability below this: not English speech


@dataclass(frozen=True)
class TurnWords:
    text: str
    words: tuple[Word, ...]
    phones: tuple[Phone, ...]


def _clip(audio: np.ndarray, start_s: float, end_s: float) -> tuple[np.ndarray, float]:
    a = max(0, int((start_s - MARGIN_S) * SAMPLE_RATE))
    b = min(len(audio), int((end_s + MARGIN_S) * SAMPLE_RATE))
    return audio[a:b], a / SAMPLE_RATE


def _pieces(audio: np.ndarray, start_s: float, end_s: float) -> list[tuple[float, float]]:
    """A turn as spans of at most BUFFER_S, cut at the quietest 100 ms near each limit."""
    out = []
    while end_s - start_s > BUFFER_S - 2 * MARGIN_S:
        lo, hi = start_s + BUFFER_S / 2, start_s + BUFFER_S - 2 * MARGIN_S
        level = levels(audio[int(lo * SAMPLE_RATE):int(hi * SAMPLE_RATE)], SAMPLE_RATE)
        cut = lo + (int(np.argmin(level)) / 100.0 if len(level) else hi - lo)
        out.append((start_s, cut))
        start_s = cut
    return out + [(start_s, end_s)]


def heard_words(audio: np.ndarray, spans: list[tuple[float, float]], transcriber,
                steps=lambda items, total, desc: items) -> list[list]:
    """Whisper's words (text, start_s, end_s, probability) in each of `spans` (seconds) of 16 kHz `audio`."""
    pieces = [(k, a, b) for k, (start, end) in enumerate(spans) for a, b in _pieces(audio, start, end)]
    buffers, current, length = [], [], 0.0
    for k, a, b in pieces:
        need = (b - a) + 2 * MARGIN_S + GAP_S
        if current and length + need > BUFFER_S:
            buffers.append(current)
            current, length = [], 0.0
        current.append((k, a, b))
        length += need
    if current:
        buffers.append(current)
    found: list[list] = [[] for _ in spans]
    for buffer in steps(buffers, len(buffers), "words heard"):
        parts, places, at = [], [], 0.0
        for k, a, b in buffer:
            clip, origin = _clip(audio, a, b)
            places.append((k, at, at + len(clip) / SAMPLE_RATE, origin, a, b))
            parts += [clip, np.zeros(int(GAP_S * SAMPLE_RATE), np.float32)]
            at += len(clip) / SAMPLE_RATE + GAP_S
        for word in transcriber.words(np.concatenate(parts), SAMPLE_RATE):
            middle = (word.start_s + word.end_s) / 2
            for k, lo, hi, origin, a, b in places:
                if lo <= middle < hi:
                    shift = origin - lo
                    found[k].append((word.text, max(a, word.start_s + shift), min(b, word.end_s + shift),
                                     word.probability))
                    break
    return found


def sounds_english(found: list[list]) -> bool:
    """Whether what Whisper tiny.en heard is English: on other languages it guesses English words with low
    confidence (or hears none)."""
    probabilities = [w[3] for words in found for w in words]
    return bool(probabilities) and float(np.mean(probabilities)) >= NOT_ENGLISH_PROBABILITY


def _display(tokens: list[str], text: str) -> list[str]:
    """The aligned (lower case) tokens in the transcript's own spelling, where it has them in order."""
    written = re.findall(r"[A-Za-z0-9'’]+", text)
    out, i = [], 0
    for token in tokens:
        while i < len(written) and word_tokens(written[i]) != [token]:
            i += 1
        out.append(written[i] if i < len(written) else token)
        i += 1
    return out


def aligned(audio: np.ndarray, start_s: float, end_s: float, text: str, aligner) -> TurnWords | None:
    """`text` placed in the turn's sound: its words and phones (None when it does not fit there)."""
    clip, origin = _clip(audio, start_s, end_s)
    alignment: Alignment | None = aligner.align(clip, text, offset_s=origin)
    if alignment is None:
        return None
    inside = [_within(w, start_s, end_s) for w in alignment.words]
    words = tuple(Word(shown, w.start_s, w.end_s)
                  for shown, w in zip(_display([w.text for w in inside], text), inside))
    phones = tuple(Phone(p.text, *_span(_within(p, start_s, end_s))) for p in alignment.phones)
    return TurnWords(text, words, tuple(p for p in phones if p.end_s > p.start_s))


def _within(t: Timed, start_s: float, end_s: float) -> Timed:
    a = min(max(t.start_s, start_s), end_s)
    return Timed(t.text, a, min(max(t.end_s, a), end_s))


def _span(t: Timed) -> tuple[float, float]:
    return t.start_s, t.end_s


def heard_turn(audio: np.ndarray, start_s: float, end_s: float, heard: list, aligner) -> TurnWords:
    """A turn's words from Whisper, placed again by the aligner for phonemes when it can."""
    text = " ".join(w[0] for w in heard).strip()
    if aligner is not None and text:
        placed = aligned(audio, start_s, end_s, text, aligner)
        if placed is not None:
            return placed
    words = tuple(Word(re.sub(r"[^\w'’-]", "", w[0]) or w[0], w[1], max(w[1], w[2])) for w in heard)
    return TurnWords(text, words, ())

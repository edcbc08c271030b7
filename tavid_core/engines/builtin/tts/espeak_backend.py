"""espeak-ng as a built-in voice (100+ languages and variants such as "en-us+f3"), with word and phoneme timings
from its events.
"""
from __future__ import annotations

import math

from ...shared.espeak import DEFAULT_PITCH, DEFAULT_WPM, EVENT_END, EVENT_PHONEME, EVENT_WORD, loaded_espeak
from ...shared.utterance import Utterance
from .base import timed_utterance


class EspeakBackend:
    name = "espeak"

    def __init__(self):
        with loaded_espeak() as engine:
            self.sample_rate = engine.sample_rate

    def synthesize(self, text: str, *, voice: str, rate: float, pitch: float, seed: int) -> Utterance:
        semitones = 12.0 * math.log2(pitch)
        with loaded_espeak() as engine:
            audio, events = engine.synth(text, voice, round(DEFAULT_WPM * rate),
                                            round(min(max(DEFAULT_PITCH + 6.0 * semitones, 0), 100)), seed)
        sr = self.sample_rate
        # phoneme events mark starts; each phone lasts until the next event. Word events become spaces so
        # that the shared bookkeeping splits words exactly where espeak says they start.
        marks = [(name if kind == EVENT_PHONEME else " ", sample / sr)
                 for kind, _, _, sample, name in events if kind in (EVENT_PHONEME, EVENT_WORD, EVENT_END)]
        marks.append((" ", len(audio) / sr))
        entries = [(sym, start, max(start, marks[i + 1][1])) for i, (sym, start) in enumerate(marks[:-1])]
        words = [text[pos - 1:pos - 1 + length] for kind, pos, length, _, _ in events if kind == EVENT_WORD]
        utt = timed_utterance(" ".join(words) or text, entries, audio, sr)
        return utt

"""Laying spoken turns onto the two-track conversation timeline; shared by every speech engine.

An engine says *how* a turn sounds (an `Utterance`); this module decides *when*: natural floor transfers
or the script's pauses between turns, and the listener's backchannels at their marks during a turn.
Built-in and neural speech therefore keep the same conversational timing.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from ..analysis.audio_features import active_span, energy_db
from ..runtime import Runtime
from ..types import BACKCHANNEL, Backchannel, EncodedText, EncodedTurn, Phone, Segment, Word
from .shared.utterance import Utterance, word_tokens

LEAD_IN_S, TAIL_S = 0.35, 0.5     # silence before the first turn and after the last
BACKCHANNEL_GAIN_DB = -5.0        # a listener's "mm-hm" stays under the turn it answers
REPLY_DELAY_S = (0.15, 0.25)      # a backchannel answers the word before its mark this long after that word ends
OPENING_S = 0.3                   # one marked before the first word comes this far into the turn
SAME_VOICE_GAP_S = 0.1            # the least silence between two backchannels of one turn
TARGET_DBFS, PEAK = -20.0, 0.95   # every turn is brought to this loudness, its peaks kept below PEAK
# a turn is cut where its sound starts and ends, so its timeline span is the sound; a short fade avoids a click
FADE_S = 0.004

# speak(turn index, turn) and speak_backchannel(turn index, backchannel index, turn, mark) -> Utterance
SpeakTurn = Callable[[int, EncodedTurn], Utterance]
SpeakBackchannel = Callable[[int, int, EncodedTurn, Backchannel], Utterance]


def natural_gap(rng: np.random.Generator, same_speaker: bool) -> float:
    """Silence before a turn: a floor transfer of about 200 ms (log-normal, as measured in conversation
    corpora), longer when the same person goes on. At least 120 ms: closer, the mouth that closes and
    the one that opens move at once, which reads as talking over each other."""
    median = 0.45 if same_speaker else 0.2
    return float(np.clip(median * math.exp(0.3 * rng.standard_normal()), 0.12, 0.9 if same_speaker else 0.5))


def backchannel_seed(seed: int, turn: int, index: int) -> int:
    """The synthesis seed of a turn's `index`-th backchannel: its own, apart from every turn's."""
    return int(np.random.SeedSequence([seed, turn, index]).generate_state(1)[0] >> 1)


def words_before(mark: Backchannel, text: str, timed: int) -> int:
    """How many of an utterance's `timed` words precede a backchannel's mark in `text`. Utterances time
    the text's word tokens one by one; when a voice times other words, the mark keeps its share."""
    total = len(word_tokens(text))
    before = len(word_tokens(" ".join(text.split()[:mark.after_words])))
    return before if timed == total else round(before * timed / max(total, 1))


def backchannel_onset(mark: Backchannel, text: str, turn_start: float, turn: Utterance,
                      rng: np.random.Generator) -> float:
    """When the listener starts a backchannel: a moment after the word before its mark ends, a little
    into the turn when marked before the first word, and just after the turn when marked after the last.
    Without word timings (neural speech), the mark's share of the words gives its share of the turn."""
    if not turn.words and 0 < mark.after_words < len(text.split()):
        answered = turn.duration_s * mark.after_words / len(text.split())
        return turn_start + answered + rng.uniform(*REPLY_DELAY_S)
    before = words_before(mark, text, len(turn.words))
    if 0 < before < len(turn.words):
        answered = turn.words[before - 1].end_s
    elif before == 0 and (turn.words or mark.after_words == 0):
        return turn_start + OPENING_S
    else:
        answered = turn.duration_s
    return turn_start + answered + rng.uniform(*REPLY_DELAY_S)


def trim_and_level(utt: Utterance, span: tuple[int, int] | None = None) -> Utterance:
    """Cut leading and trailing silence (outside `span`, in samples, when the caller has measured it)
    and bring the speech to a common loudness."""
    start, stop = span or active_span(utt.audio, utt.sample_rate)
    audio = utt.audio[start:stop].astype(np.float32)
    fade = min(int(FADE_S * utt.sample_rate), len(audio) // 2)
    if fade:
        ramp = np.sin(np.linspace(0.0, np.pi / 2, fade, dtype=np.float32)) ** 2
        audio[:fade] *= ramp
        audio[-fade:] *= ramp[::-1]
    level = energy_db(audio, utt.sample_rate)
    active = level[level > level.max() - 30.0] if len(level) else level
    rms_db = 10 * math.log10(np.mean(10 ** (active / 10.0))) if len(active) else TARGET_DBFS
    gain = 10 ** ((TARGET_DBFS - rms_db) / 20.0)
    peak = float(np.abs(audio).max()) * gain if len(audio) else 0.0
    if peak > PEAK:
        gain *= PEAK / peak
    audio *= gain
    offset, end = start / utt.sample_rate, len(audio) / utt.sample_rate

    def clamp(t: float) -> float:
        return min(max(t - offset, 0.0), end)

    return Utterance(
        audio=audio, sample_rate=utt.sample_rate,
        phones=tuple(Phone(p.symbol, clamp(p.start_s), clamp(p.end_s)) for p in utt.phones if p.end_s > offset),
        words=tuple(Word(w.text, clamp(w.start_s), clamp(w.end_s)) for w in utt.words if w.end_s > offset))


def on_sample(t: float, sample_rate: int) -> float:
    return round(t * sample_rate) / sample_rate


@dataclass(frozen=True, eq=False)
class Placed:
    """An utterance at its place on the timeline: a turn, or a listener's backchannel during turn `turn`."""

    turn: int
    speaker: int
    start_s: float
    utt: Utterance
    text: str
    tags: tuple[str, ...]
    part: int = -1  # -1 for a turn, else the backchannel's index within its turn

    @property
    def end_s(self) -> float:
        return self.start_s + self.utt.duration_s

    def segment(self) -> Segment:
        at = self.start_s
        return Segment(
            turn=self.turn, speaker=self.speaker, start_s=at, end_s=self.end_s, text=self.text,
            words=tuple(Word(w.text, at + w.start_s, at + w.end_s) for w in self.utt.words),
            phones=tuple(Phone(p.symbol, at + p.start_s, at + p.end_s) for p in self.utt.phones), tags=self.tags)


def with_gain(utt: Utterance, db: float) -> Utterance:
    return replace(utt, audio=utt.audio * np.float32(10 ** (db / 20.0)))


def lay_out(text: EncodedText, speak: SpeakTurn, speak_backchannel: SpeakBackchannel, *, sample_rate: int,
            seed: int, runtime: Runtime) -> list[Placed]:
    """Every turn and backchannel of `text`, spoken and placed, in the order they were said."""
    rng = np.random.default_rng(seed)
    placed: list[Placed] = []
    cursor, previous = 0.0, None  # cursor: where everything said so far has ended
    for i, turn in runtime.steps(list(enumerate(text.turns)), len(text.turns), "speech"):
        utt = speak(i, turn)
        if turn.pause_before_s is not None:
            gap = turn.pause_before_s + (LEAD_IN_S if previous is None else 0.0)
        else:
            gap = LEAD_IN_S if previous is None else natural_gap(rng, previous == turn.speaker)
        said = [Placed(i, turn.speaker, on_sample(cursor + gap, sample_rate), utt, turn.text, turn.tags)]
        said += _backchannels(turn, i, said[0], speak_backchannel, sample_rate, seed)
        placed += said
        # a backchannel that outlasts the turn holds the next turn back, so it overlaps nothing else
        cursor, previous = max(p.end_s for p in said), turn.speaker
    return placed


def _backchannels(turn: EncodedTurn, index: int, spoken: Placed, speak_backchannel: SpeakBackchannel,
                  sample_rate: int, seed: int) -> list[Placed]:
    """The listener's backchannels marked in `turn` (placed as `spoken`), quieter than turns, each clear
    of the one before."""
    rng = np.random.default_rng([seed, index])  # a stream of their own: marks leave the turn gaps alone
    out: list[Placed] = []
    for j, mark in enumerate(turn.backchannels):
        utt = with_gain(speak_backchannel(index, j, turn, mark), BACKCHANNEL_GAIN_DB)
        at = backchannel_onset(mark, turn.text, spoken.start_s, spoken.utt, rng)
        if out:
            at = max(at, out[-1].end_s + SAME_VOICE_GAP_S)
        out.append(Placed(index, 1 - turn.speaker, on_sample(at, sample_rate), utt, mark.text, (BACKCHANNEL,), j))
    return out


def total_samples(placed: list[Placed], sample_rate: int) -> int:
    return int(round((max(p.end_s for p in placed) + TAIL_S) * sample_rate))


def mix_tracks(placed: list[Placed], sample_rate: int) -> np.ndarray:
    """`[2, N]`: each utterance on its speaker's track, silence elsewhere."""
    tracks = np.zeros((2, total_samples(placed, sample_rate)), np.float32)
    for p in placed:
        at = int(round(p.start_s * sample_rate))
        tracks[p.speaker, at:at + len(p.utt.audio)] += p.utt.audio
    return tracks


def segments(placed: list[Placed]) -> tuple[Segment, ...]:
    return tuple(p.segment() for p in sorted(placed, key=lambda p: p.start_s))

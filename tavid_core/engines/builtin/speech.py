"""Built-in speech generator: each turn spoken by a wheel-shipped voice, laid on a two-track timeline
with natural turn gaps (or the script's pauses), trimmed, levelled, and timed to the phoneme. The
listener's backchannels marked in a turn are spoken on the listener's track, over that turn."""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace

import numpy as np

from ...audio_features import active_span, energy_db, pitch_hz
from ...errors import EngineUnavailableError, TavidError
from ...runtime import Runtime
from ...types import BACKCHANNEL, Backchannel, EncodedText, EncodedTurn, Phone, Segment, Speech, Voice, Word
from ..protocols import SpeechGenerator
from .tts.base import Utterance, resample_utterance, word_tokens
from .tts.catalog import VoiceCatalog, espeak_voice_id, voice_info

log = logging.getLogger("tavid")

FEATURE_NAMES = ("energy", "pitch", "voiced")
FEATURE_RATE = 100.0
_TARGET_DBFS = -20.0
_PEAK = 0.95
_LEAD_IN_S, _TAIL_S = 0.35, 0.5
# a turn is cut where its sound starts and ends, so its timeline span is the sound; a short fade avoids a click
_FADE_S = 0.004
# Stand-ins when a neural voice cannot load: an espeak voice of similar pitch.
_FALLBACK = {"joe": "espeak:en-us+m3", "heart": "espeak:en-us+f3"}
_BACKCHANNEL_GAIN_DB = -5.0       # a listener's "mm-hm" stays under the turn it answers
_REPLY_DELAY_S = (0.15, 0.25)     # a backchannel answers the word before its mark this long after that word ends
_OPENING_S = 0.3                  # one marked before the first word comes this far into the turn
_SAME_VOICE_GAP_S = 0.1           # the least silence between two backchannels of one turn


def natural_gap(rng: np.random.Generator, same_speaker: bool) -> float:
    """Silence before a turn: a floor transfer of about 200 ms (log-normal, as measured in conversation
    corpora), longer when the same person goes on. At least 120 ms: closer, the mouth that closes and
    the one that opens move at once, which reads as talking over each other."""
    median = 0.45 if same_speaker else 0.2
    return float(np.clip(median * math.exp(0.3 * rng.standard_normal()), 0.12, 0.9 if same_speaker else 0.5))


def _trim_and_level(utt: Utterance) -> Utterance:
    """Cut leading and trailing silence and bring the speech to a common loudness."""
    start, stop = active_span(utt.audio, utt.sample_rate)
    audio = utt.audio[start:stop].astype(np.float32)
    fade = min(int(_FADE_S * utt.sample_rate), len(audio) // 2)
    if fade:
        ramp = np.sin(np.linspace(0.0, np.pi / 2, fade, dtype=np.float32)) ** 2
        audio[:fade] *= ramp
        audio[-fade:] *= ramp[::-1]
    level = energy_db(audio, utt.sample_rate)
    active = level[level > level.max() - 30.0] if len(level) else level
    rms_db = 10 * math.log10(np.mean(10 ** (active / 10.0))) if len(active) else _TARGET_DBFS
    gain = 10 ** ((_TARGET_DBFS - rms_db) / 20.0)
    peak = float(np.abs(audio).max()) * gain if len(audio) else 0.0
    if peak > _PEAK:
        gain *= _PEAK / peak
    audio *= gain
    offset, end = start / utt.sample_rate, len(audio) / utt.sample_rate

    def clamp(t: float) -> float:
        return min(max(t - offset, 0.0), end)

    return Utterance(
        audio=audio, sample_rate=utt.sample_rate,
        phones=tuple(Phone(p.symbol, clamp(p.start_s), clamp(p.end_s)) for p in utt.phones if p.end_s > offset),
        words=tuple(Word(w.text, clamp(w.start_s), clamp(w.end_s)) for w in utt.words if w.end_s > offset))


def _on_sample(t: float, sample_rate: int) -> float:
    return round(t * sample_rate) / sample_rate


def _with_gain(utt: Utterance, db: float) -> Utterance:
    return replace(utt, audio=utt.audio * np.float32(10 ** (db / 20.0)))


def _backchannel_seed(seed: int, turn: int, index: int) -> int:
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
    into the turn when marked before the first word, and just after the turn when marked after the last
    (or when the voice timed no words)."""
    before = words_before(mark, text, len(turn.words))
    if 0 < before < len(turn.words):
        answered = turn.words[before - 1].end_s
    elif before == 0 and turn.words:
        return turn_start + _OPENING_S
    else:
        answered = turn.duration_s
    return turn_start + answered + rng.uniform(*_REPLY_DELAY_S)


@dataclass(frozen=True, eq=False)
class _Placed:
    """An utterance at its place on the timeline: a turn, or a listener's backchannel during turn `turn`."""

    turn: int
    speaker: int
    start_s: float
    utt: Utterance
    text: str
    tags: tuple[str, ...]

    @property
    def end_s(self) -> float:
        return self.start_s + self.utt.duration_s

    def segment(self) -> Segment:
        at = self.start_s
        return Segment(
            turn=self.turn, speaker=self.speaker, start_s=at, end_s=self.end_s, text=self.text,
            words=tuple(Word(w.text, at + w.start_s, at + w.end_s) for w in self.utt.words),
            phones=tuple(Phone(p.symbol, at + p.start_s, at + p.end_s) for p in self.utt.phones), tags=self.tags)


def speech_features(track: np.ndarray, sample_rate: int) -> np.ndarray:
    """[T, 3] at FEATURE_RATE: energy (0 silent .. 1 full scale), pitch (octaves above 100 Hz, 0 unvoiced),
    voiced (0/1)."""
    energy = np.clip((energy_db(track, sample_rate, FEATURE_RATE) + 60.0) / 60.0, 0.0, 1.0)
    f0 = pitch_hz(track, sample_rate, FEATURE_RATE)
    voiced = (f0 > 0).astype(np.float32)
    pitch = np.where(f0 > 0, np.log2(np.maximum(f0, 1.0) / 100.0), 0.0)
    return np.stack([energy, pitch, voiced], axis=1).astype(np.float32)


class BuiltinSpeechGenerator(SpeechGenerator):
    name = "builtin-speech"
    sample_rate = 24000

    def __init__(self, catalog: VoiceCatalog):
        self.catalog = catalog

    # ------------------------------------------------------------------ voices
    def _usable(self, voice: Voice, who: str) -> str:
        if voice.engine != "builtin" or not voice.preset:
            raise TavidError(
                "this voice holds a neural speaker embedding, which the built-in speech engine cannot use",
                where=who, fix="Make the voice with the built-in speaker mapper, or load a neural speech model.")
        name = voice.preset
        family = voice_info(name).family
        try:
            self.catalog.backend(family)
            return name
        except EngineUnavailableError as e:
            fallback = _FALLBACK.get(name, "espeak:en-us")
            log.warning("%s; speaking %s with %s instead", e, who, fallback)
            return fallback

    def resolve_voices(self, voices: tuple[Voice, Voice]) -> tuple[str, str]:
        """The two voice names to speak with. Two voices picked from faces never coincide: the second
        person then takes the next voice ranked for their face."""
        names = [self._usable(v, f"voice {'AB'[i]}") for i, v in enumerate(voices)]
        if names[0] == names[1]:
            movable = [i for i in (1, 0) if voices[i].source != "manual"]
            for i in movable:
                other = names[1 - i]
                for alt in voices[i].alternatives:
                    if alt != other and self.catalog.available(alt):
                        log.info("voice %s: %s is taken by the other person, using %s", "AB"[i], names[i], alt)
                        names[i] = alt
                        break
                if names[0] != names[1]:
                    break
        return names[0], names[1]

    def speak(self, text: str, name: str, voice: Voice, seed: int) -> Utterance:
        """One turn at `sample_rate`, trimmed and levelled."""
        info = voice_info(name)
        backend = self.catalog.backend(info.family)
        utt = backend.synthesize(text, voice=espeak_voice_id(name), rate=voice.rate,
                                 pitch=2.0 ** (voice.pitch_semitones / 12.0), seed=seed)
        if len(utt.audio) == 0:
            raise TavidError(f"the voice {name} produced no audio for {text!r}", where="speech",
                             fix="Check that the turn contains words the voice can read.")
        return _trim_and_level(resample_utterance(utt, self.sample_rate))

    # --------------------------------------------------------------- generate
    def generate(self, text: EncodedText, voices: tuple[Voice, Voice], *, runtime: Runtime, seed: int = 0,
                 steps: int | None = None, cfg: float | None = None) -> Speech:
        names = self.resolve_voices(voices)
        rng = np.random.default_rng(seed)
        sr = self.sample_rate
        placed: list[_Placed] = []
        cursor, previous = 0.0, None  # cursor: where everything said so far has ended
        for i, turn in runtime.steps(list(enumerate(text.turns)), len(text.turns), "speech"):
            utt = self.speak(turn.text, names[turn.speaker], voices[turn.speaker], seed=seed * 100003 + i)
            if turn.pause_before_s is not None:
                gap = turn.pause_before_s + (_LEAD_IN_S if previous is None else 0.0)
            else:
                gap = _LEAD_IN_S if previous is None else natural_gap(rng, previous == turn.speaker)
            said = [_Placed(i, turn.speaker, _on_sample(cursor + gap, sr), utt, turn.text, turn.tags)]
            said += self._backchannels(turn, i, said[0], names, voices, seed)
            placed += said
            # a backchannel that outlasts the turn holds the next turn back, so it overlaps nothing else
            cursor, previous = max(p.end_s for p in said), turn.speaker

        total = int(round((cursor + _TAIL_S) * sr))
        tracks = np.zeros((2, total), np.float32)
        for p in placed:
            at = int(round(p.start_s * sr))
            tracks[p.speaker, at:at + len(p.utt.audio)] += p.utt.audio
        timeline = tuple(p.segment() for p in sorted(placed, key=lambda p: p.start_s))
        features = np.stack([speech_features(tracks[s], sr) for s in (0, 1)])
        resolved = tuple(v.with_preset(n) for v, n in zip(voices, names))
        return Speech(sample_rate=sr, tracks=tracks, timeline=timeline, features=features,
                      feature_rate=FEATURE_RATE, feature_names=FEATURE_NAMES, voices=resolved)

    def _backchannels(self, turn: EncodedTurn, index: int, spoken: _Placed, names: tuple[str, str],
                      voices: tuple[Voice, Voice], seed: int) -> list[_Placed]:
        """The listener's backchannels marked in `turn` (placed as `spoken`), quieter than turns, each
        clear of the one before."""
        listener = 1 - turn.speaker
        rng = np.random.default_rng([seed, index])  # a stream of their own: marks leave the turn gaps alone
        out: list[_Placed] = []
        for j, mark in enumerate(turn.backchannels):
            utt = self.speak(mark.text, names[listener], voices[listener], seed=_backchannel_seed(seed, index, j))
            at = backchannel_onset(mark, turn.text, spoken.start_s, spoken.utt, rng)
            if out:
                at = max(at, out[-1].end_s + _SAME_VOICE_GAP_S)
            out.append(_Placed(index, listener, _on_sample(at, self.sample_rate),
                               _with_gain(utt, _BACKCHANNEL_GAIN_DB), mark.text, (BACKCHANNEL,)))
        return out

    def describe(self) -> dict:
        return super().describe() | {"sample_rate": self.sample_rate}

"""Built-in speech generator: each turn spoken by a wheel-shipped voice, laid on a two-track timeline
with natural turn gaps (or the script's pauses), trimmed, levelled, and timed to the phoneme."""
from __future__ import annotations

import logging
import math

import numpy as np

from ...audio_features import active_span, energy_db, pitch_hz
from ...errors import EngineUnavailableError, TavidError
from ...runtime import Runtime
from ...types import EncodedText, Phone, Segment, Speech, Voice, Word
from ..protocols import SpeechGenerator
from .tts.base import Utterance, resample_utterance
from .tts.catalog import VoiceCatalog, espeak_voice_id, voice_info

log = logging.getLogger("tavid")

FEATURE_NAMES = ("energy", "pitch", "voiced")
FEATURE_RATE = 100.0
_TARGET_DBFS = -20.0
_PEAK = 0.95
_LEAD_IN_S, _TAIL_S = 0.35, 0.5
# Stand-ins when a neural voice cannot load: an espeak voice of similar pitch.
_FALLBACK = {"joe": "espeak:en-us+m3", "heart": "espeak:en-us+f3"}


def natural_gap(rng: np.random.Generator, same_speaker: bool) -> float:
    """Silence before a turn: a floor transfer of about 200 ms (log-normal, as measured in conversation
    corpora), longer when the same person goes on."""
    median = 0.45 if same_speaker else 0.2
    return float(np.clip(median * math.exp(0.3 * rng.standard_normal()), 0.08, 0.9 if same_speaker else 0.5))


def _trim_and_level(utt: Utterance) -> Utterance:
    """Cut leading and trailing silence and bring the speech to a common loudness."""
    start, stop = active_span(utt.audio, utt.sample_rate)
    audio = utt.audio[start:stop].astype(np.float32)
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
        placed: list[tuple[int, float, Utterance]] = []
        cursor, previous = 0.0, None
        for i, turn in runtime.steps(list(enumerate(text.turns)), len(text.turns), "speech"):
            utt = self.speak(turn.text, names[turn.speaker], voices[turn.speaker], seed=seed * 100003 + i)
            if turn.pause_before_s is not None:
                gap = turn.pause_before_s + (_LEAD_IN_S if previous is None else 0.0)
            else:
                gap = _LEAD_IN_S if previous is None else natural_gap(rng, previous == turn.speaker)
            start = round((cursor + gap) * sr) / sr
            placed.append((turn.speaker, start, utt))
            cursor, previous = start + utt.duration_s, turn.speaker

        total = int(round((cursor + _TAIL_S) * sr))
        tracks = np.zeros((2, total), np.float32)
        timeline = []
        for i, (speaker, start, utt) in enumerate(placed):
            at = int(round(start * sr))
            tracks[speaker, at:at + len(utt.audio)] += utt.audio
            timeline.append(Segment(
                turn=i, speaker=speaker, start_s=start, end_s=start + utt.duration_s, text=text.turns[i].text,
                words=tuple(Word(w.text, start + w.start_s, start + w.end_s) for w in utt.words),
                phones=tuple(Phone(p.symbol, start + p.start_s, start + p.end_s) for p in utt.phones),
                tags=text.turns[i].tags))
        features = np.stack([speech_features(tracks[s], sr) for s in (0, 1)])
        resolved = tuple(v.with_preset(n) for v, n in zip(voices, names))
        return Speech(sample_rate=sr, tracks=tracks, timeline=tuple(timeline), features=features,
                      feature_rate=FEATURE_RATE, feature_names=FEATURE_NAMES, voices=resolved)

    def describe(self) -> dict:
        return super().describe() | {"sample_rate": self.sample_rate}

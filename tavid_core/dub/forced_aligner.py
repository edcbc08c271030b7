"""Where each word and phoneme of a known English transcript sounds: pocketsphinx's forced alignment (its
en-us acoustic model and CMU dictionary ship in the pocketsphinx wheel, part of the [eval] extra), in 10 ms
frames, phones given back in IPA as the motion mapper's viseme table reads them.

pocketsphinx's word and phone starts come out early by a constant amount (its frames are labelled where the
acoustic model's context window starts): on the built-in voices' exact phoneme times the median shift is
ALIGNMENT_LAG_S, which is added back. A word missing from the dictionary (a name, a number) gets a
pronunciation from espeak-ng, turned into the dictionary's phone set.
"""
from __future__ import annotations

import importlib.util
import re
import threading
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..errors import EngineUnavailableError

SAMPLE_RATE = 16000
FRAME_S = 0.01
ALIGNMENT_LAG_S = 0.03   # measured: see the module docstring and tests/analysis/test_forced_aligner.py
INSTALL = 'pip install "comfyui-tavid[eval]" (into ComfyUI\'s Python: pip install -r requirements-eval.txt)'
NAME = "pocketsphinx"

# the CMU dictionary's 39 phones (stress left out) in IPA; fillers and silence have none
ARPABET_IPA = {
    "AA": "ɑ", "AE": "æ", "AH": "ʌ", "AO": "ɔ", "AW": "aʊ", "AY": "aɪ", "B": "b", "CH": "tʃ", "D": "d", "DH": "ð",
    "EH": "ɛ", "ER": "ɝ", "EY": "eɪ", "F": "f", "G": "ɡ", "HH": "h", "IH": "ɪ", "IY": "i", "JH": "dʒ", "K": "k",
    "L": "l", "M": "m", "N": "n", "NG": "ŋ", "OW": "oʊ", "OY": "ɔɪ", "P": "p", "R": "ɹ", "S": "s", "SH": "ʃ",
    "T": "t", "TH": "θ", "UH": "ʊ", "UW": "u", "V": "v", "W": "w", "Y": "j", "Z": "z", "ZH": "ʒ",
}
# espeak-ng's IPA back to those phones, longest symbols first (for words the dictionary lacks)
_IPA_ARPABET = sorted([(ipa, arpa) for arpa, ipa in ARPABET_IPA.items()] + [
    ("ə", "AH"), ("ɚ", "ER"), ("ɜ", "ER"), ("oː", "OW"), ("o", "OW"), ("e", "EH"), ("a", "AA"), ("ɐ", "AH"),
    ("ɒ", "AA"), ("ᵻ", "IH"), ("ɾ", "T"), ("ʔ", "T"), ("r", "R"), ("ɡ", "G"), ("g", "G"), ("x", "K"), ("ɬ", "L"),
    ("ɫ", "L"), ("ʊə", "UH"), ("iə", "IY"), ("eə", "EH"), ("aɪə", "AY"), ("ɑː", "AA"), ("iː", "IY"), ("uː", "UW"),
    ("ɔː", "AO"), ("ɜː", "ER"),
], key=lambda pair: -len(pair[0]))


@dataclass(frozen=True)
class Timed:
    text: str        # a word of the transcript, or a phone in IPA
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Alignment:
    words: tuple[Timed, ...]     # the transcript's words in order, each with its span
    phones: tuple[Timed, ...]


def word_tokens(text: str) -> list[str]:
    """The words pocketsphinx reads: lower case letters, digits and apostrophes."""
    return re.findall(r"[a-z0-9']+", text.lower().replace("’", "'"))


def ipa_to_arpabet(ipa: str) -> list[str]:
    """espeak-ng's phonemes of one word as dictionary phones (stress and length marks dropped, unknown
    symbols skipped)."""
    ipa = re.sub(r"[ˈˌ\-_ ]", "", ipa)
    phones, i = [], 0
    while i < len(ipa):
        for symbol, arpa in _IPA_ARPABET:
            if ipa.startswith(symbol, i):
                phones.append(arpa)
                i += len(symbol)
                break
        else:
            i += 1
    return phones


def aligner_unavailable() -> str | None:
    """Why forced alignment cannot run here (None when it can)."""
    if importlib.util.find_spec("pocketsphinx") is None:
        return f"pocketsphinx is not installed; install it with: {INSTALL}"
    return None


class ForcedAligner:
    """One decoder with the wheel's model, loaded once; calls are serialised."""

    def __init__(self):
        from pocketsphinx import Decoder
        self._decoder = Decoder(samprate=SAMPLE_RATE, bestpath=False, loglevel="FATAL")
        self._lock = threading.Lock()

    def _known(self, word: str) -> bool:
        """True when the dictionary has the word, after adding espeak-ng's pronunciation if it lacked it."""
        if self._decoder.lookup_word(word) is not None:
            return True
        from ..engines.shared.espeak import phonemize
        phones = ipa_to_arpabet(phonemize(word))
        if not phones:
            return False
        self._decoder.add_word(word, " ".join(phones), True)
        return True

    def _pass(self, pcm: bytes) -> None:
        self._decoder.start_utt()
        self._decoder.process_raw(pcm, full_utt=True)
        self._decoder.end_utt()

    def align(self, audio: np.ndarray, text: str, offset_s: float = 0.0) -> Alignment | None:
        """The words of `text` and their phones in 16 kHz mono `audio`, times in seconds plus `offset_s`;
        None when the words cannot be placed in it (the audio does not hold them)."""
        words = [w for w in word_tokens(text)]
        if not words or len(audio) < SAMPLE_RATE * FRAME_S * 3:
            return None
        pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        shift = offset_s + ALIGNMENT_LAG_S
        with self._lock:
            words = [w for w in words if self._known(w)]
            if not words:
                return None
            try:
                self._decoder.set_align_text(" ".join(words))
                self._pass(pcm)
                if self._decoder.hyp() is None:
                    return None
                self._decoder.set_alignment()
                self._pass(pcm)
                # read it at once, while the alignment lives: its entries point into it (a kept entry crashes)
                placed = [(entry.name, entry.start, entry.duration,
                           [(p.name, p.start, p.duration) for p in entry])
                          for entry in self._decoder.get_alignment()]
            except RuntimeError:   # pocketsphinx raises this when no path through the words reaches the end
                return None
        timed_words, timed_phones = [], []
        for name, start, duration, phones in placed:
            name = re.sub(r"\(\d+\)$", "", name)
            if name not in words[len(timed_words):len(timed_words) + 1]:
                continue   # silence and fillers between the words
            timed_words.append(Timed(name, start * FRAME_S + shift, (start + duration) * FRAME_S + shift))
            timed_phones += [Timed(ARPABET_IPA[p], s * FRAME_S + shift, (s + d) * FRAME_S + shift)
                             for p, s, d in phones if p in ARPABET_IPA]
        if len(timed_words) != len(words):
            return None
        return Alignment(tuple(timed_words), tuple(timed_phones))


@lru_cache(maxsize=1)
def forced_aligner() -> ForcedAligner:
    """The process-wide aligner, or an error saying what to install."""
    why = aligner_unavailable()
    if why:
        raise EngineUnavailableError(why, where=NAME, fix=f"Install it with: {INSTALL}")
    return ForcedAligner()

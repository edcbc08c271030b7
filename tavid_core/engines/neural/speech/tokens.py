"""Text to token ids for the neural text encoder: one id per IPA symbol (phoneme mode, espeak-ng G2P)
or per character (char mode).

The vocabulary is fixed and versioned: a checkpoint's embedding table is indexed by it, so the list
below may only grow at its end, and any change bumps `VOCAB_VERSION` (checkpoints record it and the
loader compares `vocab_fingerprint()`). It is built from whole Unicode blocks rather than from the
symbols seen in some sample, so every IPA letter, modifier and diacritic espeak-ng writes for English
and the European languages has an id even if no training text contained it.

Phoneme mode keeps the punctuation at word edges (commas, question marks, ...), which espeak drops
but which carries phrasing: "you are?" and "you are." must not encode the same.
"""
from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from hashlib import sha256

from ....errors import TavidError

VOCAB_VERSION = 1
KINDS = ("phoneme", "char")
PAD, UNKNOWN, SPACE = 0, 1, 2

_EXTRA_PUNCTUATION = "¡¿«»–—…"


def _block(first: int, last: int, skip: str = "") -> list[str]:
    return [chr(c) for c in range(first, last + 1) if chr(c) not in skip]


def _symbols() -> tuple[str, ...]:
    """Ids 3 and up, in their fixed order. Append only."""
    return tuple(
        _block(0x21, 0x7E)                        # printable ASCII: punctuation, digits, letters
        + list(_EXTRA_PUNCTUATION)
        + _block(0xC0, 0xFF, skip="×÷")           # Latin-1 letters (also IPA æ ç ð ø)
        + _block(0x100, 0x17F)                    # Latin Extended-A (ŋ œ, Polish, Czech letters)
        + _block(0x250, 0x2AF)                    # IPA Extensions
        + _block(0x2B0, 0x2FF)                    # modifier letters: ˈ ˌ ː ʰ ʲ ʷ ˞ ...
        + _block(0x300, 0x36F)                    # combining diacritics, ties ͡ ͜ included
        + list("βθχ")                             # Greek letters of the IPA
        + _block(0x1D00, 0x1D7F)                  # phonetic extensions (espeak's English ᵻ)
        + ["‿"])                                  # linking mark


SYMBOLS: tuple[str, ...] = ("<pad>", "<unk>", " ") + _symbols()
_IDS = {s: i for i, s in enumerate(SYMBOLS) if i > UNKNOWN}


def vocab_fingerprint() -> str:
    """A short hash of the whole symbol list, to tell two vocabularies apart beyond their version."""
    return sha256("\n".join(SYMBOLS).encode("utf-8")).hexdigest()[:16]


# Punctuation kept as tokens in phoneme mode. Marks that never belong inside a word count anywhere
# ("Wait—what?"); the others only where they touch a word edge, so "don't", "1,000", "10:30" and "e.g"
# stay whole for espeak to read.
_PUNCT_RUN = re.compile(r"[!\"'(),\-.:;?¡¿«»–—…]+")
_ALWAYS = frozenset("!?;\"¡¿«»–—…")
_LANGUAGE_SWITCH = re.compile(r"\([a-z]{2,3}(?:-[a-z0-9-]+)?\)")  # espeak's "(en)weekend(fr)" marks


@lru_cache(maxsize=8192)
def _phonemize(chunk: str, language: str) -> str:
    from ...shared.espeak import phonemize
    return " ".join(_LANGUAGE_SWITCH.sub("", phonemize(chunk, language)).split())


def _pieces(text: str) -> list[tuple[str, bool, bool]]:
    """`text` cut into (piece, is_punctuation, space_before) at punctuation runs that touch a word edge."""
    out, start = [], 0

    def words(segment: str, at: int) -> None:
        if segment.strip():
            out.append((segment.strip(), False, at > 0 and (text[at - 1].isspace() or segment[0].isspace())))

    for m in _PUNCT_RUN.finditer(text):
        a, b = m.span()
        edge = a == 0 or b == len(text) or text[a - 1].isspace() or text[b].isspace()
        if not (edge or _ALWAYS & set(m.group())):
            continue
        words(text[start:a], start)
        out.append((m.group(), True, a > 0 and text[a - 1].isspace()))
        start = b
    words(text[start:], start)
    return out


class Tokenizer:
    """`kind` "phoneme": espeak-ng IPA of `language`, one token per symbol (stress marks, length marks and
    diacritics are tokens of their own); "char": the text's characters, case kept. Words are separated by
    one space token either way. `unknown` counts symbols outside the vocabulary (they become id 1), so a
    caller can warn about them."""

    def __init__(self, kind: str = "phoneme", language: str = "en-us"):
        if kind not in KINDS:
            raise TavidError(f"unknown token kind {kind!r}", where="tokens", fix=f"Use one of {', '.join(KINDS)}.")
        self.kind = kind
        self.language = language
        self.unknown: Counter[str] = Counter()

    @property
    def vocab_size(self) -> int:
        return len(SYMBOLS)

    def symbols(self, text: str) -> str:
        """The string the tokens spell: IPA with punctuation (phoneme mode) or the text with single spaces."""
        if self.kind == "char":
            return " ".join(text.split())
        out = ""
        for piece, is_punct, space in _pieces(text):
            said = piece if is_punct else _phonemize(piece, self.language)
            if said:
                out += (" " if out and space else "") + said
        return out

    def encode_symbols(self, symbols: str) -> list[int]:
        ids = [_IDS.get(ch, UNKNOWN) for ch in symbols]
        if UNKNOWN in ids:
            self.unknown.update(ch for ch, i in zip(symbols, ids) if i == UNKNOWN)
        return ids

    def encode(self, text: str) -> list[int]:
        return self.encode_symbols(self.symbols(text))

    def decode(self, ids) -> str:
        """The symbols of `ids`; padding is dropped, unknown ids read as "�"."""
        return "".join("\ufffd" if i == UNKNOWN else SYMBOLS[i] for i in map(int, ids) if i != PAD)

    def describe(self) -> dict:
        return {"tokens": self.kind, "language": self.language, "vocab_version": VOCAB_VERSION,
                "vocab_size": self.vocab_size}

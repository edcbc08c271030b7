"""Phonemes to mouth shapes.

Each phone maps to one of 14 visemes, each a target for (jaw_open, mouth_wide, mouth_round). The table
reads IPA as espeak-ng and piper write it, and the misaki letters hibari uses for diphthongs
(A = eɪ, I = aɪ, O = oʊ, W = aʊ, Y = ɔɪ). Values come from looking at speakers: open vowels drop the
jaw most, rounded vowels purse the lips, bilabials close them completely.
"""
from __future__ import annotations

# viseme -> (jaw_open 0..1, mouth_wide -1..1, mouth_round 0..1)
VISEMES: dict[str, tuple[float, float, float]] = {
    "sil": (0.00, 0.00, 0.00),
    "PP": (0.00, 0.00, 0.00),   # p b m: lips pressed together
    "FF": (0.10, 0.05, 0.00),   # f v: lower lip to upper teeth
    "TH": (0.18, 0.10, 0.00),
    "DD": (0.24, 0.10, 0.00),   # t d n l
    "kk": (0.28, 0.05, 0.00),   # k g ŋ h
    "CH": (0.18, -0.25, 0.55),  # ʃ ʒ tʃ dʒ: lips forward
    "SS": (0.12, 0.30, 0.00),
    "RR": (0.22, -0.15, 0.45),
    "aa": (0.80, 0.15, 0.00),
    "E": (0.50, 0.35, 0.00),
    "ih": (0.32, 0.50, 0.00),
    "oh": (0.58, -0.25, 0.65),
    "ou": (0.28, -0.35, 0.90),
}
VISEME_NAMES = tuple(VISEMES)
CLOSED = frozenset({"PP"})

_BY_CHAR = {}
for _chars, _viseme in (
    ("pbmɱ", "PP"), ("fvʋ", "FF"), ("θð", "TH"), ("tdnlɾɫʔɬ", "DD"), ("kgŋhxɡqɣχ", "kk"),
    ("ʃʒʧʤçʝ", "CH"), ("szʦʣ", "SS"), ("ɹrɚɝʁʀɻ", "RR"), ("aɑæɐʌɒIW", "aa"), ("eɛəᵊɜœøA", "E"),
    ("iɪjᵻyʏɨ", "ih"), ("oɔOYɤ", "oh"), ("uʊwɯɥ", "ou"),
):
    for _c in _chars:
        _BY_CHAR[_c] = _viseme


def viseme_of(symbol: str) -> str:
    """The viseme of one phone; affricates (tʃ, dʒ) count as their fricative, other clusters by their first sound."""
    if not symbol:
        return "sil"
    if len(symbol) > 1 and symbol[0] in "td" and symbol[1] in "ʃʒ":
        return "CH"
    for ch in symbol:
        if ch in _BY_CHAR:
            return _BY_CHAR[ch]
    return "DD"  # an unknown consonant: a neutral, slightly open mouth


def targets(symbol: str) -> tuple[float, float, float]:
    return VISEMES[viseme_of(symbol)]

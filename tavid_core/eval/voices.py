"""Voices measured as voices: does each person keep one voice through the dialogue, are the two people told
apart, and does each voice suit its face?

Each person's turns are cut into pieces of at most PIECE_S and each piece is embedded by the speaker
encoder (analysis/speaker_encoder.py). Consistency is a person's mean cosine of pieces to their own
centroid; separation is how much closer a piece is to the rest of its own person's pieces than to the
other person's (about 0 when both people have one voice); similarity is the cosine of the two centroids.
Whether a voice suits a face compares the voice's median pitch with the range expected for the face's
apparent age and sex (analysis/age_sex.py), itself only a guess about appearance.
"""
from __future__ import annotations

import numpy as np

from ..analysis.age_sex import AgeSex
from ..analysis.speaker_encoder import cosine, speaker_encoder
from .activity import VAD_RATE, Turn

PIECE_S = 2.0            # turns are cut into pieces this long at most ...
MIN_PIECE_S = 1.0        # ... and pieces shorter than this are left out
CHILD_AGE = 13           # younger faces are expected to have children's voices
# median F0 expected of a voice (Hz): adult men, adult women, children (generous ranges around the usual
# 85-155, 165-255 and 250-400)
EXPECTED_HZ = {"male": (75.0, 170.0), "female": (145.0, 290.0), "child": (200.0, 450.0)}
VOICE_SEX_HZ, VOICE_SEX_SPREAD = 160.0, 12.0   # a voice reads as a man's below about 160 Hz


def pieces(audio: np.ndarray, turns: list[Turn], person: int) -> list[np.ndarray]:
    """The person's turns (16 kHz) cut into equal pieces of at most PIECE_S, none shorter than MIN_PIECE_S."""
    out = []
    for turn in turns:
        if turn.speaker != person:
            continue
        a, b = int(turn.start_s * VAD_RATE), min(len(audio), int(turn.end_s * VAD_RATE))
        count = max(1, int(np.ceil((b - a) / (PIECE_S * VAD_RATE))))
        edges = np.linspace(a, b, count + 1).astype(int)
        out += [audio[x:y] for x, y in zip(edges[:-1], edges[1:]) if y - x >= MIN_PIECE_S * VAD_RATE]
    return out


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-12)


def voice_measures(audio: np.ndarray, turns: list[Turn]) -> dict:
    """{"A": {"voice_consistency"}, "B": ..., "overall": {"voice_separation", "voice_similarity"}}."""
    encoder = speaker_encoder()
    embeds = [np.array([encoder.embed(p, VAD_RATE) for p in pieces(audio, turns, person)]) for person in (0, 1)]
    centroids = [_unit(e.mean(0)) if len(e) else None for e in embeds]
    out = {key: {"voice_consistency": float(np.mean([cosine(x, centroids[p]) for x in embeds[p]]))
                 if len(embeds[p]) >= 2 else None} for p, key in enumerate("AB")}
    separation = []
    if all(len(e) >= 2 for e in embeds):
        for p in (0, 1):
            for i, x in enumerate(embeds[p]):
                own = _unit(np.delete(embeds[p], i, axis=0).mean(0))   # the rest of this person's pieces
                separation.append(cosine(x, own) - cosine(x, centroids[1 - p]))
    out["overall"] = {"voice_separation": float(np.mean(separation)) if separation else None,
                      "voice_similarity": cosine(*centroids) if all(c is not None for c in centroids) else None}
    return out


def expected_range(face: AgeSex) -> tuple[float, float]:
    return EXPECTED_HZ["child" if face.age < CHILD_AGE else face.sex]


def voice_male(pitch_median_hz: float) -> float:
    """How much a voice of this median pitch reads as a man's (0..1)."""
    return float(1.0 / (1.0 + np.exp((pitch_median_hz - VOICE_SEX_HZ) / VOICE_SEX_SPREAD)))


def voice_face_match(face: AgeSex | None, pitch_median_hz: float | None) -> dict:
    """The face's apparent age and sex, the voice's apparent sex, and whether the voice's median pitch is in
    the range expected for that face (1 or 0)."""
    if face is None or pitch_median_hz is None:
        return {"face_age_years": face.age if face else None, "face_male_prob": face.male if face else None,
                "voice_male_prob": voice_male(pitch_median_hz) if pitch_median_hz else None, "voice_face_match": None}
    low, high = expected_range(face)
    return {"face_age_years": face.age, "face_male_prob": face.male, "voice_male_prob": voice_male(pitch_median_hz),
            "voice_face_match": float(low <= pitch_median_hz <= high)}

"""Who speaks when in one mixed recording of two people: stretches of speech found by loudness, each
described by the speaker encoder (a wheel-shipped voice embedding), clustered into exactly two voices.

A recording splits into pieces at its silences (a floor transfer is rarely shorter than 100 ms); each
piece gets one embedding, and the pieces are clustered into two voices (spherical k-means weighted by
duration, started from the two least alike long pieces). A long piece may hold a change of speaker without
a silence between: it is cut into windows, each labelled by the nearer voice, and split where a run of
windows of the other voice lasts. A window that sounds like both voices at once (its embedding closer to
their blend than to either) inside the other voice's speech is an overlap, and kept as one. Three voices told
apart (clustered three ways, each holding a share of the speech) are refused: a dub has two people.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..analysis.spans import lasting, runs
from ..analysis.voice_activity import RATE, levels, loud_mask
from ..errors import TavidError
from ..runtime import Runtime

SAMPLE_RATE = 16000
PARTIAL_S = 1.6           # the speaker encoder's window
MIN_GAP_S = 0.06          # silences shorter than this stay inside a piece
LONG_PIECE_S = 2.5        # pieces longer than this are checked for a change of speaker inside
WINDOW_S, HOP_S = 1.0, 0.25
MIN_RUN_S = 0.75          # a change of speaker inside a piece lasts at least this long
SAME_VOICE_COSINE = 0.7   # two voices whose centres are this alike are one person (measured on the built-in
                          # voices: one person's parts 0.74-0.92, two people 0.42-0.62); three voices all less
                          # alike than this ...
THIRD_VOICE_SHARE = 0.08  # ... each holding this share of the speech (two voices leave <= 3 % to a third) ...
THIRD_VOICE_PIECES = 2    # ... in at least this many pieces (one odd piece is no person): a third person
SEEDS = 8                 # starts tried when clustering three ways


@dataclass(frozen=True)
class Piece:
    start: int      # frames at RATE
    stop: int
    voice: int = -1


def pieces_of(audio: np.ndarray) -> list[Piece]:
    """The stretches of speech in 16 kHz mono audio, split at silences of MIN_GAP_S or more."""
    mask = loud_mask(levels(audio, SAMPLE_RATE))
    mask = lasting(~lasting(~mask, MIN_GAP_S * RATE), 0.1 * RATE)
    return [Piece(int(a), int(b)) for a, b in runs(mask)]


def embed_speech(encoder, speech: np.ndarray) -> np.ndarray:
    """The voice embedding of a piece of speech. The encoder reads windows of PARTIAL_S and pads a shorter
    piece with silence, which then sounds alike whoever spoke: a short piece is repeated to fill the window."""
    window = int(PARTIAL_S * SAMPLE_RATE)
    return encoder.embed(np.resize(speech, window) if 0 < len(speech) < window else speech, SAMPLE_RATE)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def clustered(embeddings: np.ndarray, weights: np.ndarray, k: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """(labels [P], centres [k, D]): spherical k-means, weighted. Two voices start from the two least alike
    heavy pieces; more are started from each of the heaviest pieces in turn (each further centre the piece
    least like those chosen), keeping the tightest result."""
    heavy = np.flatnonzero(weights >= np.percentile(weights, 50)) if len(weights) > 3 else np.arange(len(weights))
    sims = embeddings @ embeddings.T
    if k == 2:
        i, j = np.unravel_index(np.argmin(sims[np.ix_(heavy, heavy)]), (len(heavy), len(heavy)))
        return _k_means(embeddings, weights, embeddings[heavy[[i, j]]])
    best, best_fit = None, -np.inf
    for first in np.argsort(-weights)[:SEEDS]:
        chosen = [int(first)]
        while len(chosen) < min(k, len(embeddings)):
            chosen.append(int(np.argmin(sims[:, chosen].max(axis=1))))
        labels, centres = _k_means(embeddings, weights, embeddings[chosen])
        fit = float((weights * (embeddings @ centres.T).max(axis=1)).sum())
        if fit > best_fit:
            best, best_fit = (labels, centres), fit
    return best


def _k_means(embeddings: np.ndarray, weights: np.ndarray, centres: np.ndarray,
             rounds: int = 30) -> tuple[np.ndarray, np.ndarray]:
    labels = np.zeros(len(embeddings), int)
    for _ in range(rounds):
        new = np.argmax(embeddings @ centres.T, axis=1)
        if (new == labels).all() and _ > 0:
            break
        labels = new
        centres = np.stack([_unit((embeddings[labels == c] * weights[labels == c, None]).sum(0))
                            if (labels == c).any() else centres[c] for c in range(len(centres))])
    return labels, centres


def third_voice(embeddings: np.ndarray, weights: np.ndarray) -> float:
    """The share of the speech a third person holds (0 when the pieces fit two voices): the smallest of three
    voices clustered as the two are, when every two of their centres are less alike than SAME_VOICE_COSINE and
    each holds THIRD_VOICE_SHARE or more in THIRD_VOICE_PIECES pieces or more. (Two voices split three ways
    leave one part tiny, or a single piece, or two parts alike: one person laughing and speaking.)"""
    if len(embeddings) < 3:
        return 0.0
    labels, centres = clustered(embeddings, weights, 3)
    shares = np.array([weights[labels == c].sum() for c in range(len(centres))]) / weights.sum()
    alike = (centres @ centres.T)[np.triu_indices(len(centres), 1)]
    pieces = np.bincount(labels, minlength=len(centres))
    if (len(centres) < 3 or alike.max() >= SAME_VOICE_COSINE or shares.min() < THIRD_VOICE_SHARE
            or pieces.min() < THIRD_VOICE_PIECES):
        return 0.0
    return float(shares.min())


def diarize(audio: np.ndarray, encoder, *, runtime: Runtime, where: str = "recording") -> np.ndarray:
    """[2, T] masks at RATE Hz of each voice's speech in 16 kHz mono `audio`; voice 0 speaks first. An
    error when the recording holds no speech or a third voice; one voice gives an empty second mask."""
    pieces = pieces_of(audio)
    frames = int(np.ceil(len(audio) / SAMPLE_RATE * RATE))
    masks = np.zeros((2, frames), bool)
    if not pieces:
        return masks
    hop = SAMPLE_RATE / RATE

    def embed(a: int, b: int) -> np.ndarray:
        return embed_speech(encoder, audio[int(a * hop):int(b * hop)])

    embeddings = np.stack([embed(p.start, p.stop) for p in runtime.steps(pieces, len(pieces), "voices")])
    weights = np.array([p.stop - p.start for p in pieces], float)
    labels, centres = clustered(embeddings, weights)
    if float(centres[0] @ centres[1]) > SAME_VOICE_COSINE or len(pieces) < 2:
        masks[0] = _fill(pieces, np.zeros(len(pieces), int), frames)
        return masks
    share = third_voice(embeddings, weights)
    if share > THIRD_VOICE_SHARE:
        raise TavidError(f"a third voice holds about {share:.0%} of the speech; a dub has exactly two people",
                         where=where, fix="Cut the recording to the two people, or give one track per person.")
    for k, piece in enumerate(pieces):
        masks[labels[k], piece.start:piece.stop] = True
    for piece, label in zip(pieces, labels):
        if (piece.stop - piece.start) / RATE > LONG_PIECE_S:
            _split_inside(piece, label, audio, centres, encoder, masks)
    first = [np.flatnonzero(m)[0] if m.any() else frames for m in masks]
    return masks if first[0] <= first[1] else masks[::-1].copy()


def _fill(pieces: list[Piece], labels: np.ndarray, frames: int) -> np.ndarray:
    mask = np.zeros(frames, bool)
    for piece in pieces:
        mask[piece.start:piece.stop] = True
    return mask


def _split_inside(piece: Piece, label: int, audio: np.ndarray, centres: np.ndarray, encoder,
                  masks: np.ndarray) -> None:
    """Relabel the lasting runs of the other voice inside a long piece, and mark overlaps."""
    window, step = int(WINDOW_S * RATE), int(HOP_S * RATE)
    hop = SAMPLE_RATE / RATE
    starts = list(range(piece.start, max(piece.start + 1, piece.stop - window + 1), step))
    embeds = np.stack([embed_speech(encoder, audio[int(s * hop):int((s + window) * hop)]) for s in starts])
    sims = embeds @ centres.T
    blend = embeds @ _unit(centres.sum(0))
    own, other = sims[:, label], sims[:, 1 - label]
    votes = np.zeros((3, piece.stop - piece.start))   # own, other, both
    for s, o, t, b in zip(starts, own, other, blend):
        kind = 1 if t > o else (2 if b > o else 0)
        votes[kind, s - piece.start:s - piece.start + window] += 1
    choice = np.argmax(votes, axis=0)
    other_run = lasting(choice == 1, MIN_RUN_S * RATE)
    both = lasting(choice == 2, 0.3 * RATE) & ~other_run
    span = slice(piece.start, piece.stop)
    masks[label, span] &= ~other_run
    masks[1 - label, span] |= other_run | both

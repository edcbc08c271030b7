"""What each person is heard to say: their turns decoded by Whisper tiny.en (pocketsphinx when Whisper is
not installed; the report names which), the word error rate against the script, and how far the heard
words' start times are from the timeline's.

Whisper decodes 30 s at a time however short the sound, so a person's turns are joined, with short
silences between them, into pieces of up to CHUNK_S and each piece is decoded once; the words' times are
then taken back to where each turn is in the video.
"""
from __future__ import annotations

import importlib.util
import logging

import numpy as np

from ..analysis.transcriber import NAME as WHISPER
from ..analysis.transcriber import transcriber, transcriber_unavailable
from .activity import VAD_RATE, Turn
from .deps import require
from .reference import Reference, timed_words, words

CHUNK_S = 28.0           # joined turns decoded at once (Whisper's window is 30 s)
GAP_S = 0.4              # silence put between joined turns
TURN_PAD_S = 0.1         # a little context either side of a turn
POCKETSPHINX = "pocketsphinx"
# The words are heard beside the two face trackers, which keep both cores busy: one thread, greedy decoding
# (the main job's words are the same as with a beam of 5, for 2.3 CPU-s instead of 3.5)
WHISPER_THREADS, WHISPER_BEAM = 1, 1

log = logging.getLogger(__name__)


def recogniser() -> tuple[str | None, str | None]:
    """(the recogniser to use, or None; a note on the fallback when it is not Whisper)."""
    why = transcriber_unavailable()
    if why is None:
        return WHISPER, None
    if importlib.util.find_spec("pocketsphinx") is not None:
        return POCKETSPHINX, f"words by pocketsphinx, a weaker recogniser: {why}"
    return None, f"no word error rates: {why}"


def word_errors(reference: list[str], hypothesis: list[str]) -> int:
    """Levenshtein distance in words (substitutions + deletions + insertions)."""
    return int(_distances(reference, hypothesis)[-1, -1])


def _distances(reference: list[str], hypothesis: list[str]) -> np.ndarray:
    table = np.zeros((len(reference) + 1, len(hypothesis) + 1), np.int32)
    table[:, 0], table[0, :] = np.arange(len(reference) + 1), np.arange(len(hypothesis) + 1)
    for i, ref in enumerate(reference, 1):
        for j, hyp in enumerate(hypothesis, 1):
            table[i, j] = min(table[i - 1, j] + 1, table[i, j - 1] + 1, table[i - 1, j - 1] + (ref != hyp))
    return table


def matched_pairs(reference: list[str], hypothesis: list[str]) -> list[tuple[int, int]]:
    """(i, j) of the words an optimal alignment keeps as they are."""
    table, pairs = _distances(reference, hypothesis), []
    i, j = len(reference), len(hypothesis)
    while i and j:
        same = reference[i - 1] == hypothesis[j - 1]
        if table[i, j] == table[i - 1, j - 1] + (not same):
            if same:
                pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif table[i, j] == table[i - 1, j] + 1:
            i -= 1
        else:
            j -= 1
    return pairs[::-1]


def _pieces(audio: np.ndarray, turns: list[Turn]) -> list[tuple[int, int]]:
    """(first, last) samples of each turn with its context, long turns cut into CHUNK_S pieces."""
    pad, limit = int(TURN_PAD_S * VAD_RATE), int(CHUNK_S * VAD_RATE)
    out = []
    for turn in turns:
        a, b = max(0, int(turn.start_s * VAD_RATE) - pad), min(len(audio), int(turn.end_s * VAD_RATE) + pad)
        out += [(s, min(b, s + limit)) for s in range(a, b, limit)]
    return out


def _whisper_words(audio: np.ndarray, turns: list[Turn]) -> list[tuple[str, float]]:
    """(word, start in the video) of everything Whisper hears in these turns."""
    gap, limit, heard = int(GAP_S * VAD_RATE), int(CHUNK_S * VAD_RATE), []
    chunks: list[list[tuple[int, int]]] = [[]]
    for a, b in _pieces(audio, turns):
        length = sum(y - x + gap for x, y in chunks[-1])
        if chunks[-1] and length + b - a > limit:
            chunks.append([])
        chunks[-1].append((a, b))
    for chunk in chunks:
        if not chunk:
            continue
        parts, offsets, at = [], [], 0          # offsets: (start in the chunk, start in the video)
        for a, b in chunk:
            parts += [audio[a:b], np.zeros(gap, np.float32)]
            offsets.append((at, a))
            at += b - a + gap
        for w in transcriber(WHISPER_THREADS).words(np.concatenate(parts), VAD_RATE, beam=WHISPER_BEAM):
            start = int(w.start_s * VAD_RATE)
            inside, source = max((o for o in offsets if o[0] <= start), default=offsets[0])
            heard += [(token, (source + max(0, start - inside)) / VAD_RATE) for token in words(w.text)]
    return heard


_decoder = None


def _pocketsphinx_words(audio: np.ndarray, turns: list[Turn]) -> list[tuple[str, None]]:
    """pocketsphinx's words for each turn decoded on its own (no times)."""
    global _decoder
    if _decoder is None:
        _decoder = require("pocketsphinx").Decoder(samprate=VAD_RATE, loglevel="FATAL")
    out = []
    for a, b in _pieces(audio, turns):
        pcm = (np.clip(audio[a:b], -1.0, 1.0) * 32767).astype("<i2").tobytes()
        _decoder.start_utt()
        _decoder.process_raw(pcm, full_utt=True)
        _decoder.end_utt()
        hyp = _decoder.hyp()
        out += [(token, None) for token in (words(hyp.hypstr) if hyp is not None else [])]
    return out


def heard(audio: np.ndarray, turns: list[Turn], engine: str) -> list[tuple[str, float | None]]:
    return (_whisper_words if engine == WHISPER else _pocketsphinx_words)(audio, turns)


def word_measures(audio: np.ndarray, turns: list[Turn], reference: Reference, engine: str | None) -> dict:
    """{"A": {"wer", "word_timing_ms"}, "B": ..., "overall": {...}}: word errors against the script and the
    median |heard start - timeline start| of the words heard right (with a timeline that has word times)."""
    empty = {"wer": None, "word_timing_ms": None}
    out = {"A": dict(empty), "B": dict(empty), "overall": dict(empty)}
    if reference.texts is None or engine is None:
        return out
    errors, total, offsets = 0, 0, []
    for person, key in enumerate("AB"):
        ref = words(reference.texts[person])
        if not ref:
            continue
        found = heard(audio, [t for t in turns if t.speaker == person], engine)
        wrong = word_errors(ref, [w for w, _ in found])
        out[key]["wer"] = wrong / len(ref)
        errors, total = errors + wrong, total + len(ref)
        timed = timed_words(reference, person)
        if engine == WHISPER and timed:
            pairs = matched_pairs([w for w, _ in timed], [w for w, _ in found])
            mine = [abs(found[j][1] - timed[i][1]) * 1000 for i, j in pairs]
            out[key]["word_timing_ms"] = float(np.median(mine)) if mine else None
            offsets += mine
    out["overall"] = {"wer": errors / total if total else None,
                      "word_timing_ms": float(np.median(offsets)) if offsets else None}
    return out

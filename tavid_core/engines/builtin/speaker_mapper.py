"""Built-in speaker mapper: a face becomes a voice, deterministically from its identity.

The dlib identity embedding, centred on the mean embedding of a set of faces, is projected onto fixed
pseudo-random directions (one per voice, one for pitch, one for speaking rate). The same face always gets the same voice, different faces get different
rankings and pitch/rate, and nothing but identity is read: no age, gender or other attribute is
guessed. A reference recording, when given, instead picks the voice and pitch shift closest to its
pitch. A name picks a voice by hand.
"""
from __future__ import annotations

import json
import zlib
from functools import lru_cache

import numpy as np

from ...analysis.audio_features import median_pitch_hz
from ...analysis.faces import face_analyzer
from ...assets import asset
from ...errors import TavidError
from ...runtime import Runtime
from ...types import Voice
from ..protocols import SpeakerMapper
from .tts.catalog import VoiceCatalog, voice_info

_MAX_FACE_PITCH_ST = 1.5   # the face nudges pitch by at most this many semitones
_MAX_FACE_RATE = 0.05      # and the speaking rate by at most 5 %
_MAX_MATCH_PITCH_ST = 4.0  # a reference recording may move pitch further


def _direction(label: str, dim: int) -> np.ndarray:
    """A fixed unit vector for `label`, the same on every machine."""
    rng = np.random.default_rng(zlib.crc32(label.encode()))
    v = rng.standard_normal(dim)
    return v / np.linalg.norm(v)


@lru_cache(maxsize=1)
def _reference() -> tuple[np.ndarray, float]:
    """(mean embedding, typical distance to it) shipped in assets/dlib_mean_embedding.json."""
    data = json.loads(asset("dlib_mean_embedding.json").read_text(encoding="utf-8"))
    return np.asarray(data["mean"], np.float32), float(data["residual_norm"])


def compute_reference(analyzer=None) -> tuple[np.ndarray, float, int]:
    """How the shipped reference was made: the mean dlib embedding of the faces in scikit-image's
    `lfw_subset()` (25 px crops, upscaled so dlib finds them). Returns (mean, residual norm, faces)."""
    from skimage.data import lfw_subset

    from ...analysis.faces import face_analyzer as default_analyzer
    from ...media.images import as_uint8_rgb, resize
    analyzer = analyzer or default_analyzer()
    embeddings = []
    for crop in lfw_subset()[:100]:  # the first 100 are faces, the rest are not
        image = np.pad(resize(as_uint8_rgb(crop), 200, 200), ((60, 60), (60, 60), (0, 0)), mode="edge")
        found = analyzer.detect(image)
        if found:
            embeddings.append(analyzer.embedding(image, found[0][0]))
    stack = np.stack(embeddings)
    mean = stack.mean(axis=0)
    return mean, float(np.linalg.norm(stack - mean, axis=1).mean()), len(stack)


def _projection(embedding: np.ndarray, label: str) -> float:
    """Where a face lies along `label`'s direction, about N(0, 1) over people."""
    mean, spread = _reference()
    residual = (embedding - mean) / spread
    return float(residual @ _direction(label, len(residual)) * np.sqrt(len(residual)))


class BuiltinSpeakerMapper(SpeakerMapper):
    name = "builtin-speaker-mapper"

    def __init__(self, catalog: VoiceCatalog, voices: tuple[str, ...] | None = None):
        self.catalog = catalog
        self._voices = voices  # the voices faces are mapped onto; None: the neural voices that load

    def candidate_voices(self) -> tuple[str, ...]:
        if self._voices:
            return self._voices
        neural = self.catalog.neural_voices()
        return neural if len(neural) >= 2 else ("espeak:en-us+m3", "espeak:en-us+f3", *neural)

    def map_face(self, image: np.ndarray, *, runtime: Runtime, reference_audio: tuple[np.ndarray, int] | None = None,
                 voice: str = "auto", pitch_semitones: float | None = None, rate: float | None = None,
                 where: str = "face", reference_text: str | None = None) -> Voice:
        face = face_analyzer().analyze(image, embedding=True, where=where)
        emb = face.embedding
        candidates = self.candidate_voices()
        ranking = sorted(candidates, key=lambda name: -_projection(emb, "voice:" + name))
        face_pitch = float(np.tanh(_projection(emb, "pitch") / 2) * _MAX_FACE_PITCH_ST)
        face_rate = 1.0 + float(np.tanh(_projection(emb, "rate") / 2) * _MAX_FACE_RATE)
        source = "face"

        if reference_audio is not None:
            audio, sr = reference_audio
            f0 = median_pitch_hz(np.asarray(audio, np.float32).reshape(-1), sr)
            if f0 <= 0:
                raise TavidError("the reference audio has no voiced speech to match", where=f"{where} reference audio",
                                 fix="Give a few seconds of clear speech, or leave the audio input empty.")
            ranking = sorted(candidates, key=lambda name: abs(np.log2(f0 / voice_info(name).median_f0_hz)))
            face_pitch = float(np.clip(12 * np.log2(f0 / voice_info(ranking[0]).median_f0_hz),
                                       -_MAX_MATCH_PITCH_ST, _MAX_MATCH_PITCH_ST))
            source = "reference_audio"

        if voice and voice != "auto":
            voice_info(voice)  # unknown names fail here, with the list of known ones
            ranking = [voice] + [v for v in ranking if v != voice]
            source = "manual"
        return Voice(
            engine="builtin", preset=ranking[0], embedding=emb,
            pitch_semitones=face_pitch if pitch_semitones is None else float(pitch_semitones),
            rate=face_rate if rate is None else float(rate),
            source=source, alternatives=tuple(ranking[1:]))

    def describe(self) -> dict:
        return super().describe() | {"voices": list(self.candidate_voices())}

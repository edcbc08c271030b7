"""Built-in speaker mapper: a face becomes a voice that suits its apparent sex and age, deterministically.

The face's apparent age and sex (analysis/age_sex.py, when its models are fetched) put that sex's voices first,
in the catalogue's order (the main voice, then the variant a second person of that sex takes), and nudge the
pitch: younger higher, older lower. The dlib identity embedding, centred on the mean embedding of a set of
faces, is projected onto fixed pseudo-random directions (one per voice, one for pitch, one for speaking rate):
it gives each face its small pitch and rate variation and ranks the voices when the sex is not read, so the
same face always gets the same voice and different faces differ. (Ranking one sex's two voices by identity
too would flip between copies of one photo: the two projections often lie within their noise.) The apparent
age and sex are guesses about appearance and can be wrong; the reason recorded in the Voice says what was
read. A reference recording, when given, instead picks the voice and pitch shift closest to its pitch. A
name picks a voice by hand.
"""
from __future__ import annotations

import json
import zlib
from functools import lru_cache

import numpy as np

from ...analysis.age_sex import AgeSex, age_sex_estimator
from ...analysis.audio_features import median_pitch_hz
from ...analysis.faces import face_analyzer
from ...analysis.wheel_models import fallback_note, model_path
from ...assets import asset
from ...errors import EngineUnavailableError, TavidError
from ...runtime import Runtime
from ...types import Voice
from ..protocols import SpeakerMapper
from .tts.catalog import VoiceCatalog, voice_info

_MAX_FACE_PITCH_ST = 1.5   # the face nudges pitch by at most this many semitones
_MAX_FACE_RATE = 0.05      # and the speaking rate by at most 5 %
_MAX_MATCH_PITCH_ST = 4.0  # a reference recording may move pitch further
_MAX_AGE_PITCH_ST = 0.75   # apparent age nudges pitch by at most this many semitones ...
_PITCH_AGE, _AGE_SPAN = 35.0, 25.0   # ... up below 35 years, down above, fully by 10 and by 60
_SURE_SEX = 0.15           # a face reads as one sex when its probability is this far from 0.5
# espeak's two voices of a sex, for when neither neural voice of that sex loads
_ESPEAK_PAIRS = {"male": ("espeak:en-us+m3", "espeak:en-us+m7"), "female": ("espeak:en-us+f3", "espeak:en-us+f4")}


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


def apparent(image: np.ndarray, box) -> tuple[AgeSex | None, str]:
    """The face's apparent age and sex, or None and why it could not be read."""
    missing = [name for name in ("age", "sex") if model_path(name) is None]
    if missing:
        return None, fallback_note(missing[0])
    try:
        estimator = age_sex_estimator()
    except EngineUnavailableError as e:   # the files are there but do not load (dlib or onnxruntime)
        return None, e.message
    found = estimator.estimate(image, box)
    return (found, "") if found is not None else (None, "the age and sex estimator did not read this face")


def age_pitch(age: float) -> float:
    """Semitones added for an apparent age: a younger face sounds a little higher, an older one lower."""
    return float(np.clip((_PITCH_AGE - age) / _AGE_SPAN, -1.0, 1.0) * _MAX_AGE_PITCH_ST)


def read_sex(face: AgeSex) -> str | None:
    """"male" or "female" when the face reads clearly as one, else None."""
    return face.sex if abs(face.male - 0.5) >= _SURE_SEX else None


def describe_reading(face: AgeSex | None, why_not: str) -> str:
    if face is None:
        return f"apparent age and sex not read ({why_not}); by identity"
    sex = read_sex(face)
    said = f"reads as {sex}" if sex else f"reads as neither clearly male nor female ({face.male:.2f} male)"
    return f"{said}, about {face.age:.0f}" + ("" if sex else "; by identity")


class BuiltinSpeakerMapper(SpeakerMapper):
    name = "builtin-speaker-mapper"

    def __init__(self, catalog: VoiceCatalog, voices: tuple[str, ...] | None = None):
        self.catalog = catalog
        self._voices = voices  # the voices faces are mapped onto; None: the neural voices that load

    def candidate_voices(self) -> tuple[str, ...]:
        """The voices faces are mapped onto: the neural ones that load, and espeak's for a sex they leave out."""
        if self._voices:
            return self._voices
        neural = self.catalog.neural_voices()
        covered = {voice_info(n).sex for n in neural}
        return neural + tuple(v for sex, pair in _ESPEAK_PAIRS.items() if sex not in covered for v in pair)

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
        by_face = reference_audio is None and voice in (None, "", "auto")
        looks, why_not = apparent(image, face.box) if by_face else (None, "")
        reason = describe_reading(looks, why_not)
        if looks is not None:
            sex = read_sex(looks)
            if sex:   # that sex's voices first, in the catalogue's order (joe or heart, then its variant)
                ranking = [n for n in candidates if voice_info(n).sex == sex] + \
                          [n for n in ranking if voice_info(n).sex != sex]
            face_pitch += age_pitch(looks.age)

        if reference_audio is not None:
            audio, sr = reference_audio
            f0 = median_pitch_hz(np.asarray(audio, np.float32).reshape(-1), sr)
            if f0 <= 0:
                raise TavidError("the reference audio has no voiced speech to match", where=f"{where} reference audio",
                                 fix="Give a few seconds of clear speech, or leave the audio input empty.")
            ranking = sorted(candidates, key=lambda name: abs(np.log2(f0 / voice_info(name).median_f0_hz)))
            face_pitch = float(np.clip(12 * np.log2(f0 / voice_info(ranking[0]).median_f0_hz),
                                       -_MAX_MATCH_PITCH_ST, _MAX_MATCH_PITCH_ST))
            source, reason = "reference_audio", f"the recording's pitch, {f0:.0f} Hz"

        if voice and voice != "auto":
            voice_info(voice)  # unknown names fail here, with the list of known ones
            ranking = [voice] + [v for v in ranking if v != voice]
            source, reason = "manual", "named by hand"
        return Voice(
            engine="builtin", preset=ranking[0], embedding=emb,
            pitch_semitones=face_pitch if pitch_semitones is None else float(pitch_semitones),
            rate=face_rate if rate is None else float(rate),
            source=source, alternatives=tuple(ranking[1:]),
            apparent_age=None if looks is None else looks.age, apparent_male=None if looks is None else looks.male,
            reason=f"{reason}: {ranking[0]}")

    def describe(self) -> dict:
        return super().describe() | {"voices": list(self.candidate_voices())}

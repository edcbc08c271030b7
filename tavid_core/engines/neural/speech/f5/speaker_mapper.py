"""The speaker mapper of F5-TTS: a recording of the person (with its transcript) is the voice to imitate;
without one, the built-in speaker mapper's choice for the face is, and F5-TTS imitates that built-in voice
(generator.py makes its prompt), so the face's voice carries over to the cloned one. A voice named by hand
is a built-in voice, as with the built-in engines."""
from __future__ import annotations

import numpy as np

from .....runtime import Runtime
from .....types import Voice, VoicePrompt
from ....protocols import SpeakerMapper
from .prompts import check_recording


class F5SpeakerMapper(SpeakerMapper):
    name = "f5-speaker-mapper"
    family = "neural"

    def __init__(self, faces: SpeakerMapper):
        self.faces = faces

    def map_face(self, image: np.ndarray, *, runtime: Runtime, reference_audio: tuple[np.ndarray, int] | None = None,
                 voice: str = "auto", pitch_semitones: float | None = None, rate: float | None = None,
                 where: str = "face", reference_text: str | None = None) -> Voice:
        if reference_audio is None or (voice and voice != "auto"):
            return self.faces.map_face(image, runtime=runtime, voice=voice, pitch_semitones=pitch_semitones, rate=rate,
                                       where=where)
        audio, sample_rate = reference_audio
        mono = np.asarray(audio, np.float32).reshape(-1)
        check_recording(mono, sample_rate, f"{where} reference audio")
        return Voice(engine="neural", prompt=VoicePrompt(mono, int(sample_rate), reference_text),
                     pitch_semitones=0.0 if pitch_semitones is None else float(pitch_semitones),
                     rate=1.0 if rate is None else float(rate), source="reference_audio")

    def describe(self) -> dict:
        return super().describe() | {"faces": self.faces.describe()}

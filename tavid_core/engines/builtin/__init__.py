"""The zero-download engines: wheel-shipped voices, dlib face analysis and landmark warping."""
from __future__ import annotations

from ...errors import TavidError
from ..protocols import EngineSet
from .face_renderer import BuiltinFaceRenderer
from .motion_mapper import BuiltinMotionMapper
from .speaker_mapper import BuiltinSpeakerMapper
from .speech import BuiltinSpeechGenerator
from .text_encoder import BuiltinTextEncoder
from .tts.catalog import ESPEAK_VOICES, NEURAL_VOICES, VoiceCatalog

VOICE_SETS = {
    "neural": None,  # the neural voices that load (joe, heart), espeak if they cannot
    "espeak": tuple(v.name for v in ESPEAK_VOICES),
}


def load_builtin_engines(voices: str = "neural", render_grid: int = 16) -> EngineSet:
    """All five built-in engines sharing one voice catalogue. `voices` chooses what faces are mapped
    onto ("neural" or "espeak"); `render_grid` is the warp grid spacing in pixels (smaller: finer)."""
    if voices not in VOICE_SETS:
        raise TavidError(f"unknown voice set {voices!r}", where="voices", fix=f"Use one of {', '.join(VOICE_SETS)}.")
    catalog = VoiceCatalog()
    return EngineSet(
        text_encoder=BuiltinTextEncoder(),
        speech_model=BuiltinSpeechGenerator(catalog),
        speaker_mapper=BuiltinSpeakerMapper(catalog, VOICE_SETS[voices]),
        motion_mapper=BuiltinMotionMapper(),
        face_model=BuiltinFaceRenderer(grid_step=render_grid),
    )


def builtin_voice_names() -> tuple[str, ...]:
    """Every voice name the built-in speech engine accepts by name (any other espeak:<voice> works too)."""
    return tuple(v.name for v in NEURAL_VOICES + ESPEAK_VOICES)


__all__ = ["load_builtin_engines", "builtin_voice_names", "VOICE_SETS", "BuiltinTextEncoder", "BuiltinSpeechGenerator",
           "BuiltinSpeakerMapper", "BuiltinMotionMapper", "BuiltinFaceRenderer", "VoiceCatalog"]

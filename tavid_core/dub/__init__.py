"""Dub mode: a real recording of two people (one mix, or one track per person) becomes an ordinary `Speech`
that drives both faces, talking and listening. See dubbing.py for the steps."""
from .dubbing import FIRST_SPEAKERS, LANGUAGES, WORD_MODES, DubResult, DubSettings, dub_speech
from .recording import Recording, Source, load_recording

__all__ = ["FIRST_SPEAKERS", "LANGUAGES", "WORD_MODES", "DubResult", "DubSettings", "Recording", "Source",
           "dub_speech", "load_recording"]

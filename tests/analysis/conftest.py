"""Real speech for the analysis models: sentences spoken by the two default built-in voices."""
from __future__ import annotations

import pytest

SENTENCES = ("The quick brown fox jumps over the lazy dog near the river bank.",
             "Please call Stella and ask her to bring these things with her from the store.",
             "We waited an hour for the last train, and then it rained all the way home.")


@pytest.fixture(scope="session")
def sentences():
    """{voice: [(audio, sample_rate, text)]} for joe (22.05 kHz) and heart (24 kHz)."""
    from tavid_core.engines.builtin.tts.catalog import VoiceCatalog, voice_info
    catalog, out = VoiceCatalog(), {}
    for voice in ("joe", "heart"):
        backend = catalog.backend(voice_info(voice).family)
        out[voice] = [(u.audio, u.sample_rate, text) for text in SENTENCES
                      for u in [backend.synthesize(text, voice=voice, rate=1.0, pitch=1.0, seed=1)]]
    return out

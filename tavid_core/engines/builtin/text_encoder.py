"""Built-in text encoder: tidies each turn's text for speech and adds espeak-ng IPA phonemes."""
from __future__ import annotations

import re
from dataclasses import replace

from ...runtime import Runtime
from ...types import Backchannel, Dialogue, EncodedText, EncodedTurn
from ..protocols import TextEncoder

_REPLACEMENTS = (("’", "'"), ("‘", "'"), ("“", '"'), ("”", '"'), ("&", " and "), ("…", "..."))


def normalize_text(text: str) -> str:
    """Plain quotes, single spaces, and a closing punctuation mark so every turn ends with a cadence."""
    for old, new in _REPLACEMENTS:
        text = text.replace(old, new)
    text = " ".join(text.split())
    if text and not re.search(r"[.!?]['\")\]]*$", text):
        text = text.rstrip(",;:-—") + "."
    return text


def renumber_backchannels(backchannels: tuple[Backchannel, ...], text: str) -> tuple[Backchannel, ...]:
    """The backchannels of `text` with their places counted in words of `normalize_text(text)`
    ("Tom&Jerry" becomes three words)."""
    words = text.split()
    total = len(normalize_text(text).split())

    def place(after: int) -> int:
        return min(len(normalize_text(" ".join(words[:after])).split()), total) if after else 0

    return tuple(replace(b, after_words=place(b.after_words)) for b in backchannels)


class BuiltinTextEncoder(TextEncoder):
    name = "builtin-text"

    def __init__(self, language: str = "en-us", phonemes: bool = True):
        self.language = language
        self.phonemes = phonemes

    def encode(self, dialogue: Dialogue, *, runtime: Runtime) -> EncodedText:
        from .tts.espeak_backend import phonemize
        turns = []
        for turn in runtime.steps(dialogue.turns, len(dialogue.turns), "text"):
            text = normalize_text(turn.text)
            turns.append(EncodedTurn(
                speaker=turn.speaker, text=text, pause_before_s=turn.pause_before_s, tags=turn.tags,
                phonemes=phonemize(text, self.language) if self.phonemes else None,
                backchannels=renumber_backchannels(turn.backchannels, turn.text)))
        return EncodedText(dialogue=dialogue, turns=tuple(turns), encoder=self.name,
                           info={"language": self.language})

    def describe(self) -> dict:
        return super().describe() | {"language": self.language}

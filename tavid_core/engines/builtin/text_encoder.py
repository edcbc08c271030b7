"""Built-in text encoder: tidies each turn's text for speech and adds espeak-ng IPA phonemes."""
from __future__ import annotations

from ...runtime import Runtime
from ...types import Dialogue, EncodedText, EncodedTurn
from ..protocols import TextEncoder
from ..shared.text import check_readable, normalize_text, renumber_backchannels


class BuiltinTextEncoder(TextEncoder):
    name = "builtin-text"

    def __init__(self, language: str = "en-us", phonemes: bool = True):
        self.language = language
        self.phonemes = phonemes

    def encode(self, dialogue: Dialogue, *, runtime: Runtime) -> EncodedText:
        from ..shared.espeak import phonemize
        turns = []
        for number, turn in runtime.steps(enumerate(dialogue.turns, start=1), len(dialogue.turns), "text"):
            text = normalize_text(turn.text)
            check_readable(text, turn, dialogue.speakers[turn.speaker], number, self.language)
            turns.append(EncodedTurn(
                speaker=turn.speaker, text=text, pause_before_s=turn.pause_before_s, tags=turn.tags,
                phonemes=phonemize(text, self.language) if self.phonemes else None,
                backchannels=renumber_backchannels(turn.backchannels, turn.text)))
        return EncodedText(dialogue=dialogue, turns=tuple(turns), encoder=self.name,
                           info={"language": self.language})

    def describe(self) -> dict:
        return super().describe() | {"language": self.language}

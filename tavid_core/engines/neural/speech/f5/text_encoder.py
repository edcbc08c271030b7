"""F5-TTS's text encoder engine: every turn tidied as for any voice and checked against F5-TTS's front end
(text.py) before any speech is made, so a turn in Chinese without the Chinese tools, or with symbols the
vocabulary lacks, is named by its script line."""
from __future__ import annotations

import logging

from .....errors import TavidError
from .....runtime import Runtime
from .....types import Dialogue, EncodedText, EncodedTurn
from ....protocols import TextEncoder
from ....shared.text import check_readable, normalize_text, renumber_backchannels
from .text import F5TextFrontEnd

log = logging.getLogger("tavid")
LANGUAGES = "multilingual"   # F5TTS_v1_Base reads English and Chinese; other scripts by their characters


class F5TextEncoder(TextEncoder):
    name = "f5-text"
    family = "neural"

    def __init__(self, front: F5TextFrontEnd):
        self.front = front

    def encode(self, dialogue: Dialogue, *, runtime: Runtime) -> EncodedText:
        turns = []
        for number, turn in runtime.steps(enumerate(dialogue.turns, start=1), len(dialogue.turns), "text"):
            text = normalize_text(turn.text)
            who = dialogue.speakers[turn.speaker]
            check_readable(text, turn, who, number, LANGUAGES)
            place = f"line {turn.line}" if turn.line else f"turn {number}"
            try:
                unknown = self.front.unknown(text)
            except TavidError as e:
                raise e.located(place) from None
            if unknown:
                log.warning("%s: F5-TTS's vocabulary lacks %s; they are read as a pause", place,
                            " ".join(repr(s) for s in unknown))
            turns.append(EncodedTurn(speaker=turn.speaker, text=text, pause_before_s=turn.pause_before_s,
                                     tags=turn.tags, backchannels=renumber_backchannels(turn.backchannels, turn.text)))
        return EncodedText(dialogue=dialogue, turns=tuple(turns), encoder=self.name,
                           info={"vocabulary": len(self.front.vocab)})

    def describe(self) -> dict:
        return super().describe() | {"vocabulary": len(self.front.vocab)}

"""The longest dialogue a run accepts. Memory stays flat with length (frames stream into the file),
so the limit is about time: a script pasted twice by mistake should stop in seconds, not after an
hour of rendering. It is checked twice: on the text before any speech exists, with a speaking rate
faster than any voice's, and on the speech itself."""
from __future__ import annotations

from .errors import TavidError
from .types import Dialogue, Voice

FASTEST_CHARS_PER_S = 30.0  # about twice a brisk speaker: no voice at speed 1 gets through text faster


def shortest_speech_s(dialogue: Dialogue, speed: float = 1.0) -> float:
    """A lower bound on how long the dialogue's speech lasts: its text at the fastest rate, plus its pauses."""
    characters = sum(len(turn.text) for turn in dialogue.turns)
    pauses = sum(turn.pause_before_s or 0.0 for turn in dialogue.turns)
    return characters / (FASTEST_CHARS_PER_S * speed) + pauses


def check_length(seconds: float, max_minutes: float, where: str, at_least: bool = False) -> None:
    if seconds > max_minutes * 60.0:
        amount = f"at least {seconds / 60:.1f}" if at_least else f"{seconds / 60:.1f}"
        raise TavidError(f"the dialogue's speech lasts {amount} minutes, over the limit of {max_minutes:g}",
                         where=where, fix="Split the script into parts, or raise the limit (max_minutes of the "
                                          "Speech Generator node; tavid generate --max-minutes).")


def check_script_length(dialogue: Dialogue, voices: tuple[Voice, Voice], max_minutes: float,
                        where: str = "script") -> None:
    """Refuse, before any speech is made, a dialogue that is too long even at the faster voice's rate."""
    fastest = max(voice.rate for voice in voices)
    check_length(shortest_speech_s(dialogue, fastest), max_minutes, where, at_least=True)

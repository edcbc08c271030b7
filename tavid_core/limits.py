"""Allowed values of the generation settings, shared by the library, the CLI and the nodes, and the check of
a dialogue's length against max_minutes. Nothing heavy is imported here, so `tavid --help` stays instant."""
from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import TavidError

if TYPE_CHECKING:
    from .types import Dialogue, Voice

MIN_SIZE, MAX_SIZE = 64, 2048      # pixels per face, even
MIRROR_MODES = ("auto", "never")   # auto: mirror a photo whose face is turned away from the partner
SPEAKERS = ("a", "b")              # suffixes of the per-speaker settings
PITCH_SHIFT_RANGE = (-6.0, 6.0)    # semitones added to a mapped voice
SPEED_RANGE = (0.5, 2.0)           # times the mapped speaking rate
SEED_RANGE = (0, 2**64 - 1)        # ComfyUI's own seed range (KSampler), so seeds copy across nodes
STEPS_RANGE = (1, 1000)            # sampling steps of neural engines
MAX_MINUTES = 15.0                 # default longest dialogue (minutes of speech); raise it with --max-minutes
MAX_MINUTES_RANGE = (0.1, 240.0)   # the memory stays flat, so the limit guards time, not memory
MAX_HEADER_BYTES = 100 * 2**20     # largest safetensors header read (safetensors caps it near 100 MB too)
MAX_NAME_BYTES = 200               # longest part of an output file name, leaving room for counter and suffix

def is_whole(value) -> bool:
    """A whole number as a setting takes it: an int, and not a bool (True is 1 to Python, not to a user)."""
    return isinstance(value, int) and not isinstance(value, bool)



# Script limits. A turn is one line of a script; the built-in voices speak about 18 characters a
# second, so 4,000 characters is nearly four minutes of one person talking, far beyond a conversational
# turn, and the joe voice alone needs about 20 s of CPU for it (10,000 took 45 s, before any video).
# Longer text is almost always a pasted document: split it into several turns of the same speaker.
# parse_script(max_turn_chars=...) takes another limit, or None for none.
MAX_TURN_CHARS = 4000
MAX_PAUSE_S = 60.0                 # longest silence between two turns ([pause:...], summed when repeated)

# Precisions a neural engine may run or train in; "auto": bf16 (or fp16) on a GPU, fp32 elsewhere.
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
ODE_METHODS = ("euler", "midpoint")   # solvers of the flow-matching engines (speech, motion)

# Names a face model's sampler and scheduler may take; "auto" lets the engine choose.
SAMPLERS = ("auto", "ddim", "euler", "euler_ancestral", "dpmpp_2m", "unipc", "flow_euler")
SCHEDULERS = ("auto", "normal", "karras", "exponential", "sgm_uniform", "simple")

# The longest dialogue a run accepts (max_minutes). Memory stays flat with length (frames stream into the
# file), so the limit is about time: a script pasted twice by mistake should stop in seconds, not after an
# hour of rendering. It is checked twice: on the text before any speech exists, with a speaking rate
# faster than any voice's, and on the speech itself.
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

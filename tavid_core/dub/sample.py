"""A sample conversation recording that needs no file: the built-in voices of the two sample portraits speak a
short dialogue once (seeded, so always the same sound), as one mix or as each person's own track. It lets a dub
graph run as it opens; its words are SAMPLE_SCRIPT, whose timeline is also the truth a dub of it should find."""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..dialogue import parse_script
from ..errors import TavidError
from ..examples import sample_portrait
from ..runtime import StandaloneRuntime
from ..types import Speech

SAMPLE_SCRIPT = """A: Morning! Did you get the telescope working last night?
B: I did, finally. The mount was loose, that was the whole problem.
A: So what did you see?
B: Saturn. The rings were so sharp I thought it was a sticker on the lens."""
PARTS = ("both voices", "A's track", "B's track")
SEED = 7


@lru_cache(maxsize=1)
def sample_speech() -> Speech:
    from ..engines.builtin import load_builtin_engines
    engines, runtime = load_builtin_engines(), StandaloneRuntime(device="cpu", quiet=True)
    voices = tuple(engines.speaker_mapper.map_face(sample_portrait(name), runtime=runtime)
                   for name in ("grace_hopper", "astronaut"))
    text = engines.text_encoder.encode(parse_script(SAMPLE_SCRIPT), runtime=runtime)
    return engines.speech_model.generate(text, voices, runtime=runtime, seed=SEED)


def sample_recording(part: str = PARTS[0]) -> tuple[np.ndarray, int]:
    """(float32 [1, N], rate): the sample conversation's mix, or A's or B's own track (see PARTS)."""
    if part not in PARTS:
        raise TavidError(f"no sample part {part!r}", where="recording", fix=f"Use one of {', '.join(PARTS)}.")
    speech = sample_speech()
    audio = speech.mix if part == PARTS[0] else speech.tracks[PARTS.index(part) - 1]
    return np.asarray(audio, np.float32).reshape(1, -1).copy(), speech.sample_rate

"""Which turns of a transcript are which turns heard in the recording.

Dynamic programming over both sequences in order: a run of script turns of one speaker takes a run of
heard turns of the same person (a pause can split a turn, and one person's consecutive script lines can run
together), at a cost that grows when the text would have to be spoken implausibly fast or slowly there; a
heard turn may stay unmatched (a laugh, a cough, an unscripted word) and a script turn may be missing, each
at a price. With a mix, the two voices are tried both ways round, which also says which voice is A.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import TavidError
from .turns import Stretch

CHARS_PER_S = 16.0           # a usual speaking rate, letters and spaces
FREE_RATE = math.log(1.8)    # rates within this factor of it cost nothing
RATE_COST = 3.0              # per unit of log rate beyond that
SKIP_HEARD = 1.0             # leaving a heard turn unmatched, plus per second of it
SKIP_HEARD_PER_S = 0.5
SKIP_SCRIPT = 4.0            # a script turn found nowhere
MAX_GROUP = 4                # longest run of turns matched as one
MAX_MISSING = 0.2            # more script turns than this share unmatched: the transcript is of something else


@dataclass(frozen=True)
class Match:
    script: tuple[int, ...]      # indices of script turns
    heard: tuple[int, ...]       # indices of heard turns


def _rate_cost(chars: int, seconds: float) -> float:
    rate = chars / max(seconds, 0.05)
    return RATE_COST * max(0.0, abs(math.log(rate / CHARS_PER_S)) - FREE_RATE)


def _align(script: list[tuple[int, str]], heard: list[Stretch], voice_of: tuple[int, int]) -> tuple[float, list]:
    """(cost, matches) for script [(speaker, text)] and heard turns whose voice v is script speaker voice_of[v]."""
    m, n = len(script), len(heard)
    inf = float("inf")
    cost = [[inf] * (n + 1) for _ in range(m + 1)]
    back: list[list] = [[None] * (n + 1) for _ in range(m + 1)]
    cost[0][0] = 0.0
    for i in range(m + 1):
        for j in range(n + 1):
            here = cost[i][j]
            if here == inf:
                continue
            if j < n:
                c = here + SKIP_HEARD + SKIP_HEARD_PER_S * heard[j].duration_s
                if c < cost[i][j + 1]:
                    cost[i][j + 1], back[i][j + 1] = c, (i, j, None)
            if i < m:
                c = here + SKIP_SCRIPT
                if c < cost[i + 1][j]:
                    cost[i + 1][j], back[i + 1][j] = c, (i, j, None)
            for g in range(1, MAX_GROUP + 1):
                if i + g > m or script[i + g - 1][0] != script[i][0]:
                    break
                chars = sum(len(t) for _, t in script[i:i + g])
                for k in range(1, MAX_GROUP + 1):
                    if j + k > n or voice_of[heard[j + k - 1].speaker] != script[i][0]:
                        break
                    seconds = sum(h.duration_s for h in heard[j:j + k])
                    c = here + _rate_cost(chars, seconds) + 0.1 * (g + k - 2)
                    if c < cost[i + g][j + k]:
                        cost[i + g][j + k], back[i + g][j + k] = c, (i, j, Match(tuple(range(i, i + g)),
                                                                                 tuple(range(j, j + k))))
    matches, i, j = [], m, n
    while (i, j) != (0, 0):
        pi, pj, match = back[i][j]
        if match is not None:
            matches.append(match)
        i, j = pi, pj
    return cost[m][n], matches[::-1]


def match_script(script: list[tuple[int, str]], heard: list[Stretch], *, fixed: bool,
                 where: str) -> tuple[list[Match], tuple[int, int]]:
    """The matches and which script speaker each heard voice is (voice_of). `fixed`: voice 0 is A (one track
    per person); else both ways round are tried."""
    options = [(0, 1)] if fixed else [(0, 1), (1, 0)]
    best = min((_align(script, heard, v) + (v,) for v in options), key=lambda r: r[0])
    _, matches, voice_of = best
    found = sum(len(m.script) for m in matches)
    if found < len(script) * (1 - MAX_MISSING):
        raise TavidError(f"the transcript does not match the recording: only {found} of its {len(script)} turns fit "
                         f"the {len(heard)} turns heard in it", where=where,
                         fix="Check that the script is this recording's (and, with two tracks, that A's track is "
                             "A's), or leave it out: the words are then heard by Whisper.")
    return matches, voice_of

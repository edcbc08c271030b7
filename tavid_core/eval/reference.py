"""What the video was meant to contain: who speaks when (a timeline) and what each person says.

A timeline comes from the JSON `tavid generate` writes beside its video (or from a `Speech`); the
words alone can come from a dialogue script. Either is optional: without them evaluation finds the
speakers from the faces and skips the measures that need a reference.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

from ..errors import TavidError
from ..types import Dialogue, Segment, Speech, Word


@dataclass(frozen=True)
class Reference:
    segments: tuple[Segment, ...] = ()           # empty: no timeline
    texts: tuple[str, str] | None = None         # everything A says, everything B says, in order (no backchannels)
    source: str = "none"
    names: tuple[str, str] | None = None         # the speakers' names, when known

    @property
    def has_timeline(self) -> bool:
        return bool(self.segments)

    def with_texts(self, dialogue: Dialogue, source: str) -> "Reference":
        texts = tuple(" ".join(t.text for t in dialogue.turns if t.speaker == p) for p in (0, 1))
        return Reference(self.segments, texts, f"{self.source} + {source}" if self.segments else source,
                         self.names or tuple(dialogue.speakers))


def _texts(segments) -> tuple[str, str]:
    # Backchannels are left out, as a script's turns leave them out (with_texts): they sound over the
    # partner's turn, which the recogniser decodes as the partner's, and recognisers drop such fillers
    # as they please, so counting them would measure neither voice.
    return tuple(" ".join(s.text for s in segments if s.speaker == p and not s.is_backchannel) for p in (0, 1))


def _tags(item: dict) -> tuple[str, ...]:
    tags = item.get("tags")
    return tuple(str(t) for t in tags) if isinstance(tags, list) else ()


def _words(item: dict) -> tuple[Word, ...]:
    """The turn's word times, when the JSON has them (tavid generate writes them); entries that are not
    {"word", "start", "end"} are skipped."""
    found = item.get("words")
    out = []
    for w in found if isinstance(found, list) else ():
        try:
            out.append(Word(str(w["word"]), float(w["start"]), float(w["end"])))
        except (KeyError, TypeError, ValueError):
            continue
    return tuple(out)


def timed_words(reference: Reference, person: int) -> list[tuple[str, float]]:
    """The person's words on the timeline as (normalised word, start), backchannels left out."""
    return [(token, w.start_s) for s in reference.segments if s.speaker == person and not s.is_backchannel
            for w in s.words for token in words(w.text)]


def reference_from_speech(speech: Speech) -> Reference:
    return Reference(tuple(speech.timeline), _texts(speech.timeline), "speech timeline")


def load_timeline(path: str) -> Reference:
    """The timeline JSON of `tavid generate` (or any JSON with a "timeline" list of
    {"speaker": 0|1, "start": s, "end": s, "text": "...", optional "tags": [...]}); "tags" keeps
    backchannels apart from turns."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise TavidError("no such timeline file", where=path) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise TavidError(f"not a JSON file ({e})", where=path) from None
    items = data.get("timeline") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise TavidError('has no "timeline" list of turns', where=path,
                         fix="Pass the JSON that tavid generate wrote beside the video.")
    segments = []
    for i, item in enumerate(items):
        try:
            speaker, start, end = int(item["speaker"]), float(item["start"]), float(item["end"])
        except (KeyError, TypeError, ValueError):
            raise TavidError(f'turn {i} needs numeric "speaker", "start" and "end"', where=path) from None
        if speaker not in (0, 1) or not (0 <= start < end):
            raise TavidError(f"turn {i} has speaker {speaker} from {start} s to {end} s; speakers are 0 and 1 "
                             "and a turn must end after it starts", where=path)
        segments.append(Segment(turn=i, speaker=speaker, start_s=start, end_s=end, text=str(item.get("text", "")),
                                words=_words(item), tags=_tags(item)))
    segments.sort(key=lambda s: s.start_s)
    names = data.get("speakers")
    names = tuple(map(str, names)) if isinstance(names, list) and len(names) == 2 else None
    return Reference(tuple(segments), _texts(segments), path, names)


def words(text: str) -> list[str]:
    """Lower-case words without punctuation, as a recogniser writes them ("don't" stays one word), numbers
    spelled out ("8" and "eight" are the same word to a listener)."""
    found = re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text.lower().replace("’", "'"))
    return [w for token in found for w in (spelled(token) if token.isdigit() else [token])]


_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
         "seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def spelled(number: str) -> list[str]:
    """The words of a whole number below a million ("21" -> ["twenty", "one"]); larger ones as they are."""
    n = int(number)
    if n >= 1_000_000:
        return [number]
    if n >= 1000:
        return spelled(str(n // 1000)) + ["thousand"] + (spelled(str(n % 1000)) if n % 1000 else [])
    if n >= 100:
        return [_ONES[n // 100], "hundred"] + (spelled(str(n % 100)) if n % 100 else [])
    if n >= 20:
        return [_TENS[n // 10]] + ([_ONES[n % 10]] if n % 10 else [])
    return [_ONES[n]]

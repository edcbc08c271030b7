"""A recording of two people becomes an ordinary `Speech`: who speaks when, each turn's words and phonemes,
and the features the built-in speech engine writes, so every motion mapper, face engine, Compose and the
eval take it unchanged.

    who speaks    two tracks: each person's own speech, bleed discounted (analysis/voice_activity.py);
                  a mix: two voices told apart by the speaker encoder (diarize.py)
    turns         stretches joined over short pauses, backchannels marked (turns.py)
    words         a transcript: matched to the turns (script_match.py) and force-aligned; none: Whisper's
                  words, force-aligned again for phonemes (words.py); not English, or nothing to read the
                  words with: none, and the mouths follow the loudness
    Speech        tracks at 16 kHz (the recording split by who speaks; the mix is their sum), features
                  of each person's part levelled as the built-in voices are (speech.py)

Every fallback is said in `DubResult.notes`, which the video's JSON report carries.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from ..analysis.voice_activity import RATE, levels, own_speech
from ..errors import EngineUnavailableError, TavidError
from ..runtime import Runtime
from ..types import BACKCHANNEL, Dialogue, Segment, Speech
from .recording import SAMPLE_RATE, Recording
from .script_match import match_script
from .speech import assemble
from .turns import Stretch, turns_of
from .words import TurnWords, aligned, heard_turn, heard_words, sounds_english

log = logging.getLogger("tavid")

FIRST_SPEAKERS = ("a", "b")
WORD_MODES = ("auto", "energy")
LANGUAGES = ("en", "other")
MIN_SEGMENT_S = 0.02   # shorter turns (a split that left nothing) are dropped


@dataclass(frozen=True)
class DubSettings:
    first_speaker: str = "a"   # a mix without a transcript: the voice heard first is this person
    language: str = "en"       # "other": no words (Whisper and the aligner read English only): mouths follow loudness
    words: str = "auto"        # "energy": no words at all, mouths follow loudness
    max_minutes: float = 60.0  # longest recording accepted

    def check(self) -> None:
        for name, value, allowed in (("first_speaker", self.first_speaker, FIRST_SPEAKERS),
                                     ("language", self.language, LANGUAGES), ("words", self.words, WORD_MODES)):
            if value not in allowed:
                raise TavidError(f"unknown {name.replace('_', ' ')} {value!r}", where=name,
                                 fix=f"Use one of {', '.join(allowed)}.")
        if not (0.1 <= self.max_minutes <= 240.0):
            raise TavidError(f"the longest recording in minutes must be between 0.1 and 240, got {self.max_minutes:g}",
                             where="max_minutes")


@dataclass
class DubResult:
    speech: Speech
    notes: list[str] = field(default_factory=list)    # what was used and every fallback, in words
    method: dict = field(default_factory=dict)         # the same as keys, for the JSON report


def _note(result: DubResult, text: str) -> None:
    log.warning(text)
    result.notes.append(text)


def _who_speaks(recording: Recording, runtime: Runtime, result: DubResult) -> np.ndarray:
    """[2, T] speech masks at RATE Hz, voice 0 and voice 1."""
    if not recording.is_mix:
        result.method["who_speaks"] = "own tracks"
        masks = own_speech(np.stack([levels(t, SAMPLE_RATE) for t in runtime.steps(
            recording.tracks, 2, "who speaks (tracks)")]))
        for person in (0, 1):
            if not masks[person].any():
                _note(result, f"{'AB'[person]}'s track holds no speech of {'AB'[person]}'s own: "
                              f"{'AB'[person]} only listens")
        return masks
    from ..analysis.speaker_encoder import speaker_encoder
    from .diarize import diarize
    try:
        encoder = speaker_encoder()
    except EngineUnavailableError as e:
        raise TavidError(f"telling two voices apart in one recording needs the speaker encoder ({e.message})",
                         where=recording.sources[0].where,
                         fix=f"{e.fix or ''} Or give one track per person.".strip()) from None
    result.method["who_speaks"] = "speaker encoder (resemblyzer), two voices"
    masks = diarize(recording.tracks[0], encoder, runtime=runtime, where=recording.sources[0].where)
    if not masks[1].any():
        _note(result, "only one voice was heard in the recording: all its speech is given to the first person, "
                      "the other only listens")
    return masks


def _relabel(turns: list[Stretch], voice_of: tuple[int, int]) -> list[Stretch]:
    return [Stretch(voice_of[t.speaker], t.start_s, t.end_s, t.backchannel) for t in turns]


def _audio_of(recording: Recording, person: int) -> np.ndarray:
    return recording.tracks[0 if recording.is_mix else person]


def _word_tools(result: DubResult, need_whisper: bool):
    """(aligner or None, transcriber or None), with a note for each that is missing."""
    from .forced_aligner import aligner_unavailable, forced_aligner
    aligner = transcriber = None
    why = aligner_unavailable()
    if why is None:
        aligner = forced_aligner()
    else:
        _note(result, f"no phonemes: {why}; mouths follow the loudness")
    if need_whisper:
        from ..analysis.transcriber import transcriber as whisper
        from ..analysis.transcriber import transcriber_unavailable
        why = transcriber_unavailable()
        if why is None:
            transcriber = whisper()
        else:
            _note(result, f"no words: {why}; mouths follow the loudness")
    return aligner, transcriber


Entry = tuple   # (Stretch, TurnWords or None, index of the script turn or None)


def _scripted(recording: Recording, turns: list[Stretch], dialogue: Dialogue, runtime: Runtime,
              result: DubResult) -> list[Entry]:
    """The turns as the script's people say them, matched turns with the script's words placed."""
    spoken = [t for t in turns if not t.backchannel]
    script = [(t.speaker, t.text) for t in dialogue.turns]
    matches, voice_of = match_script(script, spoken, fixed=not recording.is_mix, where="transcript")
    result.method["words"] = "transcript, forced alignment (pocketsphinx)"
    turns = _relabel(turns, voice_of)
    spoken = [t for t in turns if not t.backchannel]
    aligner, _ = _word_tools(result, need_whisper=False)
    entries, failed = [], 0
    for match in runtime.steps(matches, len(matches), "words placed"):
        heard = [spoken[j] for j in match.heard]
        texts = [dialogue.turns[i].text for i in match.script]
        merged = Stretch(heard[0].speaker, heard[0].start_s, heard[-1].end_s)
        placed = None if aligner is None else aligned(_audio_of(recording, merged.speaker), merged.start_s,
                                                       merged.end_s, " ".join(texts), aligner)
        failed += aligner is not None and placed is None
        entries += [(piece, words, i) for i, (piece, words) in zip(match.script, _split(merged, texts, placed))]
    if matches and failed > len(matches) * 0.3:
        raise TavidError(f"the transcript's words could not be placed in {failed} of {len(matches)} turns: it does "
                         "not match the recording", where="transcript",
                         fix="Check that the script is this recording's, or leave it out: the words are then "
                             "heard by Whisper.")
    matched = {j for m in matches for j in m.heard}
    entries += [(t, None, None) for j, t in enumerate(spoken) if j not in matched]
    return entries + [(t, None, None) for t in turns if t.backchannel]


def _split(merged: Stretch, texts: list[str], placed: TurnWords | None) -> list[tuple[Stretch, TurnWords]]:
    """One heard span that holds several script turns of one person, cut at the aligned words."""
    if placed is None:
        return [(merged, TurnWords(" ".join(texts), (), ()))] if len(texts) == 1 else [
            (Stretch(merged.speaker, merged.start_s + (merged.end_s - merged.start_s) * k / len(texts),
                     merged.start_s + (merged.end_s - merged.start_s) * (k + 1) / len(texts)),
             TurnWords(t, (), ())) for k, t in enumerate(texts)]
    from .forced_aligner import word_tokens
    out, at = [], 0
    for k, text in enumerate(texts):
        count = len(word_tokens(text))
        words = placed.words[at:at + count]
        at += count
        start = merged.start_s if k == 0 or not words else words[0].start_s
        end = merged.end_s if k == len(texts) - 1 or not words else words[-1].end_s
        phones = tuple(p for p in placed.phones if start <= p.start_s < end)
        out.append((Stretch(merged.speaker, start, max(end, start)), TurnWords(text, words, phones)))
    return out


def _heard(recording: Recording, turns: list[Stretch], runtime: Runtime, result: DubResult) -> list[Entry]:
    """The turns with the words Whisper hears in them."""
    aligner, transcriber = _word_tools(result, need_whisper=True)
    if transcriber is None:
        return [(t, None, None) for t in turns]
    result.method["words"] = "Whisper tiny.en" + (", forced alignment (pocketsphinx)" if aligner else "")
    found = {}
    for person in (0, 1):
        mine = [k for k, t in enumerate(turns) if t.speaker == person]
        spans = [(turns[k].start_s, turns[k].end_s) for k in mine]
        heard = heard_words(_audio_of(recording, person), spans, transcriber, runtime.steps) if spans else []
        found.update(zip(mine, heard))
    if not sounds_english(list(found.values())):
        _note(result, "the speech does not sound like English to Whisper tiny.en: no words, mouths follow the "
                      "loudness")
        result.method["words"] = "none (not English)"
        return [(t, None, None) for t in turns]
    return [(t, heard_turn(_audio_of(recording, t.speaker), t.start_s, t.end_s, found[k], aligner), None)
            for k, t in enumerate(turns)]


def _segments(entries: list[Entry], dialogue: Dialogue | None) -> list[Segment]:
    """The timeline: turns numbered in order, each backchannel answering the partner's turn it falls in (with the
    script's words for it, in order, when that turn is scripted)."""
    entries = sorted(entries, key=lambda e: (e[0].start_s, e[0].speaker))
    segments, hosts = [], []
    entries = [e for e in entries if e[0].duration_s >= MIN_SEGMENT_S]
    for stretch, found, script_turn in entries:
        if stretch.backchannel:
            continue
        tags = dialogue.turns[script_turn].tags if script_turn is not None else ()
        hosts.append((stretch, script_turn))
        segments.append(Segment(turn=len(hosts) - 1, speaker=stretch.speaker, start_s=stretch.start_s,
                                end_s=stretch.end_s, text=found.text if found else "",
                                words=found.words if found else (), phones=found.phones if found else (),
                                tags=tuple(tags)))
    said: dict[int, int] = {}
    for stretch, found, _ in entries:
        if not stretch.backchannel:
            continue
        host = max((k for k, (h, _) in enumerate(hosts) if h.speaker != stretch.speaker
                    and h.start_s <= stretch.start_s), default=0)
        text = found.text if found else ""
        script_turn = hosts[host][1] if hosts else None
        if script_turn is not None:
            marks = dialogue.turns[script_turn].backchannels
            if said.get(host, 0) < len(marks):
                text = marks[said.get(host, 0)].text
                said[host] = said.get(host, 0) + 1
        segments.append(Segment(turn=host, speaker=stretch.speaker, start_s=stretch.start_s, end_s=stretch.end_s,
                                text=text, tags=(BACKCHANNEL,)))
    return sorted(segments, key=lambda s: (s.start_s, s.speaker))


def dub_speech(recording: Recording, dialogue: Dialogue | None = None, settings: DubSettings = DubSettings(), *,
               runtime: Runtime) -> DubResult:
    """The Speech of a two-person recording (see the module docstring)."""
    settings.check()
    result = DubResult(speech=None)
    result.method["input"] = "a mix" if recording.is_mix else "one track per person"
    masks = _who_speaks(recording, runtime, result)
    turns = turns_of(masks, recording.duration_s)
    if settings.words == "energy" or settings.language != "en":
        result.method["words"] = "none: mouths follow the loudness"
        if settings.language != "en":
            _note(result, "not English: no words or phonemes (the recogniser and the aligner read English only); "
                          "mouths follow the loudness")
        dialogue = None
    if recording.is_mix and settings.first_speaker == "b" and dialogue is None:
        turns = _relabel(turns, (1, 0))
    if dialogue is not None:
        entries = _scripted(recording, turns, dialogue, runtime, result)
    elif settings.words == "energy" or settings.language != "en":
        entries = [(t, None, None) for t in turns]
    else:
        entries = _heard(recording, turns, runtime, result)
    segments = _segments(entries, dialogue)
    if not segments:
        raise TavidError("no speech was found in the recording", where=recording.sources[0].where,
                         fix="Check that the right file was given and that it holds speech.")
    result.speech = assemble(recording, segments, runtime=runtime)
    result.method["turns"] = sum(not s.is_backchannel for s in segments)
    result.method["backchannels"] = sum(s.is_backchannel for s in segments)
    return result

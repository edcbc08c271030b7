"""A conversation that already exists as sound: one mixed recording of both people, or one track per person,
from files (any format and rate PyAV reads) or from arrays (ComfyUI's AUDIO).

What is analysed is a mono 16 kHz copy of each source, decoded as it streams in; what the video carries is
the sources themselves (media/soundtrack.py), untouched.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..errors import TavidError
from ..media.audio import load_mono, resample, too_long
from ..media.soundtrack import Soundtrack, array_soundtrack, file_soundtrack
from ..runtime import Runtime

SAMPLE_RATE = 16000
SILENT_DBFS = -60.0     # a source whose loudest 100 ms stays below this holds no speech


@dataclass(frozen=True, eq=False)
class Source:
    """One file, or float audio [C, N] at `rate`; `where` names it in messages (a path, a node field)."""

    where: str
    path: str | None = None
    audio: np.ndarray | None = None
    rate: int | None = None

    @classmethod
    def of(cls, value, where: str) -> "Source":
        """A path, a (audio, rate) pair, or a Source."""
        if isinstance(value, Source):
            return value
        if isinstance(value, (str, os.PathLike)):
            return cls(where=where, path=os.fspath(value))
        try:
            audio, rate = value
        except (TypeError, ValueError):
            raise TavidError("not an audio file or an (audio, sample rate) pair", where=where) from None
        audio = np.atleast_2d(np.asarray(audio, np.float32))
        if audio.ndim != 2 or audio.shape[1] == 0 or not np.all(np.isfinite(audio)):
            raise TavidError(f"expected finite audio [channels, samples], got shape {audio.shape}", where=where)
        return cls(where=where, audio=audio, rate=int(rate))


@dataclass(frozen=True, eq=False)
class Recording:
    """The sources (1: a mix, 2: A's and B's own tracks) and their mono 16 kHz copies `[S, N]`."""

    sources: tuple[Source, ...]
    tracks: np.ndarray

    @property
    def is_mix(self) -> bool:
        return len(self.sources) == 1

    @property
    def duration_s(self) -> float:
        return self.tracks.shape[1] / SAMPLE_RATE

    def soundtrack(self, seconds: float | None = None) -> Soundtrack:
        """What the video carries, `seconds` long (None: as long as the longest source given as audio): the
        sources as they are (two tracks summed)."""
        if seconds is None:
            seconds = max((s.audio.shape[1] / s.rate for s in self.sources if s.audio is not None),
                          default=self.duration_s)
        if all(s.path for s in self.sources):
            return file_soundtrack([s.path for s in self.sources], seconds, [s.where for s in self.sources])
        return array_soundtrack([(s.audio, s.rate) for s in self.sources], seconds)


def _mono(source: Source, max_seconds: float, runtime: Runtime | None) -> np.ndarray:
    if source.path is not None:
        return load_mono(source.path, SAMPLE_RATE, max_seconds, source.where, runtime)
    seconds = source.audio.shape[1] / source.rate
    if seconds > max_seconds:
        raise too_long(seconds, max_seconds, source.where)
    return resample(source.audio.mean(axis=0), source.rate, SAMPLE_RATE)


def _silent(track: np.ndarray) -> bool:
    from ..analysis.voice_activity import levels
    level = levels(track, SAMPLE_RATE)
    return len(level) == 0 or level.max() < SILENT_DBFS + 1.0


def _refuse_silence(where: str) -> None:
    raise TavidError("the recording is silent: nobody speaks in it", where=where,
                     fix="Check that the right file (and channel) was given and that it is not muted.")


def load_recording(mix=None, a=None, b=None, *, max_minutes: float = 60.0, runtime: Runtime | None = None,
                   names: tuple[str, str, str] | None = None) -> Recording:
    """A Recording of one mix, or of A's and B's own tracks (paths, or (audio, rate) pairs: both of one kind).
    `names` (mix, A, B) name them in messages; by default a file by its path, audio as the recording, A's, B's."""
    if names is None:
        names = tuple(os.fspath(v) if isinstance(v, (str, os.PathLike)) else label for v, label in
                      ((mix, "recording"), (a, "recording A"), (b, "recording B")))
    if mix is not None and (a is not None or b is not None):
        raise TavidError("give either one mixed recording or one track per person, not both", where=names[0],
                         fix="Leave out the mix, or the two tracks.")
    if mix is None and (a is None) != (b is None):
        missing = names[2] if b is None else names[1]
        raise TavidError("only one person's track was given", where=missing,
                         fix="Give both people's tracks, or the one recording that holds both voices as the mix.")
    if mix is None and a is None:
        raise TavidError("no recording given", where=names[0], fix="Give the conversation's audio.")
    sources = (Source.of(mix, names[0]),) if mix is not None else (Source.of(a, names[1]), Source.of(b, names[2]))
    if len({s.path is None for s in sources}) > 1:
        raise TavidError("give both tracks as files, or both as audio", where=names[2])
    tracks = [_mono(s, max_minutes * 60.0, runtime) for s in sources]
    if all(_silent(t) for t in tracks):   # one silent track of two: that person only listens (dub_speech says so)
        _refuse_silence(sources[0].where)
    if len(tracks) == 2:
        n = max(len(t) for t in tracks)   # two recordings of one conversation: the shorter ends in silence
        tracks = [np.pad(t, (0, n - len(t))) for t in tracks]
    return Recording(sources=sources, tracks=np.stack(tracks))

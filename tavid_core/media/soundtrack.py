"""The sound a video carries, read in order as the frames are encoded: a recording passed through as it is
(its own rate and channels: only what AAC cannot hold is changed), or arrays already in memory.

A reader gives `read(n)` -> float32 [channels, n] and ends in silence, so a soundtrack is exactly `length`
samples long whatever the files hold (the frame count follows the audio; a few samples more or less are
padded or cut). Memory: one decoded packet per file, however long the recording.
"""
from __future__ import annotations

import numpy as np

from ..errors import TavidError
from .audio import opened_audio

AAC_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000)


def aac_rate(rate: int) -> int:
    """`rate` when AAC can carry it, else the next rate up that it can (the highest for anything above)."""
    return next((r for r in AAC_RATES if r >= rate), AAC_RATES[-1])


class ArrayReader:
    """A soundtrack from float audio [C, N] in memory."""

    def __init__(self, audio: np.ndarray, rate: int):
        self.audio = np.atleast_2d(np.asarray(audio, np.float32))
        self.rate, self.channels, self.length = int(rate), self.audio.shape[0], self.audio.shape[1]
        self._at = 0

    def read(self, n: int) -> np.ndarray:
        part = self.audio[:, self._at:self._at + n]
        self._at += n
        return part if part.shape[1] == n else np.pad(part, ((0, 0), (0, n - part.shape[1])))

    def close(self) -> None:
        pass


class FileReader:
    """A soundtrack decoded from a file as it is read, at `rate` with `channels` (1 or 2; the file's own by
    default, which passes its samples through unchanged)."""

    def __init__(self, path: str, where: str, rate: int | None = None, channels: int | None = None):
        import av
        self._opened = opened_audio(path, where)
        self._container, stream = self._opened.__enter__()
        own = stream.layout.nb_channels if hasattr(stream.layout, "nb_channels") else len(stream.layout.channels)
        self.channels = channels or min(own, 2)
        self.rate = rate or aac_rate(stream.rate)
        self._convert = av.AudioResampler(format="fltp", layout="stereo" if self.channels == 2 else "mono",
                                          rate=self.rate)
        self._frames = self._container.decode(stream)
        self._buffer = np.zeros((self.channels, 0), np.float32)
        self._ended = False
        self.where = where

    def _more(self) -> None:
        import av
        try:
            frame = next(self._frames, None)
        except av.error.FFmpegError as e:
            raise TavidError(f"cannot decode the audio ({e})", where=self.where) from None
        self._ended = frame is None
        parts = [p.to_ndarray() for p in self._convert.resample(frame)]
        if parts:
            self._buffer = np.concatenate([self._buffer, *parts], axis=1)

    def read(self, n: int) -> np.ndarray:
        while self._buffer.shape[1] < n and not self._ended:
            self._more()
        part, self._buffer = self._buffer[:, :n], self._buffer[:, n:]
        return part if part.shape[1] == n else np.pad(part, ((0, 0), (0, n - part.shape[1])))

    def close(self) -> None:
        if self._container is not None:
            self._opened.__exit__(None, None, None)
            self._container = None


class Soundtrack:
    """One or more readers summed (two people's tracks become the mix), exactly `length` samples at `rate`."""

    def __init__(self, readers: list, length: int):
        self.readers = readers
        self.rate, self.channels = readers[0].rate, max(r.channels for r in readers)
        self.length = int(length)
        self._left = self.length

    def read(self, n: int) -> np.ndarray:
        n = min(n, self._left)
        self._left -= n
        out = np.zeros((self.channels, n), np.float32)
        for reader in self.readers:
            out += reader.read(n)   # a mono track broadcasts into both channels of a stereo one
        return out

    def close(self) -> None:
        for reader in self.readers:
            reader.close()


def file_soundtrack(paths: list[str], seconds: float, wheres: list[str]) -> Soundtrack:
    """The recording(s) at `paths` as one soundtrack of `seconds`: the first file's rate and channels (the
    others converted to them), changed only where AAC needs it."""
    first = FileReader(paths[0], wheres[0])
    readers = [first] + [FileReader(p, w, rate=first.rate, channels=None) for p, w in zip(paths[1:], wheres[1:])]
    if any(r.channels == 2 for r in readers) and first.channels == 1:  # a stereo track keeps the mix stereo
        first.close()
        readers[0] = FileReader(paths[0], wheres[0], rate=first.rate, channels=2)
    return Soundtrack(readers, round(seconds * readers[0].rate))


def array_soundtrack(sources: list[tuple[np.ndarray, int]], seconds: float) -> Soundtrack:
    """Float audio `[C, N]` at its rate (ComfyUI's AUDIO), one or two recordings summed, as one soundtrack of
    `seconds` at the first one's rate (or the nearest AAC takes); more than two channels are averaged."""
    from .audio import resample
    rate = aac_rate(sources[0][1])
    readers = [ArrayReader(resample(audio if audio.shape[0] <= 2 else audio.mean(0, keepdims=True), source_rate,
                                    rate), rate) for audio, source_rate in sources]
    return Soundtrack(readers, round(seconds * rate))

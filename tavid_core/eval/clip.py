"""What gets evaluated: frames in order, the mixed soundtrack, and the frame rate.

A clip reads its frames lazily, so evaluating a long video keeps only a few frames in memory. It
can come from a file (anything PyAV opens, including an in-memory buffer) or from arrays.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from ..errors import TavidError
from ..media.audio import load_audio
from ..media.images import as_uint8_rgb

MIN_SECONDS = 1.0


@dataclass(frozen=True)
class Clip:
    fps: float
    num_frames: int                      # an estimate for files whose container does not say
    width: int
    height: int
    audio: np.ndarray                    # mono mix, float32 [N]
    sample_rate: int
    frames: Callable[[], Iterator[np.ndarray]]  # a fresh iterator of uint8 RGB [H, W, 3] frames

    @property
    def duration_s(self) -> float:
        return self.num_frames / self.fps


def _mono(audio: np.ndarray) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float32)
    return audio.reshape(-1) if audio.ndim == 1 else audio.reshape(-1, audio.shape[-1]).mean(axis=0)


def _checked(clip: Clip, where: str) -> Clip:
    if clip.num_frames < clip.fps * MIN_SECONDS:
        raise TavidError(f"the video is {clip.duration_s:.2f} s long; evaluation needs at least {MIN_SECONDS:g} s",
                         where=where)
    if clip.audio.size < clip.sample_rate * MIN_SECONDS:
        raise TavidError("the soundtrack is shorter than a second", where=where,
                         fix="Evaluate a video with its conversation audio.")
    return clip


def clip_from_file(source, where: str | None = None) -> Clip:
    """A clip of a video file path or a readable binary buffer."""
    import av
    where = where or (source if isinstance(source, str) else "video")

    def rewind():
        if hasattr(source, "seek"):
            source.seek(0)
        return source

    try:
        with av.open(rewind()) as container:
            if not container.streams.video:
                raise TavidError("the file has no video stream", where=where)
            stream = container.streams.video[0]
            fps = float(stream.average_rate or stream.guessed_rate or 0)
            if fps <= 0:
                raise TavidError("the video does not say its frame rate", where=where)
            width, height = stream.codec_context.width, stream.codec_context.height
            count = stream.frames or int(round(float(stream.duration * stream.time_base) * fps)
                                         if stream.duration else float(container.duration or 0) / 1e6 * fps)
    except FileNotFoundError:
        raise TavidError("no such video file", where=where) from None
    except av.error.FFmpegError as e:
        raise TavidError(f"cannot read the video ({e})", where=where) from None
    audio, rate = load_audio(rewind(), where=where)

    def frames() -> Iterator[np.ndarray]:
        with av.open(rewind()) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                yield frame.to_ndarray(format="rgb24")

    return _checked(Clip(fps, int(count), width, height, _mono(audio), rate, frames), where)


def clip_from_arrays(images, fps: float, audio, sample_rate: int, where: str = "video") -> Clip:
    """A clip of frames [T, H, W, 3] (uint8, or float in 0..1) and audio [N] or [C, N]."""
    if fps <= 0:
        raise TavidError(f"the frame rate must be positive, got {fps:g}", where=where)
    if len(images) == 0:
        raise TavidError("there are no frames", where=where)
    first = as_uint8_rgb(images[0], where)

    def frames() -> Iterator[np.ndarray]:
        for image in images:
            yield as_uint8_rgb(image, where)

    return _checked(Clip(float(fps), len(images), first.shape[1], first.shape[0], _mono(audio), int(sample_rate),
                         frames), where)

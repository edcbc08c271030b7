"""Reading one manifest clip: its sound (mono, the clip's part, at the model's rate) and its speaker's face."""
from __future__ import annotations

import numpy as np

from ...errors import TavidError
from ...media.audio import load_audio
from ...media.images import load_image
from .manifest import ClipRecord

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi")


def load_clip_audio(record: ClipRecord, sample_rate: int) -> np.ndarray:
    """Mono float32 `[N]` at `sample_rate`, cut to the clip's start and end."""
    audio, rate = load_audio(record.audio, sample_rate, where=record.where)
    mono = audio.mean(axis=0)
    start = int(round((record.start or 0.0) * rate))
    stop = len(mono) if record.end is None else int(round(record.end * rate))
    if stop > len(mono) + rate // 100:  # 10 ms of rounding is fine
        raise TavidError(f"'end' ({record.end} s) lies after the end of the audio ({len(mono) / rate:.2f} s)",
                         where=record.where)
    clip = mono[start:stop]
    if len(clip) < rate // 10:
        raise TavidError(f"the clip lasts only {len(clip) / rate:.3f} s", where=record.where,
                         fix="Use clips of at least a tenth of a second.")
    return np.ascontiguousarray(clip, dtype=np.float32)


def load_clip_face(record: ClipRecord) -> np.ndarray:
    """The speaker's photo (uint8 RGB), or the first frame of their video."""
    if record.face is None:
        raise TavidError("the clip has no 'face'", where=record.where)
    if record.face.lower().endswith(VIDEO_SUFFIXES):
        import av
        try:
            with av.open(record.face) as container:
                for frame in container.decode(video=0):
                    return frame.to_ndarray(format="rgb24")
        except av.error.FFmpegError as e:
            raise TavidError(f"cannot read the face video ({e})", where=record.where) from None
        raise TavidError("the face video has no frames", where=record.where)
    return load_image(record.face)

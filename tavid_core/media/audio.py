"""Sound in: any audio file (or a video's soundtrack) as float32 `[C, N]` in -1..1, and exact-ratio resampling."""
from __future__ import annotations

import itertools
from contextlib import contextmanager
from fractions import Fraction

import numpy as np

from ..errors import TavidError


# ------------------------------------------------------------------------------------------- audio
def resample(audio: np.ndarray, rate_from: float, rate_to: int) -> np.ndarray:
    """Polyphase resampling along the last axis with an exact rational ratio."""
    if abs(rate_from - rate_to) < 1e-6:
        return np.asarray(audio, dtype=np.float32)
    from scipy.signal import resample_poly
    ratio = Fraction(rate_to) / Fraction(rate_from).limit_denominator(100000)
    ratio = ratio.limit_denominator(2000)
    out = resample_poly(np.asarray(audio, dtype=np.float64), ratio.numerator, ratio.denominator, axis=-1)
    return out.astype(np.float32)


@contextmanager
def opened_audio(path, where: str):
    """The container of an audio (or video) file and its first audio stream, with PyAV's errors said in words."""
    import av
    try:
        with av.open(path) as container:
            if not container.streams.audio:
                raise TavidError("the file has no audio stream", where=where)
            yield container, container.streams.audio[0]
    except FileNotFoundError:
        raise TavidError("no such audio file", where=where) from None
    except IsADirectoryError:
        raise TavidError("is a folder, not an audio file", where=where) from None
    except av.error.FFmpegError as e:
        raise TavidError(f"cannot decode the audio ({e})", where=where) from None


def stream_seconds(container, stream) -> float | None:
    """How long the file says its audio lasts (None when it does not say)."""
    if stream.duration is not None and stream.time_base:
        return float(stream.duration * stream.time_base)
    return container.duration / 1e6 if container.duration else None


def load_audio(path, sample_rate: int | None = None, where: str | None = None) -> tuple[np.ndarray, int]:
    """Decode any audio (or the audio track of a video) to float32 [C, N]; resample when `sample_rate` is given.
    `path` may also be a readable binary buffer."""
    import av
    where = where or str(path)
    with opened_audio(path, where) as (container, stream):
        rate = stream.rate
        to_float = av.AudioResampler(format="fltp", layout=stream.layout.name, rate=rate)
        chunks = [f.to_ndarray() for frame in container.decode(stream) for f in to_float.resample(frame)]
        chunks += [f.to_ndarray() for f in to_float.resample(None)]
    if not chunks:
        raise TavidError("the audio stream is empty", where=where)
    audio = np.concatenate(chunks, axis=1).astype(np.float32)
    if sample_rate is not None:
        audio, rate = resample(audio, rate, sample_rate), sample_rate
    return audio, rate


def load_mono(path, sample_rate: int, max_seconds: float, where: str, runtime=None) -> np.ndarray:
    """Any audio file decoded and resampled to mono float32 [N] at `sample_rate` as it streams in (memory: the
    result only). A file longer than `max_seconds` is refused, from its header when it says how long it is,
    else as soon as that much has been decoded."""
    import av
    with opened_audio(path, where) as (container, stream):
        said = stream_seconds(container, stream)
        if said is not None and said > max_seconds:
            raise too_long(said, max_seconds, where)
        out = np.zeros(int(((said or 60.0) + 1.0) * sample_rate), np.float32)
        filled, limit = 0, int(max_seconds * sample_rate)
        to_mono = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        frames = container.decode(stream)
        if runtime is not None and said:
            frames = runtime.steps(frames, max(1, int(said * stream.rate / (stream.codec_context.frame_size or 1024))),
                                   f"decoding {where}")
        for frame in itertools.chain(frames, [None]):
            for part in to_mono.resample(frame):
                samples = part.to_ndarray().reshape(-1)
                if filled + len(samples) > len(out):
                    out = np.concatenate([out, np.zeros(max(len(out) // 2, len(samples)), np.float32)])
                out[filled:filled + len(samples)] = samples
                filled += len(samples)
            if filled > limit:
                raise too_long(filled / sample_rate, max_seconds, where, at_least=True)
    if filled == 0:
        raise TavidError("the audio stream is empty", where=where)
    return out[:filled]


def too_long(seconds: float, max_seconds: float, where: str, at_least: bool = False) -> TavidError:
    amount = f"at least {seconds / 60:.1f}" if at_least else f"{seconds / 60:.1f}"
    return TavidError(f"the recording lasts {amount} minutes, over the limit of {max_seconds / 60:g}", where=where,
                      fix="Cut it into parts, or raise the limit (max_minutes; tavid dub --max-minutes).")

"""Sound in: any audio file (or a video's soundtrack) as float32 `[C, N]` in -1..1, and exact-ratio resampling."""
from __future__ import annotations

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


def load_audio(path, sample_rate: int | None = None, where: str | None = None) -> tuple[np.ndarray, int]:
    """Decode any audio (or the audio track of a video) to float32 [C, N]; resample when `sample_rate` is given.
    `path` may also be a readable binary buffer."""
    import av
    where = where or str(path)
    try:
        with av.open(path) as container:
            if not container.streams.audio:
                raise TavidError("the file has no audio stream", where=where)
            stream = container.streams.audio[0]
            rate = stream.rate
            to_float = av.AudioResampler(format="fltp", layout=stream.layout.name, rate=rate)
            chunks = [f.to_ndarray() for frame in container.decode(stream) for f in to_float.resample(frame)]
            chunks += [f.to_ndarray() for f in to_float.resample(None)]
    except FileNotFoundError:
        raise TavidError("no such audio file", where=where) from None
    except av.error.FFmpegError as e:
        raise TavidError(f"cannot decode the audio ({e})", where=where) from None
    if not chunks:
        raise TavidError("the audio stream is empty", where=where)
    audio = np.concatenate(chunks, axis=1).astype(np.float32)
    if sample_rate is not None:
        audio, rate = resample(audio, rate, sample_rate), sample_rate
    return audio, rate

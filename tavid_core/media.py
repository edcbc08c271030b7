"""Images, audio and video in and out: PIL for pictures, PyAV for MP4 (H.264 + AAC), scipy for resampling.

Images inside the library are uint8 RGB `[H, W, 3]` numpy arrays; audio is float32 `[C, N]` in -1..1.
"""
from __future__ import annotations

import os
import queue as queue_module
import threading
from fractions import Fraction
import numpy as np

from .errors import TavidError

SAMPLE_PORTRAITS = ("grace_hopper", "astronaut")


# ------------------------------------------------------------------------------------------ images
def as_uint8_rgb(image, where: str = "image") -> np.ndarray:
    """uint8 RGB [H, W, 3] from uint8 or float (0..1) arrays that are gray, RGB or RGBA."""
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4) or min(arr.shape[:2]) < 1:
        raise TavidError(f"expected an image [H, W, 3], got shape {tuple(arr.shape)}", where=where)
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    arr = arr[..., :3]
    if arr.dtype != np.uint8:
        arr = (np.clip(np.nan_to_num(arr.astype(np.float32)), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return np.ascontiguousarray(arr)


def load_image(path: str) -> np.ndarray:
    """Read a photo as uint8 RGB, honouring its EXIF orientation."""
    from PIL import Image, ImageOps, UnidentifiedImageError
    try:
        with Image.open(path) as im:
            return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    except FileNotFoundError:
        raise TavidError("no such image file", where=path) from None
    except (UnidentifiedImageError, OSError) as e:
        raise TavidError(f"cannot read the image ({e})", where=path,
                         fix="Use a JPEG, PNG or WebP photo.") from None


def save_image(image: np.ndarray, path: str) -> None:
    from PIL import Image
    Image.fromarray(as_uint8_rgb(image)).save(path)


def resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    from PIL import Image
    return np.asarray(Image.fromarray(as_uint8_rgb(image)).resize((width, height), Image.LANCZOS))


def sample_portrait(name: str) -> np.ndarray:
    """The two demo portraits that ship inside wheels: matplotlib's Grace Hopper, scikit-image's astronaut."""
    if name == "grace_hopper":
        from matplotlib import cbook
        return load_image(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    if name == "astronaut":
        from skimage import data
        return as_uint8_rgb(data.astronaut())
    raise TavidError(f"unknown sample portrait {name!r}; choose one of {SAMPLE_PORTRAITS}", where="sample portrait")


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


# ------------------------------------------------------------------------------------------- video
class VideoWriter:
    """Streams frames into an MP4 (H.264, yuv420p) with an AAC soundtrack, interleaving audio as video
    advances, so memory stays flat however long the clip is. Encoding runs on a background thread (PyAV
    releases the GIL while x264 works) so the next frames render meanwhile; at most `queue` batches wait.
    Use as a context manager."""

    def __init__(self, path: str, fps: float, width: int, height: int, audio: np.ndarray, sample_rate: int,
                 crf: int = 18, preset: str = "superfast", queue: int = 2):
        import av
        if width % 2 or height % 2:
            raise TavidError(f"H.264 needs even frame sizes, got {width}x{height}", where="video")
        audio = np.atleast_2d(np.asarray(audio, dtype=np.float32))
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self.path, self.fps, self.width, self.height = path, float(fps), width, height
        self._container = av.open(path, mode="w")
        self._video = self._container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        self._video.width, self._video.height, self._video.pix_fmt = width, height, "yuv420p"
        # one x264 thread: it runs beside the renderer, which keeps the cores busy, and x264's own
        # threads only add overhead then (about 15 % more CPU per frame, same file)
        self._video.options = {"crf": str(crf), "preset": preset, "threads": "1"}
        self._audio = self._container.add_stream("aac", rate=sample_rate)
        self._audio.layout = "stereo" if audio.shape[0] == 2 else "mono"
        self._samples = np.clip(audio, -1.0, 1.0)
        self._rate = sample_rate
        self._audio_written = 0
        self.frames_written = 0
        self._pending: queue_module.Queue = queue_module.Queue(maxsize=queue)
        self._failure: BaseException | None = None
        self._worker = threading.Thread(target=self._work, name="tavid-video-writer", daemon=True)
        self._worker.start()

    def write(self, frames: np.ndarray) -> None:
        """Append uint8 RGB frames [T, H, W, 3]; they are encoded later, so do not change the array afterwards."""
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[1:] != (self.height, self.width, 3) or frames.dtype != np.uint8:
            raise TavidError(f"frames must be uint8 [T, {self.height}, {self.width}, 3], got {frames.dtype} "
                             f"{tuple(frames.shape)}", where="video")
        self._raise_failure()
        self._pending.put(frames)
        self.frames_written += len(frames)

    def _work(self) -> None:
        encoded = 0
        while (frames := self._pending.get()) is not None:
            if self._failure is not None:
                continue  # drain the queue so write() never blocks after a failure
            try:
                self._encode(frames)
                encoded += len(frames)
                self._write_audio(round(encoded / self.fps * self._rate))
            except BaseException as e:  # noqa: BLE001 - handed to the caller's thread
                self._failure = e

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise TavidError(f"writing the video failed ({self._failure})", where=self.path,
                             fix="Check that the folder is writable and the disk has room.") from self._failure

    def _encode(self, frames: np.ndarray) -> None:
        import av
        for frame in frames:
            for packet in self._video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                self._container.mux(packet)

    def _write_audio(self, until: int) -> None:
        import av
        until = min(until, self._samples.shape[1])
        step = 4096
        for start in range(self._audio_written, until, step):
            chunk = np.ascontiguousarray(self._samples[:, start:min(start + step, until)])
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=self._audio.layout.name)
            frame.sample_rate, frame.pts, frame.time_base = self._rate, start, Fraction(1, self._rate)
            for packet in self._audio.encode(frame):
                self._container.mux(packet)
        self._audio_written = max(self._audio_written, until)

    def close(self) -> None:
        if self._container is None:
            return
        self._pending.put(None)
        self._worker.join()
        try:
            self._raise_failure()
            self._write_audio(self._samples.shape[1])
            for stream in (self._video, self._audio):
                for packet in stream.encode(None):
                    self._container.mux(packet)
        finally:
            self._container.close()
            self._container = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_video(path: str) -> tuple[np.ndarray, float, np.ndarray, int]:
    """Decode an MP4 fully: (frames uint8 [T, H, W, 3], fps, audio float32 [C, N], sample_rate). For tests and
    evaluation of short clips."""
    import av
    with av.open(path) as container:
        vstream = container.streams.video[0]
        fps = float(vstream.average_rate)
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(vstream)])
    audio, rate = load_audio(path)
    return frames, fps, audio, rate

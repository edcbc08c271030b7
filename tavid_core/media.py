"""Images, audio and video in and out: PIL for pictures, PyAV for MP4 (H.264 + AAC), scipy for resampling.

Images inside the library are uint8 RGB `[H, W, 3]` numpy arrays; audio is float32 `[C, N]` in -1..1.
"""
from __future__ import annotations

import os
import queue as queue_module
import threading
import warnings
from fractions import Fraction
import numpy as np

from .errors import TavidError
from .output_files import check_output_path, disk_error, partial_path, remove_quietly

SAMPLE_PORTRAITS = ("grace_hopper", "astronaut")
NEUTRAL_GREY = 128  # what transparent parts of a picture become: neither black nor white


# ------------------------------------------------------------------------------------------ images
def as_uint8_rgb(image, where: str = "image") -> np.ndarray:
    """uint8 RGB [H, W, 3] from gray, RGB or RGBA arrays of uint8 levels, uint16 levels (16-bit photos),
    other integers (taken as 8-bit levels) or floats in 0..1. Transparent parts are laid on a neutral grey."""
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4) or min(arr.shape[:2]) < 1:
        raise TavidError(f"expected an image [H, W, 3], got shape {tuple(arr.shape)}", where=where)
    arr = _uint8_levels(arr)
    if arr.shape[2] == 4:
        arr = _on_grey(arr)
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    return np.ascontiguousarray(arr)


def _uint8_levels(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype.kind == "u" and arr.dtype.itemsize == 2:  # 16-bit: scale down, never clip to white
        return ((arr.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    if arr.dtype.kind in "iu":
        return np.clip(arr, 0, 255).astype(np.uint8)
    return (np.clip(np.nan_to_num(arr.astype(np.float32)), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def _on_grey(rgba: np.ndarray) -> np.ndarray:
    """RGBA laid on NEUTRAL_GREY: what lies under transparent pixels is often black or random."""
    rgb, alpha = rgba[..., :3], rgba[..., 3:]
    if alpha.min() == 255:
        return rgb
    alpha = alpha.astype(np.uint16)  # 255 * 255 + 127 still fits
    return ((rgb * alpha + NEUTRAL_GREY * (255 - alpha) + 127) // 255).astype(np.uint8)


def load_image(path: str) -> np.ndarray:
    """Read a photo as uint8 RGB, honouring its EXIF orientation. Every way a file can fail to be a
    usable picture ends in a TavidError naming the file."""
    from PIL import Image, UnidentifiedImageError
    bomb = (Image.DecompressionBombError, Image.DecompressionBombWarning)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)  # refuse it, rather than print it
            im = Image.open(path)
        with im:
            return as_uint8_rgb(_pixels(im), where=path)
    except FileNotFoundError:
        raise TavidError("no such image file", where=path, fix="Check the path.") from None
    except UnidentifiedImageError:
        raise TavidError("cannot read the image: the file is not a picture", where=path,
                         fix="Use a JPEG, PNG or WebP photo.") from None
    except bomb:
        raise TavidError(f"cannot read the image: it has more than {Image.MAX_IMAGE_PIXELS / 1e6:.0f} megapixels, "
                         "too many to open safely", where=path,
                         fix="Scale it down; about 2000 pixels a side is plenty for a portrait.") from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:  # what PIL's decoders raise for broken data
        if isinstance(e, OSError) and e.errno is not None:  # the file system's complaint, not the picture's
            raise TavidError(f"cannot read the image ({e.strerror})", where=path,
                             fix="Give the path of a picture file you may read.") from None
        raise TavidError(f"cannot read the image: its data is damaged or cut short ({e})", where=path,
                         fix="Export or download the file again, or use another photo.") from None


def _pixels(im) -> np.ndarray:
    """A PIL picture, upright, as an array for as_uint8_rgb: 16-bit greys keep their depth (PIL's own
    conversion to RGB clips them to white) and transparency stays as an alpha channel."""
    from PIL import ImageOps
    if im.getexif().get(0x0112, 1) != 1:  # EXIF orientation; exif_transpose copies even upright pictures
        im = ImageOps.exif_transpose(im)
    if im.mode.startswith("I"):  # I;16 (16-bit PNG) and I (its name in older PIL)
        return np.asarray(im).clip(0, 65535).astype(np.uint16)
    mode = "RGBA" if im.mode in ("RGBA", "RGBa", "LA", "La", "PA") or "transparency" in im.info else "RGB"
    return np.asarray(im if im.mode == mode else im.convert(mode))  # each copy of a big photo is 100s of MB


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
    Use as a context manager: the file appears at `path` only when the block completes (see output_files)."""

    def __init__(self, path: str, fps: float, width: int, height: int, audio: np.ndarray, sample_rate: int,
                 crf: int = 18, preset: str = "superfast", queue: int = 2):
        import av
        if width % 2 or height % 2:
            raise TavidError(f"H.264 needs even frame sizes, got {width}x{height}", where="video")
        audio = np.atleast_2d(np.asarray(audio, dtype=np.float32))
        self.path, self.fps, self.width, self.height = check_output_path(path, "video"), float(fps), width, height
        self._partial = partial_path(self.path)
        self._container = av.open(self._partial, mode="w")
        self._video = self._container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        self._video.width, self._video.height, self._video.pix_fmt = width, height, "yuv420p"
        # one x264 thread: it runs beside the renderer, which keeps the cores busy, and x264's own
        # threads only add overhead then (about 15 % more CPU per frame, same file)
        self._video.options = {"crf": str(crf), "preset": preset, "threads": "1"}
        self._audio = self._container.add_stream("aac", rate=sample_rate)
        self._audio.layout = "stereo" if audio.shape[0] == 2 else "mono"
        self._samples = audio  # clipped chunk by chunk: a copy of a long soundtrack would cost as much again
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
            raise disk_error(self._failure, self.path) from self._failure

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
            chunk = np.clip(self._samples[:, start:min(start + step, until)], -1.0, 1.0)
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=self._audio.layout.name)
            frame.sample_rate, frame.pts, frame.time_base = self._rate, start, Fraction(1, self._rate)
            for packet in self._audio.encode(frame):
                self._container.mux(packet)
        self._audio_written = max(self._audio_written, until)

    def close(self) -> None:
        """Finish the file and move it into place; on any failure remove it and raise."""
        if self._container is None:
            return
        self._stop_worker()
        try:
            self._raise_failure()
            self._write_audio(self._samples.shape[1])
            for stream in (self._video, self._audio):
                for packet in stream.encode(None):
                    self._container.mux(packet)
            self._container.close()
            self._container = None
            os.replace(self._partial, self.path)
        except OSError as e:  # a full disk surfaces here as often as in the encoder
            self._discard()
            raise disk_error(e, self.path) from None
        except BaseException:
            self._discard()
            raise

    def abort(self) -> None:
        """Stop without a file: after an error or an interrupt nothing half-written stays behind."""
        if self._container is None:
            return
        self._failure = self._failure or RuntimeError("aborted")  # the worker skips what is still queued
        self._stop_worker()
        self._discard()

    def _stop_worker(self) -> None:
        self._pending.put(None)
        self._worker.join()

    def _discard(self) -> None:
        if self._container is not None:
            try:
                self._container.close()
            except Exception:  # noqa: BLE001  the file is removed anyway
                pass
            self._container = None
        remove_quietly(self._partial)

    def __enter__(self):
        return self

    def __exit__(self, kind, error, trace):
        if kind is None:
            self.close()
        else:
            self.abort()


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

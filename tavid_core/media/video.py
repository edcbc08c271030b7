"""MP4 out and in: frames streamed into H.264 with an AAC soundtrack, and a video read back."""
from __future__ import annotations

import os
import queue as queue_module
import threading
from fractions import Fraction

import numpy as np

from ..errors import TavidError
from .audio import load_audio
from .files import check_output_path, disk_error, partial_path, remove_quietly
from .soundtrack import ArrayReader


# ------------------------------------------------------------------------------------------- video
class VideoWriter:
    """Streams frames into an MP4 (H.264, yuv420p) with an AAC soundtrack, interleaving audio as video
    advances, so memory stays flat however long the clip is. Encoding runs on a background thread (PyAV
    releases the GIL while x264 works) so the next frames render meanwhile; at most `queue` batches wait.
    Use as a context manager: the file appears at `path` only when the block completes (see media/files.py).
    `audio` is float [C, N] at `sample_rate`, or a soundtrack reader (media/soundtrack.py) that decodes a
    recording as it goes."""

    def __init__(self, path: str, fps: float, width: int, height: int, audio, sample_rate: int,
                 crf: int = 18, preset: str = "superfast", queue: int = 2):
        import av
        if width % 2 or height % 2:
            raise TavidError(f"H.264 needs even frame sizes, got {width}x{height}", where="video")
        if not hasattr(audio, "read"):
            audio = ArrayReader(audio, sample_rate)
        self.path, self.fps, self.width, self.height = check_output_path(path, "video"), float(fps), width, height
        self._partial = partial_path(self.path)
        self._container = av.open(self._partial, mode="w")
        self._video = self._container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        self._video.width, self._video.height, self._video.pix_fmt = width, height, "yuv420p"
        # one x264 thread: it runs beside the renderer, which keeps the cores busy, and x264's own
        # threads only add overhead then (about 15 % more CPU per frame, same file)
        self._video.options = {"crf": str(crf), "preset": preset, "threads": "1"}
        self._audio = self._container.add_stream("aac", rate=audio.rate)
        self._audio.layout = "stereo" if audio.channels == 2 else "mono"
        self._samples = audio  # read and clipped chunk by chunk: a copy of a long soundtrack would cost as much again
        self._length = audio.length
        self._rate = audio.rate
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
        import cv2
        for frame in frames:
            # OpenCV's BT.601 conversion (the matrix and studio range swscale would use, chroma averaged over 2x2
            # pixels) is quicker than swscale's inside PyAV: a 1024x512 frame encodes in 6.1 ms instead of 6.8
            yuv = cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420)
            for packet in self._video.encode(av.VideoFrame.from_ndarray(yuv, format="yuv420p")):
                self._container.mux(packet)

    def _write_audio(self, until: int) -> None:
        import av
        until = min(until, self._length)
        step = 4096
        for start in range(self._audio_written, until, step):
            chunk = np.clip(self._samples.read(min(start + step, until) - start), -1.0, 1.0)
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
            self._write_audio(self._length)
            for stream in (self._video, self._audio):
                for packet in stream.encode(None):
                    self._container.mux(packet)
            self._container.close()
            self._container = None
            self._samples.close()
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
        self._samples.close()
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

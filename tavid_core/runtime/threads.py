"""Sharing a small CPU between rendering and the background video encoder.

torch's and OpenCV's worker threads spin for a while after each operation, waiting for the next.
While the encoder thread needs a core of its own, that spinning takes its time: on 2 cores the
render-and-encode loop ran about a third slower than with the renderer kept to the other core.
"""
from __future__ import annotations

from contextlib import contextmanager

import cv2
import torch


@contextmanager
def one_core_left():
    """Within the block, torch and OpenCV use one core fewer than they would (at least one)."""
    torch_threads, cv2_threads = torch.get_num_threads(), cv2.getNumThreads()
    torch.set_num_threads(max(1, torch_threads - 1))
    cv2.setNumThreads(max(0, cv2_threads - 1))   # 0: OpenCV runs its loops on the calling thread
    try:
        yield
    finally:
        torch.set_num_threads(torch_threads)
        cv2.setNumThreads(cv2_threads)


def onnx_session(model: str | bytes, threads: int = 1):
    """An onnxruntime session on the CPU with `threads` threads and its notes silenced. One thread for networks
    that run beside other busy threads: a second would spin waiting for a core they hold."""
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = threads
    options.log_severity_level = 3
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])

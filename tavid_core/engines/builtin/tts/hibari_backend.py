"""The hibari `heart` voice (en-US, 24 kHz, bundled in the hibari-tts wheel).

hibari does not report timings, but its ONNX graph computes per-phoneme durations before expanding
them into frames; exposing that tensor as an extra output gives exact phoneme timings for free.
Pitch is a direct scale of the model's F0 curve.
"""
from __future__ import annotations

import numpy as np

from ....runtime.threads import onnx_session
from ...shared.utterance import Utterance
from .base import entries_from_counts, timed_utterance


def _duration_tensor(model) -> str | None:
    """Name of the integer per-phoneme duration tensor: the input of the graph's only CumSum."""
    cumsums = [n for n in model.graph.node if n.op_type == "CumSum"]
    return cumsums[0].input[0] if len(cumsums) == 1 else None


class HibariBackend:
    name = "hibari"

    def __init__(self, threads: int = 1):
        import onnx
        from hibari import SAMPLE_RATE, Hibari
        from hibari.voices import voice_path

        model = onnx.load(voice_path("heart", download_missing=False))
        self._durations = _duration_tensor(model)
        if self._durations:
            model.graph.output.append(onnx.helper.make_tensor_value_info(self._durations, onnx.TensorProto.INT64, None))
        self._session = onnx_session(model.SerializeToString(), threads)
        self._tts = Hibari(voice="heart", g2p=None, threads=threads)
        self.sample_rate = SAMPLE_RATE

    def synthesize(self, text: str, *, voice: str, rate: float, pitch: float, seed: int) -> Utterance:
        from hibari import dsp
        rng = np.random.default_rng(seed)
        entries, parts, offset = [], [], 0.0
        for phonemes in self._tts.phonemize(text):
            kept = [c for c in phonemes if c in self._tts.vocab]
            ids = self._tts.ids(phonemes)
            outputs = self._session.run(None, {"ids": np.asarray([ids], np.int64),
                                               "speed": np.asarray([rate], np.float32)})
            lh, theta, ln, lr, phi, f0 = (o[0] for o in outputs[:6])
            audio = dsp.synth(lh, theta, ln, lr, phi, f0 * np.float32(pitch), rng)
            symbols = ["_", *kept, "_"]
            if self._durations and len(outputs) > 6 and outputs[6].size == len(symbols):
                units = outputs[6].reshape(-1).astype(np.float64)
            else:  # unknown graph layout: spread the time evenly, leaving the pads short
                units = np.array([0.5] + [1.0] * len(kept) + [0.5])
            counts = units * (len(audio) / max(units.sum(), 1e-9))
            entries += entries_from_counts(symbols, counts, self.sample_rate, offset)
            parts.append(audio.astype(np.float32))
            offset += len(audio) / self.sample_rate
        audio = np.concatenate(parts) if parts else np.zeros(0, np.float32)
        return timed_utterance(text, entries, audio, self.sample_rate)

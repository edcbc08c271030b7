"""Who a voice is: resemblyzer's pretrained speaker encoder as our own small torch network, with its mel
front end, giving a 256-d unit vector for any audio at any sample rate (cosine similarity between two is
about 0.9 for one voice and 0.45-0.65 for two).

The network (3-layer LSTM over 40 power-mel bins, a linear layer, ReLU, L2 norm) reads partial windows of
1.6 s, 1.3 per second; the utterance's embedding is the normalised mean of theirs. The weights come from
resemblyzer 0.1.4's `pretrained.pt`, converted to safetensors once by `tavid models fetch` (the file is a
pickle: only `tavid convert`'s weights-only reader opens it). resemblyzer's own silence trimming (webrtcvad)
is left out: callers hand in speech, and on speech the two embeddings agree to a cosine of 0.96-1.0.
"""
from __future__ import annotations

import threading
from functools import lru_cache
from typing import Mapping

import numpy as np
import torch
from torch import nn

from ..media.audio import resample
from .audio_features import slaney_filterbank
from .wheel_models import require

SAMPLE_RATE = 16000
N_FFT, HOP, N_MELS = 400, 160, 40          # 25 ms windows every 10 ms
PARTIAL_FRAMES = 160                        # 1.6 s per partial window
PARTIAL_STEP = 77                           # round(16000 / 1.3 / 160): 1.3 partials per second
MIN_COVERAGE = 0.75                         # a last partial is kept if audio fills this much of it
TARGET_DBFS = -30.0                         # quieter audio is raised to this level (never lowered)
HIDDEN = EMBEDDING = 256
MODEL = "speaker-encoder"


class VoiceEncoderNet(nn.Module):
    """[B, 160, 40] power mels -> [B, 256] unit vectors; tensor names as in resemblyzer's checkpoint."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(N_MELS, HIDDEN, num_layers=3, batch_first=True)
        self.linear = nn.Linear(HIDDEN, EMBEDDING)

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        _, (hidden, _) = self.lstm(mels)
        embeds = torch.relu(self.linear(hidden[-1]))
        return embeds / embeds.norm(dim=1, keepdim=True).clamp(min=1e-12)


def resemblyzer_weights(held: object) -> dict[str, torch.Tensor] | None:
    """The network's tensors out of what resemblyzer's `pretrained.pt` holds ({"model_state": ...}), or None
    when it is not that file (other keys, other shapes)."""
    state = held.get("model_state") if isinstance(held, Mapping) else None
    if not isinstance(state, Mapping):
        return None
    expected = {k: tuple(v.shape) for k, v in VoiceEncoderNet().state_dict().items()}
    tensors = {k: state.get(k) for k in expected}
    if not all(isinstance(t, torch.Tensor) and tuple(t.shape) == expected[k] for k, t in tensors.items()):
        return None
    return {k: t.float().contiguous() for k, t in tensors.items()}


_MEL = slaney_filterbank(SAMPLE_RATE, N_FFT, N_MELS)
_WINDOW = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)   # periodic Hann


def partial_starts(num_samples: int) -> list[int]:
    """First mel frame of each partial window of an utterance of `num_samples` (at 16 kHz)."""
    frames = int(np.ceil((num_samples + 1) / HOP))
    starts = list(range(0, max(1, frames - PARTIAL_FRAMES + PARTIAL_STEP + 1), PARTIAL_STEP))
    if len(starts) > 1 and (num_samples - starts[-1] * HOP) / (PARTIAL_FRAMES * HOP) < MIN_COVERAGE:
        starts.pop()
    return starts


def power_mel(audio: np.ndarray) -> np.ndarray:
    """[frames, 40] power mel spectrogram, windows centred on every 10 ms step (zero padded at the ends)."""
    padded = np.pad(audio, N_FFT // 2)
    windows = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP] * _WINDOW
    return (np.abs(np.fft.rfft(windows, axis=1)) ** 2).astype(np.float32) @ _MEL.T


def _levelled(audio: np.ndarray) -> np.ndarray:
    level = 10 * np.log10(np.mean(audio.astype(np.float64) ** 2) + 1e-20)
    return audio * np.float32(10 ** ((TARGET_DBFS - level) / 20)) if level < TARGET_DBFS else audio


class SpeakerEncoder:
    """The encoder with its weights, loaded once; `embed` may be called from several threads."""

    def __init__(self, path: str):
        from safetensors.torch import load_file
        self.net = VoiceEncoderNet()
        self.net.load_state_dict(load_file(path))
        self.net.eval()
        self._lock = threading.Lock()

    @torch.no_grad()
    def embed(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """The 256-d unit embedding of mono audio at any rate."""
        audio = _levelled(resample(np.asarray(audio, np.float32).reshape(-1), sample_rate, SAMPLE_RATE))
        starts = partial_starts(len(audio))
        audio = np.pad(audio, (0, max(0, (starts[-1] + PARTIAL_FRAMES) * HOP - len(audio))))
        mel = power_mel(audio)
        windows = torch.from_numpy(np.stack([mel[s:s + PARTIAL_FRAMES] for s in starts]))
        with self._lock:
            partials = self.net(windows).numpy()
        mean = partials.mean(axis=0)
        return (mean / max(np.linalg.norm(mean), 1e-12)).astype(np.float32)


@lru_cache(maxsize=1)
def speaker_encoder() -> SpeakerEncoder:
    """The process-wide encoder, or an error naming `tavid models fetch` when its weights are missing."""
    return SpeakerEncoder(require(MODEL, where="speaker encoder"))


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))

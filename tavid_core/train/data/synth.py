"""A tiny but real training set made offline from the built-in engines: short English sentences spoken
by the two wheel-shipped neural voices, each speaker with a face photo. Tests and `tavid train` smoke
runs use it; it exercises every path a real manifest does (16-bit WAV, photos, relative paths)."""
from __future__ import annotations

import json
import os
import wave

import numpy as np

from ...errors import TavidError
from ...examples import sample_portrait
from ...media.files import write_text_whole
from ...media.images import save_image
from ...runtime import Runtime

SAMPLE_RATE = 24000
# Short everyday sentences of varied sounds and shapes (statements, questions, exclamations); the
# two voices speak each in about 1 to 2.5 s.
SENTENCES = (
    "The weather is lovely today.",
    "Could you pass me the salt?",
    "I think we should leave early.",
    "That sounds like a great plan.",
    "Where did you put the keys?",
    "My brother plays the violin.",
    "Let us meet again on Friday.",
    "Nobody expected the news.",
    "Please close the window, it is cold.",
    "What a wonderful surprise this is!",
)
# speaker -> (built-in voice, sample portrait)
SPEAKERS = {"joe": ("joe", "grace_hopper"), "heart": ("heart", "astronaut")}


def _write_wav(path: str, audio: np.ndarray, rate: int) -> None:
    """Mono 16-bit PCM; the standard library's writer, so the bytes depend on the samples alone."""
    pcm = (np.clip(audio, -1.0, 1.0) * 32767.0).round().astype("<i2")
    with wave.open(path, "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(pcm.tobytes())


def make_tiny_dataset(out_dir: str, *, clips_per_speaker: int = 4, seed: int = 0,
                      runtime: Runtime | None = None) -> str:
    """Write `clips_per_speaker` clips for each of the two speakers (joe, heart) into `out_dir`:
    clips/<speaker>_<n>.wav (24 kHz, 16-bit), faces/<speaker>.png and manifest.jsonl with relative paths.
    The same arguments give the same files. Returns the manifest's path. `runtime` shows progress and
    lets a user cancel."""
    from ...engines.builtin import load_builtin_engines
    from ...types import Voice

    if not isinstance(clips_per_speaker, int) or not 1 <= clips_per_speaker <= len(SENTENCES):
        raise TavidError(f"clips_per_speaker must be 1 to {len(SENTENCES)}, got {clips_per_speaker!r}",
                         where="clips_per_speaker")
    os.makedirs(os.path.join(out_dir, "clips"), exist_ok=True)
    os.makedirs(os.path.join(out_dir, "faces"), exist_ok=True)
    speech = load_builtin_engines().speech_model
    rng = np.random.default_rng(seed)
    jobs = []
    for speaker, (voice, portrait) in SPEAKERS.items():
        face = f"faces/{speaker}.png"
        save_image(sample_portrait(portrait), os.path.join(out_dir, face))
        # each speaker draws its own seed-chosen sentences (some shared, as in real corpora)
        for n, sentence in enumerate(rng.permutation(len(SENTENCES))[:clips_per_speaker]):
            jobs.append((speaker, voice, face, n, SENTENCES[int(sentence)], int(rng.integers(0, 2 ** 31))))
    items = jobs if runtime is None else runtime.steps(jobs, len(jobs), "speaking the tiny data set")
    lines = []
    for speaker, voice, face, n, text, clip_seed in items:
        utterance = speech.speak(text, voice, Voice("builtin", preset=voice), seed=clip_seed)
        if utterance.sample_rate != SAMPLE_RATE:
            raise TavidError(f"the voice {voice} spoke at {utterance.sample_rate} Hz", where="tiny data set")
        audio = f"clips/{speaker}_{n:02d}.wav"
        _write_wav(os.path.join(out_dir, audio), utterance.audio, SAMPLE_RATE)
        lines.append(json.dumps({"audio": audio, "text": text, "speaker": speaker, "face": face}))
    manifest = os.path.join(out_dir, "manifest.jsonl")
    write_text_whole(manifest, "\n".join(lines) + "\n")
    return manifest

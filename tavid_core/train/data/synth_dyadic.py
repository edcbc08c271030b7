"""A tiny but real dyadic clip made offline by the built-in engines: a short exchange spoken by the two
wheel-shipped voices, moved by the built-in motion mapper and rendered from the two sample portraits.
Each person gets their own video and their own voice track, as a real two-camera, two-microphone
recording would; the Motion that drove each face is written beside them, so the labels that
`face_data` fits from the videos can be checked against the truth."""
from __future__ import annotations

import json
import os
from dataclasses import replace

import numpy as np

from ...analysis.audio_features import speech_features
from ...errors import TavidError
from ...examples import sample_portrait
from ...limits import MAX_SIZE, MIN_SIZE
from ...media.files import write_text_whole
from ...media.video import VideoWriter
from ...runtime import Runtime, StandaloneRuntime
from ...types import Dialogue, Speech, Turn, Voice
from .face_data import save_motion
from .synth import SAMPLE_RATE, SPEAKERS, _write_wav

FPS = 25.0
# An everyday exchange, A asking first; the longest opening that fits the asked length is spoken.
EXCHANGE = (
    (0, "Hi, how are you?"),
    (1, "Good, thanks!"),
    (0, "Glad to hear it."),
    (1, "And you?"),
)
MIN_TURNS = 2  # one turn each: the least that makes a conversation
SECONDS_RANGE = (1.5, 30.0)
FILES = {"video": "{}_video.mp4", "audio": "{}.wav", "motion": "motion_{}.safetensors"}


def _dialogue(turns: int) -> Dialogue:
    names = tuple(SPEAKERS)  # A and B take the two voices (and faces) of the tiny data set
    return Dialogue(speakers=(names[0], names[1]),
                    turns=tuple(Turn(speaker=s, text=t) for s, t in EXCHANGE[:turns]))


def _padded(speech: Speech, samples: int) -> Speech:
    """The speech with silence added at its end up to `samples`, its features computed again."""
    tracks = np.pad(speech.tracks, ((0, 0), (0, samples - speech.num_samples)))
    features = np.stack([speech_features(t, speech.sample_rate, speech.feature_rate) for t in tracks])
    return replace(speech, tracks=tracks, features=features)


def _speech(engines, seconds: float, seed: int, runtime: Runtime) -> Speech:
    """The longest opening of EXCHANGE (at least MIN_TURNS turns) whose speech lasts at most `seconds`,
    padded with silence to exactly `seconds`."""
    voices = tuple(Voice("builtin", preset=voice) for voice, _ in SPEAKERS.values())
    for turns in range(len(EXCHANGE), MIN_TURNS - 1, -1):
        text = engines.text_encoder.encode(_dialogue(turns), runtime=runtime)
        speech = engines.speech_model.generate(text, voices, runtime=runtime, seed=seed)
        if speech.duration_s <= seconds:
            return _padded(speech, int(round(seconds * speech.sample_rate)))
    raise TavidError(f"{MIN_TURNS} turns take {speech.duration_s:.2f} s, more than the {seconds:g} s asked for",
                     where="seconds", fix=f"Ask for at least {np.ceil(speech.duration_s):g} seconds.")


def _write_person(out_dir: str, who: str, engines, portrait: str, track: np.ndarray, motion, size: int,
                  runtime: Runtime) -> dict:
    model = engines.face_model
    face = model.prepare(sample_portrait(portrait), size=size, runtime=runtime, where=f"portrait {portrait}")
    names = {key: pattern.format(who) for key, pattern in FILES.items()}
    with VideoWriter(os.path.join(out_dir, names["video"]), FPS, size, size, track[None], SAMPLE_RATE) as writer:
        for frames in model.render_chunks(face, motion, runtime=runtime):
            writer.write(frames)
    _write_wav(os.path.join(out_dir, names["audio"]), track, SAMPLE_RATE)
    save_motion(motion, os.path.join(out_dir, names["motion"]))
    return names


def make_dyadic_clip(out_dir: str, *, size: int = 128, seconds: float = 3.0, seed: int = 0,
                     runtime: Runtime | None = None) -> str:
    """Write a_video.mp4, b_video.mp4 (each face at `size` px, 25 fps, with its own voice), a.wav, b.wav
    (each person's own track, 24 kHz 16-bit), motion_a.safetensors, motion_b.safetensors (the Motion
    that drove each face) and dyadic.jsonl into `out_dir`. The same arguments give the same files.
    Returns the manifest's path."""
    from ...engines.builtin import load_builtin_engines

    if not isinstance(size, int) or not (MIN_SIZE <= size <= MAX_SIZE) or size % 2:
        raise TavidError(f"size must be an even number of pixels from {MIN_SIZE} to {MAX_SIZE}, got {size!r}",
                         where="size")
    if not (SECONDS_RANGE[0] <= seconds <= SECONDS_RANGE[1]):
        raise TavidError(f"seconds must be between {SECONDS_RANGE[0]:g} and {SECONDS_RANGE[1]:g}, got {seconds:g}",
                         where="seconds")
    runtime = runtime or StandaloneRuntime(device="cpu", quiet=True)
    os.makedirs(out_dir, exist_ok=True)
    engines = load_builtin_engines()
    speech = _speech(engines, seconds, seed, runtime)
    motions = engines.motion_mapper.map(speech, runtime=runtime, fps=FPS, seed=seed)
    if speech.sample_rate != SAMPLE_RATE:
        raise TavidError(f"the built-in voices spoke at {speech.sample_rate} Hz", where="dyadic clip")
    entry = {}
    people = zip("ab", (portrait for _, portrait in SPEAKERS.values()), speech.tracks, motions)
    for who, portrait, track, motion in runtime.steps(people, 2, "rendering the dyadic clip"):
        names = _write_person(out_dir, who, engines, portrait, track, motion, size, runtime)
        entry |= {f"video_{who}": names["video"], f"audio_{who}": names["audio"]}
    manifest = os.path.join(out_dir, "dyadic.jsonl")
    write_text_whole(manifest, json.dumps(entry) + "\n")
    return manifest

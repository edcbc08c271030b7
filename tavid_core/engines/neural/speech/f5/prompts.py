"""Voice prompts: the sound F5-TTS imitates and the words said in it.

Each person starts from their own prompt: the recording the user gave with its transcript, or, without
one, the built-in voice the speaker mapper chose for the face saying PROMPT_SENTENCE (so the face's voice
carries over to the cloned one). After that a person's previous turn is the prompt of their next one, so a
voice stays itself, and keeps its manner, across a long conversation.

Prompts are prepared as the reference prepares its reference audio: mono at 24 kHz, silence trimmed from
both ends, PROMPT_TAIL_S of silence appended, and raised to an RMS of 0.1 when quieter.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .....analysis.audio_features import active_span
from .....errors import TavidError
from .....media.audio import resample
from .....types import VoicePrompt
from .config import PROMPT_TAIL_S

PROMPT_SENTENCE = "Hello there! It is good to see you again; I have been looking forward to talking with you."
MIN_RECORDING_S = 1.0     # less is too little of a voice to imitate
MAX_RECORDING_S = 15.0    # the reference keeps at most about 12 s, cutting the transcript's words off the sound
MAX_TURN_PROMPT_S = 12.0  # a longer turn leaves the previous prompt in place
TARGET_RMS = 0.1


@dataclass(frozen=True, eq=False)
class Prompt:
    """A prepared prompt. `as_voice`: it already sounds at the voice's pitch and pace (a built-in voice that
    applied them, or an earlier turn), so they are not applied again to what imitates it."""

    audio: np.ndarray      # mono float32 at the engine's rate, trimmed, with its silent tail
    text: str
    as_voice: bool


def prepared(audio: np.ndarray, sample_rate: int, target_rate: int) -> np.ndarray:
    """Mono `audio` resampled, trimmed of silence, with its silent tail, at an RMS of at least TARGET_RMS."""
    wave = resample(np.asarray(audio, np.float32).reshape(-1), sample_rate, target_rate)
    start, stop = active_span(wave, target_rate)
    wave = np.concatenate([wave[start:stop], np.zeros(int(PROMPT_TAIL_S * target_rate), np.float32)])
    rms = float(np.sqrt(np.mean(wave ** 2))) if len(wave) else 0.0
    return wave * np.float32(TARGET_RMS / rms) if 0.0 < rms < TARGET_RMS else wave


def check_recording(audio: np.ndarray, sample_rate: int, where: str) -> None:
    """A recording F5-TTS can imitate: not silent, MIN_RECORDING_S to MAX_RECORDING_S long."""
    seconds = len(audio) / sample_rate
    if seconds < MIN_RECORDING_S or seconds > MAX_RECORDING_S:
        raise TavidError(f"the recording is {seconds:.1f} s long; F5-TTS imitates {MIN_RECORDING_S:g} to "
                         f"{MAX_RECORDING_S:g} s of speech", where=where,
                         fix="Cut it to a sentence or two of clean speech (5 to 10 s is best) and give the words "
                             "said in that part as its transcript.")
    if float(np.abs(audio).max(initial=0.0)) < 1e-4:
        raise TavidError("the recording is silent", where=where, fix="Give a few seconds of clear speech.")


def recording_prompt(recording: VoicePrompt, transcript: str | None, target_rate: int, where: str) -> Prompt:
    """A user's recording as a prompt; `transcript` the words said in it (the recording's own, or the
    script's voice line)."""
    text = recording.text or transcript
    if not text:
        raise TavidError("the voice recording has no transcript: F5-TTS imitates a recording only together with "
                         "the words said in it", where=where,
                         fix="Type what is said in the recording into the Speaker Mapper's transcript (tavid generate "
                             "--transcript-a/-b), or add a script line such as '[voice A] the words', or leave the "
                             "recording out to use the voice chosen for the face.")
    check_recording(recording.audio, recording.sample_rate, where)
    return Prompt(prepared(recording.audio, recording.sample_rate, target_rate), text.strip(), as_voice=False)


def builtin_prompt(audio: np.ndarray, sample_rate: int, target_rate: int) -> Prompt:
    """PROMPT_SENTENCE as a built-in voice said it (already at the voice's pitch and pace)."""
    return Prompt(prepared(audio, sample_rate, target_rate), PROMPT_SENTENCE, as_voice=True)


def turn_prompt(audio: np.ndarray, text: str, sample_rate: int, previous: Prompt) -> Prompt:
    """A turn just spoken as the next prompt of its speaker, or `previous` when the turn is too long to be one."""
    if len(audio) > MAX_TURN_PROMPT_S * sample_rate or not len(audio):
        return previous
    return Prompt(prepared(audio, sample_rate, sample_rate), text, as_voice=True)

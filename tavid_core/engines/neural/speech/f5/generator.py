"""The F5-TTS speech generator: each turn imitates its speaker's prompt (prompts.py), with the reference's
duration rule, time grid, guidance and 32 Euler steps by default (the Speech Generator's steps, solver and
cfg change them; F5-TTS has no speaker guidance), turned into sound by Vocos and laid on the two-track
timeline by the rules every speech engine shares (engines/timeline.py: gaps, pauses, backchannels).

A turn longer than one generation holds (prompt and speech about 22 s) is spoken in chunks cut at
sentence ends, each after the same prompt, cross-faded as the reference does. `Speech.features` carry the
DiT's hidden layer like our own neural speech (features.py), so both motion mappers read F5-TTS speech.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from .....analysis.audio_features import active_span
from .....errors import EngineUnavailableError, TavidError
from .....runtime import Runtime
from .....types import Backchannel, EncodedText, EncodedTurn, Speech, Voice
from ....memory import out_of_memory_advice
from ....protocols import SpeechGenerator
from ....shared.utterance import Utterance
from ....timeline import backchannel_seed, lay_out, mix_tracks, segments, trim_and_level
from ...common.flow import check_ode_method
from ...common.inference import autocast, seeded
from ..features import feature_names, feature_rate, with_hidden
from ..mel import LogMel, shift_pitch
from .config import CROSS_FADE_S, F5_MEL, SAMPLING
from .dit import F5DiT
from .duration import chunk_bytes, chunk_text, normalise_ref_text, total_frames
from .prompts import PROMPT_SENTENCE, Prompt, builtin_prompt, recording_prompt, turn_prompt
from .sampler import sample
from .text import F5TextFrontEnd
from .vocos import VocosVocoder

log = logging.getLogger("tavid")


class PromptVoices(Protocol):
    """What speaks the built-in prompts: the built-in speech engine (engines/load.py hands it over)."""

    def resolve_voices(self, voices: tuple[Voice, Voice]) -> tuple[str, str]: ...

    def usable(self, voice: Voice, who: str) -> str: ...

    def speak(self, text: str, name: str, voice: Voice, seed: int) -> Utterance: ...


@dataclass
class _Spoken:
    audio: np.ndarray        # the sound as generated, before trimming
    features: np.ndarray     # [T, dim] hidden features at the mel rate
    first_frame: int = 0     # the mel frame where its sound starts, once cut to the sound


class F5SpeechGenerator(SpeechGenerator):
    name = "f5-tts"
    family = "neural"

    def __init__(self, dit: F5DiT, vocoder: VocosVocoder, front: F5TextFrontEnd, *,
                 precision: torch.dtype = torch.float32, prompt_voices: PromptVoices | None = None):
        self.dit = dit.eval()
        self.vocoder = vocoder.eval()
        self.front = front
        self.precision = precision
        self.prompt_voices = prompt_voices
        self.sample_rate = F5_MEL.sample_rate
        self._mel = LogMel(F5_MEL)

    def modules(self) -> list[torch.nn.Module]:
        return [self.dit, self.vocoder]

    # ---------------------------------------------------------------- prompts
    def first_prompts(self, voices: tuple[Voice, Voice], seed: int,
                      transcripts: tuple[str | None, str | None] = (None, None)) -> list[Prompt]:
        """Each person's prompt before their first turn: their recording (with its own transcript, else the
        script's [voice ...] line in `transcripts`), or their built-in voice saying PROMPT_SENTENCE (two faces
        never get the same built-in voice: the second takes the next one ranked)."""
        prompts: list[Prompt | None] = [None, None]
        for i, voice in enumerate(voices):
            if voice.prompt is not None:
                prompts[i] = recording_prompt(voice.prompt, transcripts[i], self.sample_rate, f"voice_{'ab'[i]}")
            elif voice.engine != "builtin" or not voice.preset:
                raise TavidError("this voice has neither a recording nor a built-in voice for F5-TTS to imitate",
                                 where=f"voice_{'ab'[i]}",
                                 fix="Map the face with the speaker mapper of the F5-TTS loader (or the built-in "
                                     "engines), with or without a recording.")
        missing = [i for i in (0, 1) if prompts[i] is None]
        if missing:
            if self.prompt_voices is None:
                raise EngineUnavailableError("F5-TTS needs the built-in voices to make a prompt for a voice without a "
                                             "recording", where="voice", fix="Give both voices a recording.")
            names = (self.prompt_voices.resolve_voices(voices) if len(missing) == 2 else
                     {i: self.prompt_voices.usable(voices[i], f"voice {'AB'[i]}") for i in missing})
            for i in missing:
                said = self.prompt_voices.speak(PROMPT_SENTENCE, names[i], voices[i], seed=seed * 100003 + 99991 + i)
                prompts[i] = builtin_prompt(said.audio, said.sample_rate, self.sample_rate)
        return prompts

    # ---------------------------------------------------------------- generate
    def generate(self, text: EncodedText, voices: tuple[Voice, Voice], *, runtime: Runtime, seed: int = 0,
                 steps: int | None = None, cfg: float | None = None, speaker_cfg: float | None = None,
                 solver: str | None = None) -> Speech:
        method = solver or SAMPLING.method
        check_ode_method(method, where="solver")
        sampling = (SAMPLING.steps if steps is None else steps, method, SAMPLING.cfg if cfg is None else cfg)
        last = self.first_prompts(voices, seed, text.dialogue.voice_texts)   # each person's prompt for their next turn
        runtime.load(self)
        spoken: dict[tuple[int, int], _Spoken] = {}

        def speak(i: int, turn: EncodedTurn) -> Utterance:
            voice, prompt = voices[turn.speaker], last[turn.speaker]
            said = self._speak(turn.text, voice, prompt, seeded(seed, i), sampling, runtime, f"turn {i + 1}")
            spoken[i, -1] = said
            utterance = self._utterance(said)
            last[turn.speaker] = turn_prompt(utterance.audio, turn.text, self.sample_rate, prompt)
            return utterance

        def speak_backchannel(i: int, j: int, turn: EncodedTurn, mark: Backchannel) -> Utterance:
            listener = 1 - turn.speaker
            said = self._speak(mark.text, voices[listener], last[listener], seeded(backchannel_seed(seed, i, j)),
                               sampling, runtime, f"backchannel {j + 1} of turn {i + 1}")
            spoken[i, j] = said
            return self._utterance(said)

        sr, hop, dim = self.sample_rate, F5_MEL.hop, self.dit.cfg.dim
        placed = lay_out(text, speak, speak_backchannel, sample_rate=sr, seed=seed, runtime=runtime)
        tracks = mix_tracks(placed, sr)
        features = with_hidden(tracks, placed, lambda p: (spoken[p.turn, p.part].features,
                                                          spoken[p.turn, p.part].first_frame), sr, hop, dim)
        return Speech(sample_rate=sr, tracks=tracks, timeline=segments(placed), features=features,
                      feature_rate=feature_rate(sr, hop), feature_names=feature_names(dim), voices=voices)

    def _speak(self, text: str, voice: Voice, prompt: Prompt, generator: torch.Generator,
               sampling: tuple[int, str, float], runtime: Runtime, what: str) -> _Spoken:
        """`text` imitating `prompt`, in chunks when it is long; the voice's pitch and pace are applied
        unless the prompt already has them."""
        steps, method, cfg = sampling
        speed = 1.0 if prompt.as_voice else voice.rate
        pitch = 0.0 if prompt.as_voice else voice.pitch_semitones
        ref_text = normalise_ref_text(prompt.text)
        ref_samples = len(prompt.audio)
        chunks = chunk_text(text, chunk_bytes(ref_text, ref_samples / self.sample_rate, speed)) or [text]
        device = runtime.device
        with torch.inference_mode():
            prompt_mel = self._mel.to(device)(torch.from_numpy(prompt.audio)[None].to(device))
        waves, hidden = [], []
        for chunk in chunks:
            frames = total_frames(ref_samples, ref_text, chunk, speed=speed, hop=F5_MEL.hop)
            doing = f"generating {what} ({(frames - ref_samples // F5_MEL.hop) / F5_MEL.frame_rate:.1f} s of speech)"
            with out_of_memory_advice(runtime, doing, "steps", lower="Split long turns"), torch.inference_mode():
                with autocast(device, self.precision):
                    mel, features = sample(self.dit, prompt_mel, self.front.batch([ref_text + chunk]).to(device),
                                           frames, generator=generator, steps=steps, cfg=cfg, sway=SAMPLING.sway,
                                           method=method, on_step=lambda *_: runtime.check_interrupt(), features=True)
                new = shift_pitch(mel[:, ref_samples // F5_MEL.hop:].float(), pitch, F5_MEL)
                param = next(self.vocoder.parameters())
                waves.append(self.vocoder.vocode(new.to(param.device))[0].float().cpu().numpy())
            hidden.append(features[0, ref_samples // F5_MEL.hop:].float().cpu().numpy())
        return _Spoken(audio=_cross_faded(waves, int(CROSS_FADE_S * self.sample_rate)),
                       features=_joined(hidden, int(CROSS_FADE_S * self.sample_rate) // F5_MEL.hop))

    def _utterance(self, said: _Spoken) -> Utterance:
        """The generated sound cut to where it sounds and levelled; its first sounding frame noted."""
        span = active_span(said.audio, self.sample_rate)
        said.first_frame = span[0] // F5_MEL.hop
        return trim_and_level(Utterance(audio=said.audio, sample_rate=self.sample_rate, phones=(), words=()), span)

    def describe(self) -> dict:
        precision = str(self.precision).replace("torch.", "")
        return super().describe() | {"sample_rate": self.sample_rate, "precision": precision,
                                     "vocabulary": len(self.front.vocab), "default_steps": SAMPLING.steps,
                                     "default_cfg": SAMPLING.cfg, "sway": SAMPLING.sway}


def _cross_faded(waves: list[np.ndarray], overlap: int) -> np.ndarray:
    """Chunks joined with linear cross-fades of `overlap` samples (shorter when a chunk is)."""
    out = waves[0]
    for wave in waves[1:]:
        n = min(overlap, len(out), len(wave))
        if n <= 0:
            out = np.concatenate([out, wave])
            continue
        fade = np.linspace(0.0, 1.0, n, dtype=np.float32)
        out = np.concatenate([out[:-n], out[-n:] * (1 - fade) + wave[:n] * fade, wave[n:]])
    return out.astype(np.float32)


def _joined(features: list[np.ndarray], overlap_frames: int) -> np.ndarray:
    """Chunks' hidden features in the time of their cross-faded sound: each later one loses the frames the
    cross-fade takes."""
    return np.concatenate([features[0]] + [f[min(overlap_frames, len(f) - 1):] for f in features[1:]])

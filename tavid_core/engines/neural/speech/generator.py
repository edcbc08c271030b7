"""The neural speech generator: each turn is a mel infilled by the DiT after the speaker's previous
turn (the in-context prompt), turned into sound by the vocoder and laid on the two-track timeline by
the same rules as the built-in voices (engines/timeline.py).

`Speech.features` are the named features and the DiT's hidden layer (features.py).

LoRAs (engines/neural/lora/) patch the DiT: the generator is a LoraHost of the "speech_model" block.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ....analysis.audio_features import active_span
from ....errors import TavidError
from ....runtime import Runtime
from ....types import Backchannel, EncodedText, EncodedTurn, Speech, Voice
from ...memory import out_of_memory_advice
from ...protocols import SpeechGenerator
from ...shared.utterance import Utterance
from ...timeline import backchannel_seed, lay_out, mix_tracks, segments, trim_and_level
from ..common.flow import check_ode_method
from ..common.inference import autocast, seeded
from ..lora.host import LoraHost
from .config import SpeechSideConfig
from .dit import SpeechDiT, generate
from .features import feature_names, feature_rate, with_hidden
from .mel import shift_pitch
from .vocoder import Vocoder

DEFAULT_STEPS = 32
DEFAULT_CFG = 2.0           # guidance on the text (and prompt)
DEFAULT_SPEAKER_CFG = 1.0   # guidance on the speaker embedding


@dataclass
class _Spoken:
    """One generated utterance before placement: its mel (the next prompt) and its hidden features."""

    mel: torch.Tensor        # [T, n_mels], float32 on the CPU
    text: np.ndarray         # [L, text_dim] the transcript embedding it was made from
    features: np.ndarray     # [T, dim]
    first_frame: int = 0     # the mel frame where its sound starts, once cut to the sound


class NeuralSpeechGenerator(SpeechGenerator, LoraHost):
    name = "tavid-speech"
    family = "neural"
    lora_block = "speech_model"

    def __init__(self, dit: SpeechDiT, vocoder: Vocoder, config: SpeechSideConfig,
                 precision: torch.dtype = torch.float32, method: str = "euler"):
        check_ode_method(method, where="method")
        self.dit = dit.eval()
        self.vocoder = vocoder.eval()
        self.config = config
        self.precision = precision
        self.method = method
        self.sample_rate = config.mel.sample_rate

    def modules(self) -> list[torch.nn.Module]:
        return [self.dit, self.vocoder]

    @property
    def feature_rate(self) -> float:
        return feature_rate(self.sample_rate, self.config.mel.hop)

    # ------------------------------------------------------------------- LoRAs
    def lora_network(self) -> SpeechDiT:
        return self.dit

    def lora_model_config(self) -> dict:
        return self.config.to_dict()

    def check_lora_config(self, file_config: dict, where: str) -> None:
        made, have = SpeechSideConfig.from_dict(file_config, where=f"{where} speech settings").dit, self.config.dit
        remake = "Use a LoRA trained on this speech model (tavid train speech --init <its checkpoint> --lora-rank N)."
        if made.dim != have.dim:
            raise TavidError(f"this LoRA was made for a speech model with dim {made.dim}, the connected one has "
                             f"{have.dim}", where=where, fix=remake)
        if made.depth != have.depth:
            lacking = f" (it has no blocks.{have.depth}.attn)" if made.depth > have.depth else ""
            raise TavidError(f"this LoRA was made for a speech model with {made.depth} blocks, the connected one has "
                             f"{have.depth}{lacking}", where=where, fix=remake)

    def with_network(self, network: SpeechDiT) -> "NeuralSpeechGenerator":
        return NeuralSpeechGenerator(network, self.vocoder, self.config, self.precision, self.method)

    # ------------------------------------------------------------------ checks
    def _check_inputs(self, text: EncodedText, voices: tuple[Voice, Voice]) -> None:
        dim = self.config.dit.speaker_dim
        for who, voice in zip("AB", voices):
            if voice.engine != "neural" or voice.embedding is None or voice.embedding.shape != (dim,):
                have = ("a voice of the built-in engines" if voice.engine != "neural"
                        else f"an embedding of {voice.embedding.shape[0]} values")
                raise TavidError(f"the neural speech model needs a speaker embedding of {dim} values, got {have}",
                                 where=f"voice_{who.lower()}",
                                 fix="Map the face with the speaker mapper from the same checkpoint loader.")
        width = self.config.dit.text_dim
        for number, turn in enumerate(text.turns, start=1):
            embeddings = [turn.embedding, *turn.backchannel_embeddings]
            if any(e is None or e.ndim != 2 or e.shape[1] != width for e in embeddings) or \
                    len(embeddings) != 1 + len(turn.backchannels):
                raise TavidError(f"turn {number} was not encoded by a neural text encoder of width {width}",
                                 where="text", fix="Encode the dialogue with the text encoder from the same "
                                                   "checkpoint loader.")

    # ---------------------------------------------------------------- generate
    def generate(self, text: EncodedText, voices: tuple[Voice, Voice], *, runtime: Runtime, seed: int = 0,
                 steps: int | None = None, cfg: float | None = None, speaker_cfg: float | None = None,
                 solver: str | None = None) -> Speech:
        self._check_inputs(text, voices)
        method = solver or self.method
        runtime.load(self)
        steps = DEFAULT_STEPS if steps is None else steps
        guidance = (DEFAULT_CFG if cfg is None else cfg, DEFAULT_SPEAKER_CFG if speaker_cfg is None else speaker_cfg)
        spoken: dict[tuple[int, int], _Spoken] = {}   # (turn, Placed.part) -> what was generated
        last: list[_Spoken | None] = [None, None]     # each person's previous turn: their next prompt

        def speak(i: int, turn: EncodedTurn) -> Utterance:
            said = self._speak(turn.embedding, voices[turn.speaker], last[turn.speaker], seeded(seed, i),
                               (steps, method, *guidance), runtime, f"turn {i + 1}")
            last[turn.speaker] = said
            spoken[i, -1] = said
            return self._utterance(said, voices[turn.speaker])

        def speak_backchannel(i: int, j: int, turn: EncodedTurn, mark: Backchannel) -> Utterance:
            listener = 1 - turn.speaker
            said = self._speak(turn.backchannel_embeddings[j], voices[listener], last[listener],
                               seeded(backchannel_seed(seed, i, j)), (steps, method, *guidance), runtime,
                               f"backchannel {j + 1} of turn {i + 1}")
            spoken[i, j] = said
            return self._utterance(said, voices[listener])

        sr = self.sample_rate
        placed = lay_out(text, speak, speak_backchannel, sample_rate=sr, seed=seed, runtime=runtime)
        tracks = mix_tracks(placed, sr)
        features = with_hidden(tracks, placed, lambda p: (spoken[p.turn, p.part].features,
                                                          spoken[p.turn, p.part].first_frame),
                               sr, self.config.mel.hop, self.config.dit.dim)
        return Speech(sample_rate=sr, tracks=tracks, timeline=segments(placed), features=features,
                      feature_rate=self.feature_rate, feature_names=feature_names(self.config.dit.dim), voices=voices)

    def _speak(self, text: np.ndarray, voice: Voice, prompt: _Spoken | None, generator: torch.Generator,
               sampling: tuple[int, str, float, float], runtime: Runtime, what: str) -> _Spoken:
        """One utterance's mel and features, after `prompt` when it is short enough to serve as one.
        `sampling`: steps, ODE method, text guidance, speaker guidance."""
        device, cfg = runtime.device, self.config
        steps, method, cfg_text, cfg_speaker = sampling
        if prompt is not None and prompt.mel.shape[0] > cfg.dit.prompt_seconds * cfg.mel.frame_rate:
            prompt = None
        frames = max(8, round(len(text) * cfg.dit.frames_per_token / voice.rate))
        transcript = text if prompt is None else np.concatenate([prompt.text, text])
        prompt_mel = None if prompt is None else prompt.mel[None].to(device)
        total = frames + (0 if prompt is None else prompt.mel.shape[0])
        doing = f"generating {what} ({frames / cfg.mel.frame_rate:.1f} s of speech)"
        with (out_of_memory_advice(runtime, doing, "steps", lower="Split long turns"), torch.inference_mode(),
              autocast(device, self.precision)):
            mel, hidden = generate(
                self.dit, prompt_mel, total, torch.from_numpy(transcript)[None].to(device),
                torch.from_numpy(voice.embedding)[None].to(device), steps=steps, method=method,
                cfg_text=cfg_text, cfg_speaker=cfg_speaker, generator=generator,
                on_step=lambda *_: runtime.check_interrupt())
        return _Spoken(mel=mel[0].float().cpu(), text=text, features=hidden[0].float().cpu().numpy())

    def _utterance(self, said: _Spoken, voice: Voice) -> Utterance:
        """The sound of a generated mel, pitched as the voice asks, cut to its sound and levelled."""
        mel = shift_pitch(said.mel, voice.pitch_semitones, self.config.mel)
        param = next(self.vocoder.parameters())
        with torch.inference_mode():
            audio = self.vocoder.vocode(mel[None].to(param.device))[0].float().cpu().numpy()
        span = active_span(audio, self.sample_rate)
        said.first_frame = span[0] // self.config.mel.hop
        return trim_and_level(Utterance(audio=audio, sample_rate=self.sample_rate, phones=(), words=()), span)

    def describe(self) -> dict:
        precision = str(self.precision).replace("torch.", "")
        return super().describe() | {"sample_rate": self.sample_rate, "config": self.config.name,
                                     "method": self.method, "precision": precision} | self.lora_description()


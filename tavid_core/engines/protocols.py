"""One protocol per TAVID block. Built-in and neural engines implement the same ones, so a graph or a
script swaps engines without changing anything else.

    text encoder    Dialogue            -> EncodedText
    speaker mapper  face image (+audio) -> Voice
    speech model    EncodedText, 2 Voice -> Speech
    motion mapper   Speech              -> Motion for A, Motion for B
    face model      reference + Motion  -> frames
"""
from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
import torch

from ..runtime import Runtime
from ..types import Dialogue, EncodedText, Motion, Speech, Voice
from .memory import is_out_of_memory, out_of_memory_advice, release_memory

log = logging.getLogger("tavid")


class Engine(ABC):
    """Common to every engine: a name, its family, and its networks for the runtime to place."""

    name: str = "engine"
    family: str = "builtin"  # "builtin" or "neural"

    def modules(self) -> list[torch.nn.Module]:
        return []

    def describe(self) -> dict:
        return {"name": self.name, "family": self.family}


class TextEncoder(Engine):
    @abstractmethod
    def encode(self, dialogue: Dialogue, *, runtime: Runtime) -> EncodedText: ...


class SpeakerMapper(Engine):
    @abstractmethod
    def map_face(self, image: np.ndarray, *, runtime: Runtime, reference_audio: tuple[np.ndarray, int] | None = None,
                 voice: str = "auto", pitch_semitones: float | None = None, rate: float | None = None,
                 where: str = "face", reference_text: str | None = None) -> Voice:
        """A voice for the person in `image` (uint8 RGB). `voice` other than "auto" picks one by name;
        `pitch_semitones` / `rate` override what the face suggests. `reference_audio` is a recording of the
        person's voice and `reference_text` the words said in it (voice-cloning engines need both)."""


class SpeechGenerator(Engine):
    sample_rate: int = 24000

    @abstractmethod
    def generate(self, text: EncodedText, voices: tuple[Voice, Voice], *, runtime: Runtime, seed: int = 0,
                 steps: int | None = None, cfg: float | None = None, speaker_cfg: float | None = None,
                 solver: str | None = None) -> Speech:
        """Both people's speech on one timeline. `steps`, `cfg` (guidance on the text), `speaker_cfg`
        (guidance on the voice) and `solver` (an ODE method) steer sampling engines; None leaves the
        engine's defaults."""


class MotionMapper(Engine):
    @abstractmethod
    def map(self, speech: Speech, *, runtime: Runtime, fps: float = 25.0, seed: int = 0,
            expressiveness: float = 1.0) -> tuple[Motion, Motion]: ...




@dataclass(frozen=True)
class SamplerSettings:
    """Sampling controls of a face model. Engines that do not sample (the built-in warper) ignore them.
    `cfg` is the guidance on the motion, `identity_cfg` on the reference face (None: the same as `cfg`);
    `custom` is an engine-specific replacement for sampler and scheduler (inside ComfyUI: its own SAMPLER
    and SIGMAS), so it is not compared."""

    sampler: str = "auto"
    scheduler: str = "auto"
    steps: int = 20
    cfg: float = 2.0
    seed: int = 0
    identity_cfg: float | None = None
    custom: object | None = field(default=None, compare=False)


class PreparedFace(ABC):
    """A reference face analysed once and reused for every frame: what `FaceModel.render` draws."""

    size: int


class FaceModel(Engine):
    counts_steps: bool = False   # True: rendering reports progress per sampling step itself
    # True: two faces may render at once on two threads (the work releases Python's lock and the faces share
    # no state); a sampling model on one accelerator gains nothing from it
    renders_concurrently: bool = False
    @abstractmethod
    def prepare(self, image: np.ndarray, *, size: int, runtime: Runtime, where: str = "face") -> PreparedFace:
        """Analyse a reference photo (uint8 RGB) into a `size` x `size` face to animate."""

    @abstractmethod
    def render(self, face: PreparedFace, motion: Motion, *, runtime: Runtime,
               settings: SamplerSettings = SamplerSettings()) -> np.ndarray:
        """Frames uint8 [T, size, size, 3] following `motion` (a window of a longer Motion is fine)."""

    def render_fitting(self, face: PreparedFace, motion: Motion, *, runtime: Runtime,
                       settings: SamplerSettings = SamplerSettings()) -> np.ndarray:
        """`render`, but a window that runs out of memory is rendered again in halves, down to single
        frames; only a single frame that does not fit is an error, and it says what to lower."""
        if motion.num_frames <= 1:
            with out_of_memory_advice(runtime, f"rendering one frame of a {face.size} px face", "size",
                                      lower="Lower size or steps"):
                return self.render(face, motion, runtime=runtime, settings=settings)
        try:
            return self.render(face, motion, runtime=runtime, settings=settings)
        except Exception as e:  # noqa: BLE001 - only memory errors are handled, the rest re-raised
            if not is_out_of_memory(e):
                raise
            release_memory(runtime)
        half = motion.num_frames // 2
        log.warning("out of memory rendering %d frames at once; rendering %d at a time", motion.num_frames, half)
        return np.concatenate([
            self.render_fitting(face, motion.window(0, half), runtime=runtime, settings=settings),
            self.render_fitting(face, motion.window(half, motion.num_frames), runtime=runtime, settings=settings)])

    def render_chunks(self, face: PreparedFace, motion: Motion, *, runtime: Runtime,
                      settings: SamplerSettings = SamplerSettings(), chunk: int = 25) -> Iterator[np.ndarray]:
        """Render in windows of `chunk` frames so long clips never hold all frames at once."""
        for start in range(0, motion.num_frames, chunk):
            runtime.check_interrupt()
            yield self.render_fitting(face, motion.window(start, min(start + chunk, motion.num_frames)),
                                      runtime=runtime, settings=settings)


@dataclass(frozen=True)
class EngineSet:
    """The five blocks a loader provides."""

    text_encoder: TextEncoder
    speech_model: SpeechGenerator
    speaker_mapper: SpeakerMapper
    motion_mapper: MotionMapper
    face_model: FaceModel

    BLOCKS = ("text_encoder", "speech_model", "speaker_mapper", "motion_mapper", "face_model")

    def blocks(self) -> tuple:
        """The five engines in BLOCKS order (the order of every loader node's outputs)."""
        return tuple(getattr(self, k) for k in self.BLOCKS)

    def describe(self) -> dict:
        return {k: engine.describe() for k, engine in zip(self.BLOCKS, self.blocks())}

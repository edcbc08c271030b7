"""End to end: a dialogue and two faces become an MP4 of both people talking and listening, with speech.

    from tavid_core import TavidPipeline, parse_script
    pipe = TavidPipeline.builtin()
    result = pipe.generate(parse_script(text), face_a, face_b, "out.mp4")

The same blocks the ComfyUI nodes expose run in order; frames are rendered and encoded in windows, so
memory does not grow with the length of the dialogue. Beside the video goes a JSON file with the
timeline (who speaks when, word by word) and the settings used.
"""
from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

import numpy as np

from .analysis.faces import turn_toward
from .engines.protocols import EngineSet, FaceModel, PreparedFace, SamplerSettings
from .errors import TavidError
from .limits import (MAX_MINUTES, MAX_MINUTES_RANGE, MAX_SIZE, MIN_SIZE, MIRROR_MODES, ODE_METHODS, PITCH_SHIFT_RANGE,
                     SEED_RANGE, SPEAKERS, SPEED_RANGE, STEPS_RANGE, check_length, check_script_length)
from .media.compose import canvas_size, check_layout, compose, floor_holder
from .media.files import remove_quietly, write_text_whole
from .media.images import as_uint8_rgb
from .media.video import VideoWriter
from .runtime import Runtime, StandaloneRuntime
from .runtime.stage_clock import StageClock
from .runtime.threads import one_core_left
from .types import Dialogue, Motion, Speech, Voice


def check_between(value: float, bounds: tuple[float, float], what: str, where: str, fix: str) -> None:
    low, high = bounds
    if not (low <= value <= high):  # also refuses NaN
        raise TavidError(f"{what} must be between {low:g} and {high:g}, got {value:g}", where=where, fix=fix)


@dataclass(frozen=True)
class GenerateSettings:
    fps: float = 25.0
    size: int = 512               # pixels per face (square)
    seed: int = 0
    layout: str = "side_by_side"
    voice_a: str = "auto"         # "auto": from the face; or a voice name
    voice_b: str = "auto"
    pitch_a: float = 0.0          # semitones added to the voice, PITCH_SHIFT_RANGE
    pitch_b: float = 0.0
    speed_a: float = 1.0          # speaking rate multiplier, SPEED_RANGE
    speed_b: float = 1.0
    expressiveness: float = 1.0
    sampler: SamplerSettings = field(default_factory=SamplerSettings)
    window: int = 25              # frames rendered and encoded at a time
    mirror: str = "auto"          # "auto": mirror a photo whose face is turned away from the partner; "never"
    max_minutes: float = MAX_MINUTES  # longest speech accepted (see limits.check_length)
    speech_steps: int | None = None   # ODE steps of neural speech; None: the engine's own (F5-TTS: 32)
    solver: str | None = None         # ODE method of neural speech (limits.ODE_METHODS); None: the engine's
    recording_a: str | None = None    # a recording of A's voice (an audio file) for the speaker mapper to match
    recording_b: str | None = None
    transcript_a: str | None = None   # the words said in it (voice-cloning engines need them)
    transcript_b: str | None = None

    def check(self) -> None:
        if not (1.0 <= self.fps <= 120.0):
            raise TavidError(f"fps must be between 1 and 120, got {self.fps:g}", where="fps")
        if not (MIN_SIZE <= self.size <= MAX_SIZE) or self.size % 2:
            raise TavidError(f"size must be an even number of pixels from {MIN_SIZE} to {MAX_SIZE}, got {self.size}",
                             where="size")
        if not (0.0 <= self.expressiveness <= 3.0):
            raise TavidError(f"expressiveness must be between 0 and 3, got {self.expressiveness:g}",
                             where="expressiveness")
        for who in SPEAKERS:
            _, pitch_shift, speed = self.voice_options(who)
            check_between(pitch_shift, PITCH_SHIFT_RANGE, "pitch shift in semitones", f"pitch_{who}",
                          "Use 0 for the voice's own pitch.")
            check_between(speed, SPEED_RANGE, "speed", f"speed_{who}", "Use 1 for the voice's own speaking rate.")
        check_layout(self.layout)
        if not (SEED_RANGE[0] <= self.seed <= SEED_RANGE[1]):
            raise TavidError(f"seed must be a whole number from 0 to {SEED_RANGE[1]}, got {self.seed}", where="seed",
                             fix="Any seed in that range works; the same seed gives the same video.")
        check_between(self.sampler.steps, STEPS_RANGE, "steps", "steps", "20-30 steps suit most samplers.")
        if self.speech_steps is not None:
            check_between(self.speech_steps, STEPS_RANGE, "steps", "speech_steps", "16-32 steps suit speech.")
        if self.solver is not None and self.solver not in ODE_METHODS:
            raise TavidError(f"unknown solver {self.solver!r}", where="solver",
                             fix=f"Use one of {', '.join(ODE_METHODS)}.")
        check_between(self.max_minutes, MAX_MINUTES_RANGE, "the longest dialogue in minutes", "max_minutes",
                      f"The default is {MAX_MINUTES:g}.")
        if self.mirror not in MIRROR_MODES:
            raise TavidError(f"unknown mirror mode {self.mirror!r}", where="mirror",
                             fix=f"Use one of {', '.join(MIRROR_MODES)}.")

    def voice_options(self, who: str) -> tuple[str, float, float]:
        """Voice name, pitch shift and speed of speaker `who` ("a" or "b")."""
        return getattr(self, f"voice_{who}"), getattr(self, f"pitch_{who}"), getattr(self, f"speed_{who}")

    def recording(self, who: str) -> tuple[str | None, str | None]:
        """The recording of speaker `who`'s voice and its transcript."""
        return getattr(self, f"recording_{who}"), getattr(self, f"transcript_{who}")


@dataclass
class GenerateResult:
    video_path: str
    timeline_path: str
    frames: int
    duration_s: float
    speech: Speech
    voices: tuple[Voice, Voice] | None   # None for a dub: the voices are the recording's
    seconds: dict = field(default_factory=dict)  # wall time per stage


def fit_audio(audio: np.ndarray, sample_rate: int, frames: int, fps: float) -> np.ndarray:
    """Pad or trim audio [..., N] to exactly the length of `frames` video frames."""
    target = int(round(frames / fps * sample_rate))
    n = audio.shape[-1]
    if n >= target:
        return audio[..., :target]
    return np.pad(audio, [(0, 0)] * (audio.ndim - 1) + [(0, target - n)])


class TavidPipeline:
    """Runs the five blocks of an `EngineSet` on one `Runtime`."""

    def __init__(self, engines: EngineSet, runtime: Runtime | None = None):
        self.engines = engines
        self.runtime = runtime or StandaloneRuntime()

    @classmethod
    def builtin(cls, runtime: Runtime | None = None, **options) -> "TavidPipeline":
        from .engines.builtin import load_builtin_engines
        return cls(load_builtin_engines(**options), runtime)

    @classmethod
    def from_checkpoints(cls, paths: list[str], runtime: Runtime | None = None, dtype: str = "auto",
                         loras: list[tuple[str, float]] = (), vae: str | None = None) -> "TavidPipeline":
        """Engines from trained checkpoints (the built-in engines fill the blocks they lack), with LoRAs
        ((file, strength) pairs) each on the model it was made for (the speech or the face model). `vae`: a
        Stable Diffusion VAE file, for a face model trained on one."""
        from .engines.load import load_engines
        engines = load_engines(paths, dtype=dtype, vae=vae)
        if loras:
            from .engines.neural.lora.adapters import apply_to_engines
            engines = apply_to_engines(engines, loras)
        return cls(engines, runtime)

    # ----------------------------------------------------------------------------------- the blocks
    def voices(self, face_a: np.ndarray, face_b: np.ndarray, settings: GenerateSettings) -> tuple[Voice, Voice]:
        return tuple(self.voice(face, who, settings) for face, who in zip((face_a, face_b), SPEAKERS))

    def voice(self, face: np.ndarray, who: str, settings: GenerateSettings) -> Voice:
        """The voice of speaker `who`: mapped from the face or chosen by name, then shifted and sped up."""
        name, pitch_shift, speed = settings.voice_options(who)
        recording, transcript = settings.recording(who)
        audio = None
        if recording is not None:
            from .media.audio import load_audio
            samples, rate = load_audio(recording, where=f"recording_{who}")
            audio = (samples.mean(axis=0), rate)
        mapped = self.engines.speaker_mapper.map_face(face, runtime=self.runtime, voice=name, reference_audio=audio,
                                                      reference_text=transcript, where=f"face {who.upper()}")
        return mapped.adjusted(pitch_shift, speed)

    def speech(self, dialogue: Dialogue, voices: tuple[Voice, Voice], settings: GenerateSettings) -> Speech:
        check_script_length(dialogue, voices, settings.max_minutes)
        text = self.engines.text_encoder.encode(dialogue, runtime=self.runtime)
        speech = self.engines.speech_model.generate(text, voices, runtime=self.runtime, seed=settings.seed,
                                                    steps=settings.speech_steps, cfg=settings.sampler.cfg,
                                                    solver=settings.solver)
        check_length(speech.duration_s, settings.max_minutes, "script")
        return speech

    def motion(self, speech: Speech, settings: GenerateSettings) -> tuple[Motion, Motion]:
        return self.engines.motion_mapper.map(speech, runtime=self.runtime, fps=settings.fps, seed=settings.seed,
                                              expressiveness=settings.expressiveness)

    # ------------------------------------------------------------------------------------- generate
    def generate(self, dialogue: Dialogue, face_a: np.ndarray, face_b: np.ndarray, output: str,
                 settings: GenerateSettings = GenerateSettings()) -> GenerateResult:
        settings.check()
        face_a, face_b = facing_each_other((face_a, face_b), settings.mirror)
        clock = StageClock()

        model = self.engines.face_model
        with preparing_faces(model, (face_a, face_b), settings.size, self.runtime) as prepared_faces:
            voices = self.voices(face_a, face_b, settings)
            clock.lap("voices")
            speech = self.speech(dialogue, voices, settings)
            clock.lap("speech")
            motion_a, motion_b = self.motion(speech, settings)
            clock.lap("motion")
            prepared = prepared_faces()
            clock.lap("faces")   # what is left of their preparation once speech and motion are done

        frames = render_video(model, prepared, (motion_a, motion_b), speech, output, layout=settings.layout,
                              sampler=settings.sampler, runtime=self.runtime, window=settings.window)
        clock.lap("render")

        voices = speech.voices or voices
        timeline_path = write_timeline(output, frames, settings.fps, speech, dialogue.speakers, {
            "voices": [v.describe() for v in voices],
            "settings": asdict(settings),
            "engines": self.engines.describe(),
            "seconds": clock.seconds,
        })
        return GenerateResult(output, timeline_path, frames, frames / settings.fps, speech,
                              voices, clock.seconds)

    # ------------------------------------------------------------------------------------------ dub
    def dub(self, recording, face_a: np.ndarray, face_b: np.ndarray, output: str,
            settings: GenerateSettings = GenerateSettings(), dialogue: Dialogue | None = None,
            dub_settings=None) -> GenerateResult:
        """A video of both faces talking and listening to `recording` (a dub.Recording of two people): its
        Speech found in the sound (dub/), the rest as `generate`; the video carries the recording itself."""
        from .dub import DubSettings, dub_speech
        settings.check()
        photos = facing_each_other((face_a, face_b), settings.mirror)
        clock = StageClock()
        with preparing_faces(self.engines.face_model, photos, settings.size, self.runtime) as prepared_faces:
            dubbed = dub_speech(recording, dialogue, dub_settings or DubSettings(), runtime=self.runtime)
            speech = dubbed.speech
            clock.lap("speech")
            motions = self.motion(speech, settings)
            clock.lap("motion")
            prepared = prepared_faces()
            clock.lap("faces")
        frames = motions[0].num_frames
        frames = render_video(self.engines.face_model, prepared, motions, speech, output, layout=settings.layout,
                              sampler=settings.sampler, runtime=self.runtime, window=settings.window,
                              soundtrack=recording.soundtrack(frames / settings.fps))
        clock.lap("render")
        speakers = dialogue.speakers if dialogue is not None else ("A", "B")
        timeline_path = write_timeline(output, frames, settings.fps, speech, speakers, {
            "dub": {**dubbed.method, "notes": dubbed.notes, "recording": [s.where for s in recording.sources]},
            "settings": asdict(settings),
            "engines": self.engines.describe(),
            "seconds": clock.seconds,
        })
        return GenerateResult(output, timeline_path, frames, frames / settings.fps, speech, None, clock.seconds)


def facing_each_other(photos: tuple[np.ndarray, np.ndarray], mirror: str, where: tuple[str, str] = ("face A", "face B")
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Both photos as uint8 RGB, each mirrored (`mirror` "auto") when it looks away from its partner: A sits on
    the left and looks right, B the other way."""
    photos = tuple(as_uint8_rgb(photo, field) for photo, field in zip(photos, where))
    if mirror == "auto":
        photos = tuple(turn_toward(photo, side, field) for photo, side, field in zip(photos, ("right", "left"), where))
    return photos


def prepare_faces(face_model: FaceModel, photos: tuple[np.ndarray, np.ndarray], size: int, runtime: Runtime,
                  where: tuple[str, str] = ("face A", "face B")) -> tuple[PreparedFace, PreparedFace]:
    return tuple(face_model.prepare(photo, size=size, runtime=runtime, where=field)
                 for photo, field in zip(photos, where))


@contextmanager
def preparing_faces(face_model: FaceModel, photos: tuple[np.ndarray, np.ndarray], size: int, runtime: Runtime):
    """Both faces prepared on a thread of their own while the block works out speech and motion (which do not
    need them; face analysis and speech synthesis mostly leave Python's lock free). Yields a function that waits
    for the prepared faces and returns them, raising what preparing them raised."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tavid-prepare") as pool:
        job = pool.submit(prepare_faces, face_model, photos, size, runtime)
        try:
            yield job.result
        except BaseException:
            job.cancel()
            raise


def render_video(face_model: FaceModel, faces: tuple[PreparedFace, PreparedFace], motions: tuple[Motion, Motion],
                 speech: Speech, output: str, *, layout: str, sampler: SamplerSettings, runtime: Runtime,
                 window: int = 25, soundtrack=None) -> int:
    """Both faces rendered in lockstep, `window` frames at a time, composed by `layout` and streamed into an
    MP4 at `output` with the conversation's mixed audio (or `soundtrack`, a media/soundtrack.py reader: a
    dub's recording as it is): memory stays flat however long the dialogue. The CLI and the ComfyUI node
    that writes a video both render here. Returns the number of frames."""
    motion_a, motion_b = motions
    if (motion_a.num_frames, motion_a.fps) != (motion_b.num_frames, motion_b.fps):
        raise TavidError(f"motion A has {motion_a.num_frames} frames at {motion_a.fps:g} fps and motion B "
                         f"{motion_b.num_frames} at {motion_b.fps:g}", where="motion",
                         fix="Use motion A and motion B of one motion mapper run.")
    fps, frames = motion_a.fps, motion_a.num_frames
    audio, rate = ((soundtrack, None) if soundtrack is not None
                   else (fit_audio(speech.mix, speech.sample_rate, frames, fps), speech.sample_rate))
    width, height = canvas_size(layout, faces[0].size)
    holder = floor_holder(motion_a.speaking, motion_b.speaking, fps)  # who is on screen, per frame
    windows = range(0, frames, window)
    # both faces stream in lockstep, `window` frames at a time: a face model may carry state from one
    # window to the next (the neural one prompts each window with the previous one's last frames)
    streams = [face_model.render_chunks(face, motion, runtime=runtime, settings=sampler, chunk=window)
               for face, motion in zip(faces, motions)]
    # one progress bar per run: a sampling engine counts its own steps
    steps = windows if face_model.counts_steps else runtime.steps(windows, len(windows), "frames")
    with VideoWriter(output, fps, width, height, audio, rate) as writer, one_core_left(), \
            _face_threads(face_model) as run_each:
        for start in steps:
            runtime.check_interrupt()
            stop = min(start + window, frames)
            rendered = list(run_each(next, streams))
            writer.write(compose(layout, *rendered, holder=holder[start:stop]))
    return frames


@contextmanager
def _face_threads(face_model: FaceModel):
    """A `map` for each face's next window: on a thread per face when the model allows it (the two faces then
    keep both cores busy beside the encoder), else Python's own, one after the other on the caller's thread."""
    if not face_model.renders_concurrently:
        yield map
        return
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="tavid-face") as pool:
        yield pool.map


def write_timeline(video: str, frames: int, fps: float, speech: Speech, speakers: tuple[str, str] | None,
                   extra: dict) -> str:
    """The JSON beside a video (same name, .json): who speaks when, word by word, and `extra` (voices,
    settings, ...), which `tavid eval` reads back. Without it the video would be a half result, so when it
    cannot be written the video is removed as well."""
    path = os.path.splitext(video)[0] + ".json"
    report = {"video": os.path.basename(video), "duration_s": round(frames / fps, 4), "frames": frames, "fps": fps,
              "sample_rate": speech.sample_rate}
    if speakers is not None:
        report["speakers"] = list(speakers)
    report.update(extra)
    report["timeline"] = speech.timeline_dict()
    try:
        write_text_whole(path, json.dumps(report, indent=2))
    except TavidError:
        remove_quietly(video)
        raise
    return path

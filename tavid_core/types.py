"""The data contracts exchanged between blocks (docs/architecture.md).

Every engine reads and writes these types and nothing else, so any speech engine can feed any
motion mapper and any motion can drive any face engine. Arrays are float32 numpy on the CPU; the
ComfyUI adapters convert to and from torch tensors at the node boundary.

Conventions
- Speaker index 0 is person A, 1 is person B.
- `Speech.tracks` is `[2, N]`: one track per speaker, silent where that speaker is quiet; the mix is
  their sum.
- `Motion.pose` is `[T, 6]` = yaw, pitch, roll in radians (positive yaw turns the face to the
  image's right, positive pitch tilts the chin down, positive roll tilts clockwise), tx and ty as a
  fraction of the face size (positive ty moves down), and scale (1 = as in the reference).
- `Motion.expr` is `[T, K]` with named channels, at least `EXPR_CHANNELS`: jaw_open, mouth_round,
  smile, blinks in 0..1; mouth_wide, brow_raise, gaze_x, gaze_y in -1..1 (gaze_x > 0 looks to
  the image's right).
- Frame counts follow the audio: `T = round(duration_s * fps)`.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .errors import TavidError
from .limits import MAX_PAUSE_S

NUM_SPEAKERS = 2
POSE_CHANNELS = ("yaw", "pitch", "roll", "tx", "ty", "scale")
EXPR_CHANNELS = (
    "jaw_open", "mouth_wide", "mouth_round", "smile", "brow_raise",
    "blink_left", "blink_right", "gaze_x", "gaze_y",
)
VOICE_ENGINES = ("builtin", "neural")
VOICE_SOURCES = ("face", "reference_audio", "manual")


def num_frames(duration_s: float, fps: float) -> int:
    """The frame count of a clip: the single rule that keeps audio and video the same length."""
    return int(round(duration_s * fps))


def _float_array(value: Any, name: str, ndim: int) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float32)
    if arr.ndim != ndim:
        raise TavidError(f"expected {ndim} dimensions, got shape {tuple(arr.shape)}", where=name)
    if not np.all(np.isfinite(arr)):
        raise TavidError("contains NaN or infinite values", where=name)
    return arr


# --------------------------------------------------------------------------------------- dialogue
@dataclass(frozen=True)
class Backchannel:
    """A short reply ("mm-hm") the listener says during a turn, after its first `after_words` words."""

    after_words: int
    text: str

    def __post_init__(self):
        if not isinstance(self.after_words, (int, np.integer)) or self.after_words < 0:
            raise TavidError(f"after_words must be a whole number >= 0, got {self.after_words!r}", where="Backchannel")
        if not self.text.strip():
            raise TavidError("a backchannel needs text to say", where="Backchannel")


def _check_backchannels(backchannels: tuple[Backchannel, ...], text: str, where: str) -> None:
    """Each backchannel must sit between two words of `text` (or before the first, after the last), in order."""
    words = len(text.split())
    places = [b.after_words for b in backchannels]
    if any(p > words for p in places):
        raise TavidError(f"a backchannel after word {max(places)} of a turn with {words} words", where=where)
    if places != sorted(places):
        raise TavidError(f"backchannels must be in the order of their places, got {places}", where=where)


@dataclass(frozen=True)
class Turn:
    """One speaker's utterance. `pause_before_s` is an explicit silence before it (None: natural gap);
    `backchannels` are what the *other* person says while it goes on."""

    speaker: int
    text: str
    pause_before_s: float | None = None
    tags: tuple[str, ...] = ()
    line: int | None = None  # script line it came from, for error messages
    backchannels: tuple[Backchannel, ...] = ()

    def __post_init__(self):
        where = f"line {self.line}" if self.line else "Turn"
        if self.speaker not in (0, 1):
            raise TavidError(f"speaker index must be 0 or 1, got {self.speaker!r}", where=where)
        if not self.text.strip():
            raise TavidError("turn has no text", where=where)
        if self.pause_before_s is not None and not (0.0 <= self.pause_before_s <= MAX_PAUSE_S):
            raise TavidError(f"pause must be between 0 and {MAX_PAUSE_S:g} s, got {self.pause_before_s}", where=where)
        object.__setattr__(self, "backchannels", tuple(self.backchannels))
        _check_backchannels(self.backchannels, self.text, where)


@dataclass(frozen=True)
class Dialogue:
    """Exactly two speakers and their ordered turns."""

    speakers: tuple[str, str]
    turns: tuple[Turn, ...]
    voice_texts: tuple[str | None, str | None] = (None, None)  # the words said in each person's voice recording

    def __post_init__(self):
        object.__setattr__(self, "speakers", tuple(self.speakers))
        object.__setattr__(self, "turns", tuple(self.turns))
        object.__setattr__(self, "voice_texts", tuple(self.voice_texts))
        if len(self.voice_texts) != NUM_SPEAKERS:
            raise TavidError(f"voice_texts needs one entry per speaker, got {self.voice_texts!r}", where="Dialogue")
        if len(self.speakers) != NUM_SPEAKERS or not all(s.strip() for s in self.speakers):
            raise TavidError(f"a dialogue needs exactly two named speakers, got {self.speakers!r}", where="Dialogue")
        if self.speakers[0] == self.speakers[1]:
            raise TavidError(f"the two speakers need different names, both are {self.speakers[0]!r}", where="Dialogue")
        if not self.turns:
            raise TavidError("the dialogue has no turns", where="Dialogue")

    def to_dict(self) -> dict:
        return {
            "speakers": list(self.speakers),
            **({"voice_texts": list(self.voice_texts)} if any(self.voice_texts) else {}),
            "turns": [
                {"speaker": t.speaker, "text": t.text, "pause_before_s": t.pause_before_s, "tags": list(t.tags),
                 "backchannels": [{"after_words": b.after_words, "text": b.text} for b in t.backchannels]}
                for t in self.turns
            ],
        }


# ------------------------------------------------------------------------------------------ voice
@dataclass(frozen=True, eq=False)
class VoicePrompt:
    """A recording of how a person sounds, mono, with the words said in it (None: not given): what a
    voice-cloning speech engine imitates."""

    audio: np.ndarray
    sample_rate: int
    text: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "audio", _float_array(self.audio, "VoicePrompt.audio", 1))
        if self.sample_rate <= 0:
            raise TavidError("the sample rate must be positive", where="VoicePrompt")
        if self.text is not None and not self.text.strip():
            object.__setattr__(self, "text", None)

    @property
    def duration_s(self) -> float:
        return len(self.audio) / self.sample_rate


@dataclass(frozen=True, eq=False)
class Voice:
    """How one person sounds.

    Built-in engines use `preset` (a voice name such as "joe", "heart" or "espeak:en-us+f3");
    neural engines use `embedding`; voice-cloning engines imitate `prompt` (or, without one, the preset's
    voice). `alternatives` are further presets ranked for the same face, used to keep the two voices of
    a conversation distinct. `apparent_age` / `apparent_male` are what the speaker mapper read in the face
    (None: not read), and `reason` says in words why this voice was chosen.
    """

    engine: str
    preset: str | None = None
    embedding: np.ndarray | None = None
    pitch_semitones: float = 0.0
    rate: float = 1.0
    source: str = "manual"
    alternatives: tuple[str, ...] = ()
    prompt: VoicePrompt | None = None
    apparent_age: float | None = None    # years
    apparent_male: float | None = None   # probability that the face reads as a man's
    reason: str = ""

    def __post_init__(self):
        if self.engine not in VOICE_ENGINES:
            raise TavidError(f"engine must be one of {VOICE_ENGINES}, got {self.engine!r}", where="Voice")
        if self.source not in VOICE_SOURCES:
            raise TavidError(f"source must be one of {VOICE_SOURCES}, got {self.source!r}", where="Voice")
        if self.preset is None and self.embedding is None and self.prompt is None:
            raise TavidError("a voice needs a preset name, a speaker embedding or a recording", where="Voice")
        if self.embedding is not None:
            object.__setattr__(self, "embedding", _float_array(self.embedding, "Voice.embedding", 1))
        if not (-12.0 <= self.pitch_semitones <= 12.0):
            raise TavidError(f"pitch must be within ±12 semitones, got {self.pitch_semitones}", where="Voice")
        if not (0.5 <= self.rate <= 2.0):
            raise TavidError(f"rate must be between 0.5 and 2.0, got {self.rate}", where="Voice")
        object.__setattr__(self, "alternatives", tuple(self.alternatives))

    def with_preset(self, preset: str, reason: str | None = None) -> "Voice":
        return replace(self, preset=preset, reason=self.reason if reason is None else reason)

    def adjusted(self, pitch_shift: float = 0.0, speed: float = 1.0) -> "Voice":
        """This voice `pitch_shift` semitones higher and `speed` times faster, kept within the valid range."""
        return replace(self, pitch_semitones=float(np.clip(self.pitch_semitones + pitch_shift, -12.0, 12.0)),
                       rate=float(np.clip(self.rate * speed, 0.5, 2.0)))

    def describe(self) -> dict:
        described = {
            "engine": self.engine, "preset": self.preset, "pitch_semitones": round(self.pitch_semitones, 3),
            "rate": round(self.rate, 4), "source": self.source,
        }
        if self.prompt is not None:
            described["recording_s"] = round(self.prompt.duration_s, 3)
        if self.apparent_age is not None:
            described |= {"apparent_age": round(self.apparent_age, 1), "apparent_male": round(self.apparent_male, 3)}
        if self.reason:
            described["reason"] = self.reason
        return described


# ----------------------------------------------------------------------------------------- speech
@dataclass(frozen=True)
class Word:
    text: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Phone:
    """One phoneme (IPA) and when it sounds."""

    symbol: str
    start_s: float
    end_s: float


BACKCHANNEL = "backchannel"  # the Segment tag of a backchannel


@dataclass(frozen=True)
class Segment:
    """One turn placed on the conversation's timeline, or a backchannel: then `tags` is ("backchannel",),
    `speaker` the listener who says it and `turn` the index of the partner's turn it answers. A
    backchannel may overlap that turn: the one overlap between the two people the script asks for."""

    turn: int
    speaker: int
    start_s: float
    end_s: float
    text: str
    words: tuple[Word, ...] = ()
    phones: tuple[Phone, ...] = ()
    tags: tuple[str, ...] = ()  # the turn's script tags (laughs, smiles, ...)

    @property
    def is_backchannel(self) -> bool:
        return BACKCHANNEL in self.tags

    def to_dict(self) -> dict:
        return {
            "turn": self.turn, "speaker": self.speaker,
            "start": round(self.start_s, 4), "end": round(self.end_s, 4), "text": self.text, "tags": list(self.tags),
            "words": [{"word": w.text, "start": round(w.start_s, 4), "end": round(w.end_s, 4)} for w in self.words],
        }


@dataclass(frozen=True, eq=False)
class Speech:
    """Two speakers' speech on one timeline, sorted by start. One person's segments never overlap; a
    backchannel of one person may overlap a turn of the other.

    `features` `[2, T, D]` are per-speaker frame features at `feature_rate` Hz (what the motion
    mapper reads); `feature_names` labels the D columns when the engine has named features.
    """

    sample_rate: int
    tracks: np.ndarray
    timeline: tuple[Segment, ...]
    features: np.ndarray
    feature_rate: float
    feature_names: tuple[str, ...] = ()
    voices: tuple[Voice, Voice] | None = None

    def __post_init__(self):
        tracks = _float_array(self.tracks, "Speech.tracks", 2)
        if tracks.shape[0] != NUM_SPEAKERS:
            raise TavidError(f"tracks must be [2, N], got shape {tracks.shape}", where="Speech")
        features = _float_array(self.features, "Speech.features", 3)
        if features.shape[0] != NUM_SPEAKERS:
            raise TavidError(f"features must be [2, T, D], got shape {features.shape}", where="Speech")
        if self.feature_names and len(self.feature_names) != features.shape[2]:
            raise TavidError(f"{len(self.feature_names)} feature names for {features.shape[2]} features", where="Speech")
        if self.sample_rate <= 0 or self.feature_rate <= 0:
            raise TavidError("sample_rate and feature_rate must be positive", where="Speech")
        duration = tracks.shape[1] / self.sample_rate
        for seg in self.timeline:
            if seg.speaker not in (0, 1) or not (0.0 <= seg.start_s <= seg.end_s <= duration + 1e-3):
                raise TavidError(
                    f"timeline segment {seg.turn} ({seg.start_s:.3f}-{seg.end_s:.3f} s, speaker {seg.speaker}) "
                    f"lies outside the {duration:.3f} s of audio", where="Speech")
        object.__setattr__(self, "tracks", tracks)
        object.__setattr__(self, "features", features)
        object.__setattr__(self, "timeline", tuple(self.timeline))
        object.__setattr__(self, "feature_names", tuple(self.feature_names))

    @property
    def num_samples(self) -> int:
        return int(self.tracks.shape[1])

    @property
    def duration_s(self) -> float:
        return self.num_samples / self.sample_rate

    @property
    def mix(self) -> np.ndarray:
        """Mono mix `[N]`, clipped to -1..1."""
        mix = self.tracks.sum(axis=0)
        return np.clip(mix, -1.0, 1.0, out=mix)  # in place: a long soundtrack is tens of MB

    def num_frames(self, fps: float) -> int:
        return num_frames(self.duration_s, fps)

    def feature(self, name: str) -> np.ndarray:
        """One named feature for both speakers, `[2, T]`."""
        if name not in self.feature_names:
            raise TavidError(f"this speech has no feature {name!r} (has {self.feature_names})", where="Speech")
        return self.features[:, :, self.feature_names.index(name)]

    def segments_of(self, speaker: int) -> tuple[Segment, ...]:
        return tuple(s for s in self.timeline if s.speaker == speaker)

    def activity_at(self, speaker: int, times: np.ndarray) -> np.ndarray:
        """1.0 at the `times` (seconds) that lie inside one of the speaker's segments (turns and
        backchannels: both move the mouth), else 0.0."""
        active = np.zeros(len(times), np.float32)
        for seg in self.segments_of(speaker):
            active[(times >= seg.start_s) & (times < seg.end_s)] = 1.0
        return active

    def activity(self, speaker: int, frames: int, fps: float) -> np.ndarray:
        """[frames] speaking activity sampled at the frame centres."""
        return self.activity_at(speaker, (np.arange(frames) + 0.5) / fps)

    def timeline_dict(self) -> list[dict]:
        return [s.to_dict() for s in self.timeline]


# ----------------------------------------------------------------------------------------- motion
@dataclass(frozen=True, eq=False)
class Motion:
    """One person's facial motion at `fps`: head pose, named expression channels, speaking activity."""

    fps: float
    pose: np.ndarray
    expr: np.ndarray
    speaking: np.ndarray
    expr_names: tuple[str, ...] = EXPR_CHANNELS
    codes: np.ndarray | None = None

    def __post_init__(self):
        pose = _float_array(self.pose, "Motion.pose", 2)
        expr = _float_array(self.expr, "Motion.expr", 2)
        speaking = _float_array(self.speaking, "Motion.speaking", 1)
        frames = pose.shape[0]
        if pose.shape[1] != len(POSE_CHANNELS):
            raise TavidError(f"pose must be [T, 6], got shape {pose.shape}", where="Motion")
        if expr.shape != (frames, len(self.expr_names)):
            raise TavidError(
                f"expr must be [T={frames}, K={len(self.expr_names)}] to match pose and expr_names, got {expr.shape}",
                where="Motion")
        missing = [c for c in EXPR_CHANNELS if c not in self.expr_names]
        if missing:
            raise TavidError(f"expr lacks the required channels {missing}", where="Motion")
        if speaking.shape != (frames,):
            raise TavidError(f"speaking must be [T={frames}], got {speaking.shape}", where="Motion")
        if self.fps <= 0:
            raise TavidError(f"fps must be positive, got {self.fps}", where="Motion")
        if self.codes is not None:
            codes = _float_array(self.codes, "Motion.codes", 2)
            if codes.shape[0] != frames:
                raise TavidError(f"codes must have {frames} frames, got {codes.shape[0]}", where="Motion")
            object.__setattr__(self, "codes", codes)
        object.__setattr__(self, "pose", pose)
        object.__setattr__(self, "expr", expr)
        object.__setattr__(self, "speaking", speaking)
        object.__setattr__(self, "expr_names", tuple(self.expr_names))

    @property
    def num_frames(self) -> int:
        return int(self.pose.shape[0])

    @property
    def duration_s(self) -> float:
        return self.num_frames / self.fps

    def channel(self, name: str) -> np.ndarray:
        if name in POSE_CHANNELS:
            return self.pose[:, POSE_CHANNELS.index(name)]
        if name not in self.expr_names:
            raise TavidError(f"no motion channel {name!r}", where="Motion")
        return self.expr[:, self.expr_names.index(name)]

    def window(self, start: int, stop: int) -> "Motion":
        """Frames [start, stop) as a Motion of their own (for rendering in chunks)."""
        return Motion(
            fps=self.fps, pose=self.pose[start:stop], expr=self.expr[start:stop], speaking=self.speaking[start:stop],
            expr_names=self.expr_names, codes=None if self.codes is None else self.codes[start:stop],
        )


# ------------------------------------------------------------------------------------------- text
@dataclass(frozen=True, eq=False)
class EncodedTurn:
    """A turn as the speech generator consumes it: normalised text, and tokens when the encoder has them.
    `backchannels` count their places in words of this (normalised) text."""

    speaker: int
    text: str
    pause_before_s: float | None = None
    tags: tuple[str, ...] = ()
    phonemes: str | None = None
    embedding: np.ndarray | None = None  # [L, D] for neural encoders
    backchannels: tuple[Backchannel, ...] = ()
    backchannel_embeddings: tuple = ()  # neural encoders: one [L, D] float32 array per backchannel

    def __post_init__(self):
        object.__setattr__(self, "backchannels", tuple(self.backchannels))
        _check_backchannels(self.backchannels, self.text, "EncodedTurn")


@dataclass(frozen=True, eq=False)
class EncodedText:
    """The output of a text encoder (the TAVID_TEXT socket)."""

    dialogue: Dialogue
    turns: tuple[EncodedTurn, ...]
    encoder: str
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "turns", tuple(self.turns))
        if len(self.turns) != len(self.dialogue.turns):
            raise TavidError(
                f"{len(self.turns)} encoded turns for a dialogue of {len(self.dialogue.turns)}", where="EncodedText")

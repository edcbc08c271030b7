"""The motion mapper's configuration (network size and how it walks through time) with the three presets, and the
limits its motion is clipped to.
"""
from __future__ import annotations

from dataclasses import dataclass

from ....analysis.audio_features import SPEECH_FEATURES
from ....errors import TavidError
from ....types import EXPR_CHANNELS, POSE_CHANNELS
from ..common.configs import SavedConfig, check_preset

INPUT_NAMES = SPEECH_FEATURES + ("speaking", "has_hidden")  # the named input columns, then the hidden ones
ENERGY, SPEAKING, HAS_HIDDEN = 0, 3, 4


UNIT_EXPR = ("jaw_open", "mouth_round", "smile", "blink_left", "blink_right")   # 0..1; the others are -1..1
# pose limits the motion is clipped to: beyond them a single photo cannot be turned convincingly
MAX_ROTATION = 0.5      # radians (~29 degrees)
MAX_SHIFT = 0.2         # fraction of the face size
SCALE_RANGE = (0.8, 1.25)
# channels expressiveness scales: head motion, smile and brows. The mouth follows the speech, blinks are
# all-or-nothing and the gaze says where the partner is, so those stay as generated.
EXPRESSIVE_EXPR = ("smile", "brow_raise")
NEUTRAL_POSE = (0.0, 0.0, 0.0, 0.0, 0.0, 1.0)

DEFAULT_STEPS = 16
DEFAULT_SWAY = -1.0


# --------------------------------------------------------------------------------------------- config
@dataclass(frozen=True)
class MotionMapperConfig(SavedConfig):
    """The motion mapper's network and how it walks through time. Travels in the checkpoint's metadata."""

    name: str = "base"
    fps: float = 25.0              # internal frame rate; the engine resamples to the rate asked for
    window_frames: int = 250       # frames one forward sees (10 s at 25 fps)
    overlap_frames: int = 25       # frames each window takes from the previous one as its prompt
    dim: int = 512
    depth: int = 12
    heads: int = 8
    ff_mult: float = 2.0
    hidden_dim: int = 1024         # width of the speech's hidden_* features it reads (0: named features only)
    code_dim: int = 0              # latent codes per frame for a neural face model (0: none)
    conv_pos_kernel: int = 15
    dropout: float = 0.0

    def __post_init__(self):
        where = f"motion config {self.name}"
        if self.dim % self.heads or (self.dim // self.heads) % 2:
            raise TavidError(f"dim {self.dim} must be a multiple of heads {self.heads} with an even head width",
                             where=where)
        if not 0 < self.overlap_frames < self.window_frames:
            raise TavidError(f"overlap_frames {self.overlap_frames} must be between 1 and window_frames - 1 "
                             f"({self.window_frames - 1})", where=where)
        if self.fps <= 0 or self.hidden_dim < 0 or self.code_dim < 0 or self.depth < 1:
            raise TavidError("fps and depth must be positive, hidden_dim and code_dim at least 0", where=where)

    @property
    def feature_width(self) -> int:
        """Input columns per person: the named ones and the hidden ones."""
        return len(INPUT_NAMES) + self.hidden_dim

    @property
    def motion_width(self) -> int:
        return len(POSE_CHANNELS) + len(EXPR_CHANNELS) + self.code_dim


def motion_config(preset: str) -> MotionMapperConfig:
    """One of the PRESETS; hidden_dim matches the speech DiT of the same preset (configs.speech_config)."""
    check_preset(preset)
    if preset == "tiny":
        return MotionMapperConfig(name="tiny", window_frames=80, overlap_frames=16, dim=64, depth=2, heads=2,
                                  hidden_dim=64, conv_pos_kernel=7)
    if preset == "small":
        return MotionMapperConfig(name="small", dim=256, depth=6, heads=4, hidden_dim=384)
    return MotionMapperConfig()

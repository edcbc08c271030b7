"""Network settings of the LivePortrait human model (the numbers of the published models.yaml)."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class AppearanceConfig:
    """Appearance feature extractor F: a 256x256 RGB image to a 32x16x64x64 feature volume."""

    image_channels: int = 3
    base_channels: int = 64          # channels of the first 2-D convolution
    num_down: int = 2                # 2-D stride-2 stages (256 -> 64)
    max_channels: int = 512          # channels of the 2-D map before it is folded into a volume
    volume_channels: int = 32        # C of the C x D x H x W volume
    volume_depth: int = 16           # D of the volume (max_channels == volume_channels * volume_depth)
    num_res_blocks: int = 6          # 3-D residual blocks on the volume


@dataclass(frozen=True)
class MotionConfig:
    """Motion extractor M: ConvNeXt-V2 tiny backbone with pose, translation, scale, expression and keypoint heads."""

    image_channels: int = 3
    depths: tuple[int, ...] = (3, 3, 9, 3)
    dims: tuple[int, ...] = (96, 192, 384, 768)
    num_kp: int = 21
    num_bins: int = 66               # head-pose bins of 3 degrees, centred so that bin 32.5 is 0 degrees


@dataclass(frozen=True)
class DenseMotionConfig:
    """Dense motion estimator inside the warping module (an hourglass of 3-D convolutions)."""

    base_channels: int = 32
    max_channels: int = 1024
    num_blocks: int = 5
    volume_depth: int = 16
    compressed_channels: int = 4     # the 32-channel volume is squeezed to this before it is warped per keypoint
    kp_variance: float = 0.01        # variance of the Gaussian keypoint heat maps (grid units of [-1, 1])


@dataclass(frozen=True)
class WarpingConfig:
    """Warping module W: warps the feature volume from the source to the driving keypoints."""

    num_kp: int = 21
    base_channels: int = 64
    max_channels: int = 512
    num_down: int = 2
    volume_channels: int = 32
    estimate_occlusion: bool = True
    dense_motion: DenseMotionConfig = field(default_factory=DenseMotionConfig)

    @property
    def out_channels(self) -> int:
        return self.base_channels * 2 ** self.num_down


@dataclass(frozen=True)
class GeneratorConfig:
    """SPADE decoder G: the 256x64x64 warped feature map to a 3x512x512 image in [0, 1]."""

    in_channels: int = 256           # min(max_features, block_expansion * 2 ** num_down_blocks)
    out_channels: int = 64           # channels of the last residual block
    upscale: int = 2                 # pixel-shuffle factor of the last convolution (256 -> 512)
    modulation_hidden: int = 128     # hidden channels of each SPADE modulation branch
    num_middle_blocks: int = 6


@dataclass(frozen=True)
class MlpConfig:
    """A stitching / retargeting MLP: Linear layers with ReLU in between."""

    in_features: int
    hidden: tuple[int, ...]
    out_features: int


STITCHING = MlpConfig(in_features=126, hidden=(128, 128, 64), out_features=65)   # (x_s, x_d) -> 63 offsets + (tx, ty)
LIP = MlpConfig(in_features=65, hidden=(128, 128, 64), out_features=63)          # (x_s, lip ratios[2]) -> 63 offsets
EYE = MlpConfig(in_features=66, hidden=(256, 256, 128, 128, 64), out_features=63)  # (x_s, eye ratios[3]) -> 63


@dataclass(frozen=True)
class LivePortraitConfig:
    image_size: int = 256            # the networks' input; the generator renders twice that (512)
    appearance: AppearanceConfig = field(default_factory=AppearanceConfig)
    motion: MotionConfig = field(default_factory=MotionConfig)
    warping: WarpingConfig = field(default_factory=WarpingConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    stitching: MlpConfig = STITCHING
    lip: MlpConfig = LIP
    eye: MlpConfig = EYE

    @property
    def render_size(self) -> int:
        """Side of the generated face: the feature map (image_size / 2**num_down) doubled twice, then pixel-shuffled."""
        return self.image_size // 2 ** self.appearance.num_down * 4 * self.generator.upscale


def tiny_config() -> LivePortraitConfig:
    """The same networks, small (1.5 M parameters, most in the warping module's 7x7x7 mask head), at 64 px input
    (128 px faces): for tests and quick checks of everything around them. Only the default configuration loads
    the public weights."""
    return LivePortraitConfig(
        image_size=64,
        appearance=AppearanceConfig(base_channels=8, max_channels=16, volume_channels=4, volume_depth=4,
                                    num_res_blocks=1),
        motion=MotionConfig(depths=(1, 1, 1, 1), dims=(8, 16, 16, 32)),
        warping=WarpingConfig(base_channels=4, max_channels=16, volume_channels=4,
                              dense_motion=DenseMotionConfig(base_channels=8, max_channels=16, num_blocks=2,
                                                             volume_depth=4)),
        generator=GeneratorConfig(in_channels=16, out_channels=8, modulation_hidden=8, num_middle_blocks=1),
        stitching=MlpConfig(126, (16,), 65), lip=MlpConfig(65, (16,), 63), eye=MlpConfig(66, (16,), 63))

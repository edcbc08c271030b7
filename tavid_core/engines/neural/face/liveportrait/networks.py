"""The seven networks of the LivePortrait human model, built together."""
from __future__ import annotations

from dataclasses import dataclass, fields

from torch import nn

from .appearance import AppearanceFeatureExtractor
from .config import LivePortraitConfig
from .generator import SpadeGenerator
from .motion import MotionExtractor
from .retargeting import RetargetingMlp
from .warping import WarpingNetwork


@dataclass(eq=False)
class LivePortraitNetworks:
    appearance: AppearanceFeatureExtractor   # F: photo -> feature volume (once per face)
    motion: MotionExtractor                  # M: photo -> keypoints, expression, pose (once per face)
    warping: WarpingNetwork                  # W: feature volume moved from source to driving keypoints (per frame)
    generator: SpadeGenerator                # G: warped features -> 512 px image (per frame)
    stitching: RetargetingMlp                # S: keeps the crop's border (neck, shoulders) where it was
    lip: RetargetingMlp                      # R_lip: keypoint offsets for a lip-opening ratio
    eye: RetargetingMlp                      # R_eye: keypoint offsets for an eye-opening ratio

    def named(self) -> dict[str, nn.Module]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def build_networks(cfg: LivePortraitConfig = LivePortraitConfig()) -> LivePortraitNetworks:
    return LivePortraitNetworks(
        appearance=AppearanceFeatureExtractor(cfg.appearance), motion=MotionExtractor(cfg.motion),
        warping=WarpingNetwork(cfg.warping), generator=SpadeGenerator(cfg.generator),
        stitching=RetargetingMlp(cfg.stitching), lip=RetargetingMlp(cfg.lip), eye=RetargetingMlp(cfg.eye))

"""Stitching and retargeting MLPs of LivePortrait (module S and the two R modules of the paper)."""
from __future__ import annotations

import torch

from .blocks import Mlp
from .config import MlpConfig


class RetargetingMlp(Mlp):
    """Plain MLP; inputs are flattened keypoints concatenated with ratios or a second keypoint set."""

    def __init__(self, cfg: MlpConfig):
        super().__init__(cfg.in_features, cfg.hidden, cfg.out_features)
        self.cfg = cfg


def flat_concat(kp: torch.Tensor, extra: torch.Tensor) -> torch.Tensor:
    """(B, K, 3) keypoints and (B, ...) extras -> (B, 3K + extras)."""
    return torch.cat([kp.reshape(kp.shape[0], -1), extra.reshape(extra.shape[0], -1)], dim=1)

"""Building blocks shared by the LivePortrait networks."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ConvBnAct2d(nn.Module):
    """3x3 convolution, batch norm, then ReLU (or leaky ReLU with slope 0.01)."""

    def __init__(self, in_ch: int, out_ch: int, *, leaky: bool = False):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, kernel_size=3, padding=1)
        self.bn = nn.BatchNorm2d(out_ch)
        self.leaky = leaky

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv(x))
        return F.leaky_relu(x, 0.01) if self.leaky else F.relu(x)


class DownBlock2d(ConvBnAct2d):
    """ConvBnAct2d followed by 2x2 average pooling."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(super().forward(x), 2)


class ResBlock3d(nn.Module):
    """Pre-activation residual block on a volume: x + conv(relu(bn(conv(relu(bn(x))))))."""

    def __init__(self, ch: int):
        super().__init__()
        self.bn1 = nn.BatchNorm3d(ch)
        self.conv1 = nn.Conv3d(ch, ch, kernel_size=3, padding=1)
        self.bn2 = nn.BatchNorm3d(ch)
        self.conv2 = nn.Conv3d(ch, ch, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.relu(self.bn1(x)))
        h = self.conv2(F.relu(self.bn2(h)))
        return h + x  # the result takes the memory layout of the convolution output


class ConvBnRelu3d(nn.Module):
    """3x3x3 convolution, batch norm, ReLU."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.conv = nn.Conv3d(in_ch, out_ch, kernel_size=3, padding=1)
        self.bn = nn.BatchNorm3d(out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


class Hourglass3d(nn.Module):
    """U-Net on volumes that halves / doubles only the two spatial axes (depth is kept).

    Encoder stage i: conv-bn-relu to min(max_ch, base * 2**(i+1)) channels, then 1x2x2 average pooling.
    Decoder: nearest 1x2x2 upsampling, conv-bn-relu, concatenation with the matching encoder input; a last
    conv-bn-relu keeps the base + in_ch channels of the final concatenation.
    """

    def __init__(self, in_ch: int, base: int, num_blocks: int, max_ch: int):
        super().__init__()
        width = [in_ch] + [min(max_ch, base * 2 ** (i + 1)) for i in range(num_blocks)]
        self.down = nn.ModuleList(ConvBnRelu3d(width[i], width[i + 1]) for i in range(num_blocks))
        up = []
        for i in reversed(range(num_blocks)):
            up_in = width[i + 1] * (1 if i == num_blocks - 1 else 2)
            up.append(ConvBnRelu3d(up_in, min(max_ch, base * 2 ** i)))
        self.up = nn.ModuleList(up)
        self.out_channels = base + in_ch
        self.out = ConvBnRelu3d(self.out_channels, self.out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = [x]
        for block in self.down:
            skips.append(F.avg_pool3d(block(skips[-1]), kernel_size=(1, 2, 2)))
        h = skips.pop()
        for block in self.up:
            h = block(F.interpolate(h, scale_factor=(1.0, 2.0, 2.0), mode="nearest"))
            h = torch.cat([h, skips.pop()], dim=1)
        return self.out(h)


class SpadeModulation(nn.Module):
    """Parameter-free instance norm, then a per-pixel scale and shift predicted from a conditioning map."""

    def __init__(self, ch: int, cond_ch: int, hidden: int):
        super().__init__()
        self.shared = nn.Conv2d(cond_ch, hidden, kernel_size=3, padding=1)
        self.gamma = nn.Conv2d(hidden, ch, kernel_size=3, padding=1)
        self.beta = nn.Conv2d(hidden, ch, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        normed = F.instance_norm(x, eps=1e-5)
        if cond.shape[-2:] != x.shape[-2:]:
            cond = F.interpolate(cond, size=x.shape[-2:], mode="nearest")
        h = F.relu(self.shared(cond))
        return normed * (1.0 + self.gamma(h)) + self.beta(h)


class SpadeResBlock(nn.Module):
    """Residual block whose two 3x3 convolutions follow SPADE modulations and leaky ReLU (slope 0.2).

    When the channel count changes the shortcut is a modulated 1x1 convolution without bias. The published
    weights store these convolutions spectrally normalised; the loader folds that normalisation into `weight`.
    """

    def __init__(self, in_ch: int, out_ch: int, cond_ch: int, hidden: int):
        super().__init__()
        mid = min(in_ch, out_ch)
        self.mod_a = SpadeModulation(in_ch, cond_ch, hidden)
        self.conv_a = nn.Conv2d(in_ch, mid, kernel_size=3, padding=1)
        self.mod_b = SpadeModulation(mid, cond_ch, hidden)
        self.conv_b = nn.Conv2d(mid, out_ch, kernel_size=3, padding=1)
        self.has_skip = in_ch != out_ch
        if self.has_skip:
            self.mod_skip = SpadeModulation(in_ch, cond_ch, hidden)
            self.conv_skip = nn.Conv2d(in_ch, out_ch, kernel_size=1, bias=False)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        skip = self.conv_skip(self.mod_skip(x, cond)) if self.has_skip else x
        h = self.conv_a(F.leaky_relu(self.mod_a(x, cond), 0.2))
        h = self.conv_b(F.leaky_relu(self.mod_b(h, cond), 0.2))
        return skip + h


class Mlp(nn.Module):
    """Linear layers with ReLU between them (none after the last)."""

    def __init__(self, in_features: int, hidden: tuple[int, ...], out_features: int):
        super().__init__()
        sizes = [in_features, *hidden, out_features]
        self.layers = nn.ModuleList(nn.Linear(sizes[i], sizes[i + 1]) for i in range(len(sizes) - 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = F.relu(x)
        return x

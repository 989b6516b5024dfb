"""Generator classes swerve has never seen, for the bending, blending and rewriting tests.

Unlike swerve's DCGAN they have no config dataclass (they round-trip through ``init_kwargs``), upsample with
interpolation + convolution inside a custom block module with a residual path, use GELU and group norm,
and name their layers their own way. :class:`StemGenerator` adds a ``Linear -> Tanh -> Linear`` stem in one
``Sequential`` (so a linear layer is followed by another in the same container), a ``ModuleDict`` of
stages and a learned constant outside every layer.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from swerve.bundle import Bundle, DataSpec, LatentSpec


class UpMix(nn.Module):
    """Upsample x2, 3x3 conv, group norm, GELU, plus a 1x1 skip path."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm = nn.GroupNorm(2, cout)
        self.skip = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(h, scale_factor=2, mode="nearest")
        return F.gelu(self.norm(self.conv(h))) + self.skip(h)


class OddGenerator(nn.Module):
    """z (dim ``zdim``) -> ``3 x 16 x 16`` image in [-1, 1]."""

    def __init__(self, zdim: int = 6, width: int = 8) -> None:
        super().__init__()
        self.width = width
        self.project = nn.Linear(zdim, width * 16)
        self.rise = nn.ModuleList([UpMix(width, width), UpMix(width, width // 2)])
        self.paint = nn.Conv2d(width // 2, 3, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = F.silu(self.project(z)).view(-1, self.width, 4, 4)
        for block in self.rise:
            h = block(h)
        return torch.tanh(self.paint(h))


def odd_bundle(seed: int = 0, name: str = "odd") -> Bundle:
    """An untrained :class:`OddGenerator` in a bundle (built the way any user's module would be)."""
    torch.manual_seed(seed)
    net = OddGenerator()
    net.init_kwargs = {"zdim": 6, "width": 8}
    return Bundle({"generator": net.eval()}, DataSpec(shape=[3, 16, 16]), LatentSpec(6), name=name)


class StemGenerator(nn.Module):
    """z (dim ``zdim``) -> ``3 x 16 x 16``: a Linear-Tanh-Linear stem, a learned constant, a ModuleDict."""

    def __init__(self, zdim: int = 6, width: int = 8, hidden: int = 12) -> None:
        super().__init__()
        self.width = width
        self.const = nn.Parameter(torch.randn(1, width, 4, 4) * 0.1)
        self.stem = nn.Sequential(nn.Linear(zdim, hidden), nn.Tanh(), nn.Linear(hidden, width * 16))
        self.stages = nn.ModuleDict({"s8": UpMix(width, width), "s16": UpMix(width, width // 2)})
        self.head = nn.Sequential(nn.Conv2d(width // 2, 3, 3, padding=1), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.stem(z).view(-1, self.width, 4, 4) + self.const
        for stage in self.stages.values():
            h = stage(h)
        return self.head(h)


def stem_bundle(seed: int = 0, name: str = "stem") -> Bundle:
    """An untrained :class:`StemGenerator` in a bundle."""
    torch.manual_seed(seed)
    net = StemGenerator()
    net.init_kwargs = {"zdim": 6, "width": 8, "hidden": 12}
    return Bundle({"generator": net.eval()}, DataSpec(shape=[3, 16, 16]), LatentSpec(6), name=name)

"""Pairs for image-to-image translation made on the fly from one data set: a registered transform turns
each target picture (values in [-1, 1]) into the input a translation model learns to invert.

- ``edges``: Sobel gradient magnitude of the grey picture, scaled per picture to [-1, 1] (bright edges on
  black);
- ``lineart``: the edges thresholded into dark lines on white paper (a drawing's look);
- ``grey``: the luminance (colourisation, for RGB targets);
- ``blur``: a 5 x 5 Gaussian blur (sigma 1.5); ``downsample``: 4x average pooling, scaled back up
  (super-resolution).

Others can be added with :func:`register_pair_transform`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from swerve.errors import ConfigError


@dataclass(frozen=True)
class PairTransform:
    """A target -> input function and the input's channel count for a target's channel count."""

    name: str
    fn: Callable[[torch.Tensor], torch.Tensor]
    in_channels: Callable[[int], int]


PAIR_TRANSFORMS: dict[str, PairTransform] = {}


def register_pair_transform(
    name: str, fn: Callable[[torch.Tensor], torch.Tensor], in_channels: Callable[[int], int]
) -> None:
    """Make ``fn`` (N x C x H x W in [-1, 1] -> inputs in [-1, 1]) available as pix2pix ``transform``."""
    PAIR_TRANSFORMS[name] = PairTransform(name, fn, in_channels)


def pair_transform(name: str) -> PairTransform:
    if name not in PAIR_TRANSFORMS:
        raise ConfigError(f"unknown pair transform {name!r}; known: {', '.join(sorted(PAIR_TRANSFORMS))}")
    return PAIR_TRANSFORMS[name]


def grey(x: torch.Tensor) -> torch.Tensor:
    """Luminance (ITU-R 601 weights) of RGB pictures; grey ones unchanged."""
    if x.shape[1] == 1:
        return x
    weights = torch.tensor([0.299, 0.587, 0.114], device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return (x * weights).sum(1, keepdim=True)


def sobel_magnitude(x: torch.Tensor) -> torch.Tensor:
    """Sobel gradient magnitude of the grey picture (N x 1 x H x W), edges replicated at the border."""
    gx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], device=x.device, dtype=x.dtype)
    kernels = torch.stack([gx, gx.t()]).unsqueeze(1)
    g = F.conv2d(F.pad(grey(x), (1, 1, 1, 1), mode="replicate"), kernels)
    return g.pow(2).sum(1, keepdim=True).sqrt()


def edges(x: torch.Tensor) -> torch.Tensor:
    """Edge strength per picture scaled to [-1, 1] (no edge: -1, the strongest: 1)."""
    m = sobel_magnitude(x)
    peak = m.flatten(1).amax(1).clamp_min(1e-6).view(-1, 1, 1, 1)
    return m / peak * 2 - 1


def lineart(x: torch.Tensor, threshold: float = 0.25) -> torch.Tensor:
    """Dark lines (-1) where the scaled edge strength exceeds ``threshold``, white paper (1) elsewhere."""
    strength = (edges(x) + 1) / 2
    return torch.where(strength > threshold, -1.0, 1.0).to(x.dtype)


def blur(x: torch.Tensor, sigma: float = 1.5) -> torch.Tensor:
    """A 5 x 5 Gaussian blur, channel by channel."""
    t = torch.arange(5, device=x.device, dtype=x.dtype) - 2
    k = torch.exp(-(t**2) / (2 * sigma**2))
    k = torch.outer(k, k) / k.sum() ** 2
    c = x.shape[1]
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="replicate"), k.expand(c, 1, 5, 5).contiguous(), groups=c)


def downsample(x: torch.Tensor, factor: int = 4) -> torch.Tensor:
    """Average-pooled by ``factor``, scaled back up bilinearly (sizes not divisible: cropped pooling)."""
    small = F.avg_pool2d(x, factor, ceil_mode=True)
    return F.interpolate(small, size=x.shape[-2:], mode="bilinear", align_corners=False)


register_pair_transform("edges", edges, lambda c: 1)
register_pair_transform("lineart", lineart, lambda c: 1)
register_pair_transform("grey", grey, lambda c: 1)
register_pair_transform("blur", blur, lambda c: c)
register_pair_transform("downsample", downsample, lambda c: c)

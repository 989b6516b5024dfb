"""Pairs for image-to-image translation made on the fly from one data set: a registered transform turns
each target picture (values in [-1, 1]) into the input a translation model learns to invert.

- ``edges``: Sobel gradient magnitude of the grey picture, scaled per picture to [-1, 1] (bright edges on
  black);
- ``lineart``: the edges thresholded into dark lines on white paper (a drawing's look);
- ``grey``: the luminance (colourisation, for RGB targets);
- ``blur``: a 5 x 5 Gaussian blur (sigma 1.5); ``downsample``: 4x average pooling, scaled back up
  (super-resolution).

Pairs can also come from two folders (:func:`load_pairs`, data set ``pairs:PATH``): ``PATH/A/`` holds the
inputs and ``PATH/B/`` the targets, matched by file name; a model trained on them has transform ``paired``.

Others can be added with :func:`register_pair_transform`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from swerve.data.base import Dataset
from swerve.data.picture import read_picture
from swerve.errors import ConfigError, DataError

PICTURE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


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


def _paired(x: torch.Tensor) -> torch.Tensor:
    raise ConfigError("this model was trained on paired folders: give it an input picture, not a target")


register_pair_transform("paired", _paired, lambda c: c)


def load_pairs(root: str | os.PathLike, image_size: int, channels: int = 1, n: int | None = None) -> Dataset:
    """``root/A`` (inputs) and ``root/B`` (targets) matched by file name (without suffix), each picture
    scaled and centre-cropped to ``image_size`` in ``channels``: a Dataset whose ``x`` holds the target's
    channels first, then the input's (2 x ``channels`` in all)."""
    root = Path(root)
    sides = []
    for side in ("A", "B"):
        folder = root / side
        if not folder.is_dir():
            raise DataError(
                f"{folder} is not a folder: paired data needs {root}/A (inputs) and {root}/B (targets)"
            )
        sides.append({f.stem: f for f in folder.iterdir() if f.suffix.lower() in PICTURE_SUFFIXES})
    a, b = sides
    stems = sorted(set(a) & set(b))
    lonely = sorted(set(a) ^ set(b))
    if lonely:
        raise DataError(
            f"{len(lonely)} picture(s) in {root}/A or {root}/B have no partner, e.g. {lonely[0]!r}"
        )
    if not stems:
        raise DataError(f"no pictures in {root}/A and {root}/B")
    stems = stems[:n] if n is not None else stems
    rng = (-1.0, 1.0)
    inputs = torch.cat([read_picture(a[s], channels, image_size, image_size, rng) for s in stems])
    targets = torch.cat([read_picture(b[s], channels, image_size, image_size, rng) for s in stems])
    return Dataset(torch.cat([targets, inputs], dim=1), None, [], f"pairs:{root}")

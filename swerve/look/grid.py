"""Image grids: turn a batch of generated images into one picture and save it.

Samples are float tensors (N x C x H x W) in a value range such as [-1, 1]; pictures are PIL images.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from swerve.errors import SwerveError
from swerve.utils import atomic_path


def to_uint8(x: torch.Tensor, value_range: tuple[float, float] = (-1.0, 1.0)) -> np.ndarray:
    """Map float images N x C x H x W in ``value_range`` to uint8 N x H x W x C, clamping values outside."""
    if x.ndim == 3:
        x = x.unsqueeze(0)
    if x.ndim != 4:
        raise SwerveError(f"expected images of shape N x C x H x W, got shape {tuple(x.shape)}")
    lo, hi = value_range
    if hi <= lo:
        raise SwerveError(f"value_range must be (low, high) with low < high, got {value_range}")
    scaled = (x.detach().float().cpu() - lo) / (hi - lo) * 255
    return scaled.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def make_grid(
    x: torch.Tensor,
    nrow: int | None = None,
    padding: int = 2,
    pad_value: int = 255,
    value_range: tuple[float, float] = (-1.0, 1.0),
) -> Image.Image:
    """Lay out a batch of images in a grid with ``nrow`` images per row (default: a near-square grid).

    ``pad_value`` is the grey level (0 black ... 255 white) of the ``padding`` pixels between and around the
    images. One-channel images give a grayscale (``L``) picture, three-channel ones an ``RGB`` picture.
    """
    tiles = to_uint8(x, value_range)
    n, h, w, c = tiles.shape
    if c not in (1, 3):
        raise SwerveError(f"can only draw 1- or 3-channel images, got {c} channels")
    if n == 0:
        raise SwerveError("cannot draw a grid of zero images")
    per_row = nrow or math.ceil(math.sqrt(n))
    rows = math.ceil(n / per_row)
    step_y, step_x = h + padding, w + padding
    canvas = np.full((rows * step_y + padding, per_row * step_x + padding, c), pad_value, dtype=np.uint8)
    for i, tile in enumerate(tiles):
        top = padding + (i // per_row) * step_y
        left = padding + (i % per_row) * step_x
        canvas[top : top + h, left : left + w] = tile
    return Image.fromarray(canvas[:, :, 0] if c == 1 else canvas, mode="L" if c == 1 else "RGB")


def upscale(img: Image.Image, min_side: int = 256) -> Image.Image:
    """Enlarge ``img`` by a whole-number factor (nearest neighbour) until its shorter side is at least
    ``min_side``, so 28-pixel samples stay crisp instead of blurry. Larger images are returned unchanged."""
    factor = math.ceil(min_side / min(img.size))
    if factor <= 1:
        return img
    return img.resize((img.width * factor, img.height * factor), Image.Resampling.NEAREST)


def save_image(img: Image.Image, path: str | os.PathLike) -> Path:
    """Save ``img`` as a PNG at ``path`` through a temporary file, so a crash never leaves half an image."""
    path = Path(path)
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG")
    return path


def captioned(panels: list[tuple[str, Image.Image]]) -> Image.Image:
    """Stack pictures top to bottom, each under a caption band naming it ("original", "bent", ...), so a
    before/after picture says which part is which. The text scales with the picture's width."""
    from PIL import ImageDraw, ImageFont

    width = max(img.width for _, img in panels)
    size = max(12, width // 70)
    font = ImageFont.load_default(size=size)
    band, gap = int(size * 1.6), size // 2
    height = sum(img.height + band for _, img in panels) + gap * (len(panels) - 1)
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    top = 0
    for caption, img in panels:
        draw.text((size // 3, top + size // 4), caption, fill="black", font=font)
        sheet.paste(img.convert("RGB"), (0, top + band))
        top += img.height + band + gap
    return sheet

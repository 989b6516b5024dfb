"""One picture file as a tensor of a model's shape: any size or mode, converted, scaled, centre-cropped."""

from __future__ import annotations

import os
from typing import BinaryIO

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from swerve.errors import ConfigError

MAX_PICTURE_PIXELS = 8192 * 8192


def read_picture(
    path: str | os.PathLike | BinaryIO,
    channels: int,
    height: int,
    width: int,
    value_range: tuple[float, float],
    name: str | None = None,
) -> torch.Tensor:
    """The picture at ``path`` (or in an open binary file) as 1 x ``channels`` x ``height`` x ``width`` in
    ``value_range``: grey or RGB, transparent parts on white, scaled to cover the size and centre-cropped.
    ``name`` is what messages call it (default: the path)."""
    name = name or str(path)
    if channels not in (1, 3):
        raise ConfigError(f"cannot read pictures into {channels} channels (only grey or RGB)")
    try:
        with Image.open(path) as img:
            if img.width * img.height > MAX_PICTURE_PIXELS:
                raise ConfigError(f"{name} is {img.width} x {img.height}: too large a picture")
            img = ImageOps.exif_transpose(img)
            if img.mode in ("RGBA", "LA", "P", "PA"):
                rgba = img.convert("RGBA")
                img = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
            img = img.convert("L" if channels == 1 else "RGB")
            img = ImageOps.fit(img, (width, height), Image.Resampling.LANCZOS)
    except FileNotFoundError:
        raise ConfigError(f"no picture at {name}") from None
    except IsADirectoryError:
        raise ConfigError(f"{name} is a folder, not a picture") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ConfigError(f"{name} is not a picture swerve can read ({type(exc).__name__})") from None
    pixels = torch.from_numpy(np.asarray(img, dtype=np.float32).copy()).reshape(height, width, -1)
    lo, hi = value_range
    return (pixels.permute(2, 0, 1).unsqueeze(0) / 255.0) * (hi - lo) + lo

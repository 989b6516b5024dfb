"""A folder of images (png, jpg, bmp, gif, webp) as a dataset; class subfolders become labels."""

from __future__ import annotations

import os
import struct
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from tqdm import tqdm

from swerve.data.base import Dataset
from swerve.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")

# What Pillow raises for a broken, truncated or unreadable file.
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, struct.error, Image.DecompressionBombError)


def load_image_folder(
    path: str | os.PathLike,
    image_size: int,
    channels: int = 1,
    on_error: str = "skip",
    progress: bool = True,
) -> Dataset:
    """Every image under ``path`` (recursively), centre-cropped to a square and resized to ``image_size``.

    Images come out as N x C x S x S float32 in [-1, 1], grey (``channels=1``) or RGB (``channels=3``).
    If ``path`` has subfolders holding images, each subfolder (sorted by name) is a class and the images
    directly in ``path`` are left out with a warning; otherwise the dataset is unlabelled.
    A file that cannot be decoded raises DataError when ``on_error="raise"``; with ``"skip"`` it is left
    out, reported by a warning and listed in the returned dataset's ``skipped``.
    """
    if channels not in (1, 3):
        raise DataError(f"channels must be 1 (grey) or 3 (RGB), got {channels!r}")
    if on_error not in ("skip", "raise"):
        raise DataError(f"on_error must be 'skip' or 'raise', got {on_error!r}")
    if not isinstance(image_size, int) or image_size < 1:
        raise DataError(f"image_size must be a positive integer, got {image_size!r}")
    root = Path(path)
    if not root.exists():
        raise DataError(f"image folder not found: {root}")
    if not root.is_dir():
        raise DataError(f"{root} is not a folder (give a folder of images)")

    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise DataError(f"{root}: no images found ({', '.join(IMAGE_SUFFIXES)})")
    classes = sorted({p.relative_to(root).parts[0] for p in files if p.parent != root})
    if classes:
        loose = [p for p in files if p.parent == root]
        if loose:
            warnings.warn(
                f"{root}: {len(loose)} image(s) outside the class subfolders are left out", stacklevel=2
            )
        files = [p for p in files if p.parent != root]

    class_index = {name: i for i, name in enumerate(classes)}
    mode = "L" if channels == 1 else "RGB"
    images, labels, skipped = [], [], []
    for file in tqdm(files, desc=f"reading {root.name}", unit="img", disable=not progress):
        try:
            images.append(_read_image(file, image_size, mode))
        except _DECODE_ERRORS as exc:
            if on_error == "raise":
                raise DataError(f"{file}: cannot read image ({exc})") from None
            skipped.append(str(file))
            continue
        if classes:
            labels.append(class_index[file.relative_to(root).parts[0]])

    if skipped:
        shown = ", ".join(Path(s).name for s in skipped[:5]) + (", ..." if len(skipped) > 5 else "")
        warnings.warn(f"{root}: skipped {len(skipped)} unreadable image(s): {shown}", stacklevel=2)
    if not images:
        raise DataError(f"{root}: none of the {len(files)} image files could be read")
    x = torch.from_numpy(np.stack(images))
    y = torch.tensor(labels, dtype=torch.long) if classes else None
    return Dataset(x, y, classes, f"folder:{root}", skipped)


def _read_image(file: Path, size: int, mode: str) -> np.ndarray:
    """One image as a C x S x S float32 array in [-1, 1]."""
    with Image.open(file) as img:
        img.load()
        if img.mode == "P":
            img = img.convert("RGBA")  # palette transparency would otherwise warn on conversion
        img = img.convert(mode)
    img = ImageOps.fit(img, (size, size), method=Image.Resampling.LANCZOS)
    array = np.asarray(img, dtype=np.float32) / 127.5 - 1.0
    return array[None] if mode == "L" else array.transpose(2, 0, 1)

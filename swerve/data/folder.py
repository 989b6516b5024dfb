"""A folder of images (png, jpg, bmp, gif, webp) as a dataset; class subfolders become labels.

Images are kept as uint8 (a float copy of 10,000 RGB pictures at 256 px would take 7.9 GB, uint8 takes 2 GB);
the trainer converts each batch to float as it draws it. ``swerve data prepare`` writes the same pixels once
to a memory-mapped cache (swerve.data.prepared) for folders too large or too slow to decode every run.
"""

from __future__ import annotations

import os
import struct
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageColor, ImageOps

from swerve.data.base import Dataset
from swerve.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
CROPS = ("centre", "random")

# What Pillow raises for a broken, truncated or unreadable file.
DECODE_ERRORS = (OSError, ValueError, SyntaxError, struct.error, Image.DecompressionBombError)


@dataclass(frozen=True)
class ReadOptions:
    """How each picture becomes a square: its size, crop, the colour under transparent pixels, and mode."""

    size: int
    channels: int = 3  # 1 (grey) or 3 (RGB)
    crop: str = "centre"  # centre: the middle square; random: a square at a seeded random offset
    background: tuple[int, int, int] = (255, 255, 255)
    seed: int = 0


@dataclass(frozen=True)
class FolderListing:
    """The image files under a folder and, when it has class subfolders, the class of each."""

    root: Path
    files: list[Path]
    classes: list[str]
    labels: list[int]  # empty when unlabelled
    loose: list[Path]  # images beside the class subfolders, left out


def list_images(path: str | os.PathLike) -> FolderListing:
    """Every image file under ``path`` (recursively, sorted); subfolders holding images are classes."""
    root = Path(path)
    if not root.exists():
        raise DataError(f"image folder not found: {root}")
    if not root.is_dir():
        raise DataError(f"{root} is not a folder (give a folder of images)")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise DataError(f"{root}: no images found ({', '.join(IMAGE_SUFFIXES)})")
    classes = sorted({p.relative_to(root).parts[0] for p in files if p.parent != root})
    loose = [p for p in files if p.parent == root] if classes else []
    if classes:
        files = [p for p in files if p.parent != root]
    index = {name: i for i, name in enumerate(classes)}
    labels = [index[p.relative_to(root).parts[0]] for p in files] if classes else []
    return FolderListing(root, files, classes, labels, loose)


def check_options(image_size: int, channels: int | None, crop: str, on_error: str) -> None:
    if channels not in (None, 1, 3):
        raise DataError(f"channels must be 1 (grey) or 3 (RGB), got {channels!r}")
    if on_error not in ("skip", "raise"):
        raise DataError(f"on_error must be 'skip' or 'raise', got {on_error!r}")
    if not isinstance(image_size, int) or isinstance(image_size, bool) or image_size < 1:
        raise DataError(f"image_size must be a positive integer, got {image_size!r}")
    if crop not in CROPS:
        raise DataError(f"crop must be one of {', '.join(CROPS)}, got {crop!r}")


def parse_colour(colour: str | tuple[int, int, int]) -> tuple[int, int, int]:
    """A colour name, ``#rrggbb`` or three integers 0..255 as an RGB triple (DataError otherwise)."""
    if isinstance(colour, str):
        try:
            return tuple(ImageColor.getrgb(colour)[:3])
        except ValueError:
            raise DataError(f"unknown background colour {colour!r}; use a name or #rrggbb") from None
    if len(colour) == 3 and all(isinstance(v, int) and 0 <= v <= 255 for v in colour):
        return tuple(colour)
    raise DataError(f"background must be a colour name, #rrggbb or three integers 0..255, got {colour!r}")


def load_image_folder(
    path: str | os.PathLike,
    image_size: int,
    channels: int | None = None,
    on_error: str = "skip",
    progress: bool = True,
    crop: str = "centre",
    background: str | tuple[int, int, int] = "white",
    seed: int = 0,
) -> Dataset:
    """Every image under ``path`` (recursively), cropped to a square and resized to ``image_size``.

    Images come out as N x C x S x S uint8 (``Dataset.x`` reads them as float in [-1, 1]), grey
    (``channels=1``), RGB (``channels=3``) or, with ``None``, RGB unless every picture is grey.
    ``crop``: ``centre`` (the middle square) or ``random`` (a square at a random offset, seeded by ``seed``);
    transparent pixels are composited on ``background``. If ``path`` has subfolders holding images, each
    subfolder (sorted by name) is a class and the images directly in ``path`` are left out with a warning;
    otherwise the dataset is unlabelled. A file that cannot be decoded raises DataError when
    ``on_error="raise"``; with ``"skip"`` it is left out, reported by a warning and listed in ``skipped``.
    """
    check_options(image_size, channels, crop, on_error)
    listing = list_images(path)
    warn_loose(listing)
    options = ReadOptions(
        image_size, 3 if channels is None else channels, crop, parse_colour(background), seed
    )
    # Filled in place: memory holds the uint8 pictures once, never a list of them beside a stacked copy.
    images = np.empty((len(listing.files), options.channels, image_size, image_size), np.uint8)
    kept, labels, skipped = 0, [], []
    for i, image in read_images(listing, options, on_error, progress):
        if image is None:
            skipped.append(str(listing.files[i]))
            continue
        images[kept] = image
        kept += 1
        if listing.classes:
            labels.append(listing.labels[i])
    warn_skipped(listing.root, skipped)
    if not kept:
        raise DataError(f"{listing.root}: none of the {len(listing.files)} image files could be read")
    x = torch.from_numpy(images[:kept])
    if channels is None and is_grey(x):
        x = x[:, :1].contiguous()
    y = torch.tensor(labels, dtype=torch.long) if listing.classes else None
    return Dataset(x, y, listing.classes, f"folder:{listing.root}", skipped)


def is_grey(pixels: torch.Tensor) -> bool:
    """Whether every RGB pixel of N x 3 x H x W uint8 images has equal red, green and blue."""
    return all(
        bool((chunk[:, 0] == chunk[:, 1]).all() and (chunk[:, 1] == chunk[:, 2]).all())
        for chunk in pixels.split(256)
    )


def read_images(
    listing: FolderListing, options: ReadOptions, on_error: str, progress: bool
) -> Iterator[tuple[int, np.ndarray | None]]:
    """(index, C x S x S uint8 image) for each file in order; ``None`` for an unreadable one when skipping."""
    from tqdm import tqdm

    bar = tqdm(listing.files, desc=f"reading {listing.root.name}", unit="img", disable=not progress)
    for i, file in enumerate(bar):
        try:
            yield i, read_image(file, options, np.random.default_rng([options.seed, i]))
        except DECODE_ERRORS as exc:
            if on_error == "raise":
                raise DataError(f"{file}: cannot read image ({exc})") from None
            yield i, None


def read_image(file: Path, options: ReadOptions, rng: np.random.Generator | None = None) -> np.ndarray:
    """One image as a C x S x S uint8 array: transparency composited on the background, cropped, resized."""
    with Image.open(file) as img:
        img.load()
        img = ImageOps.exif_transpose(img)  # photos stored sideways with an orientation tag
        if img.mode == "P":
            img = img.convert("RGBA")  # palette transparency would otherwise warn on conversion
        if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
            rgba = img.convert("RGBA")
            img = Image.new("RGBA", rgba.size, (*options.background, 255))
            img.alpha_composite(rgba)
        img = img.convert("L" if options.channels == 1 else "RGB")
    img = _crop_square(img, options.crop, rng)
    img = img.resize((options.size, options.size), Image.Resampling.LANCZOS)
    array = np.asarray(img, dtype=np.uint8)
    return array[None] if options.channels == 1 else array.transpose(2, 0, 1)


def _crop_square(img: Image.Image, crop: str, rng: np.random.Generator | None) -> Image.Image:
    w, h = img.size
    side = min(w, h)
    if crop == "random" and rng is not None:
        left, top = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
    else:
        left, top = (w - side) // 2, (h - side) // 2
    return img.crop((left, top, left + side, top + side))


def warn_loose(listing: FolderListing) -> None:
    if listing.loose:
        warnings.warn(
            f"{listing.root}: {len(listing.loose)} image(s) outside the class subfolders are left out",
            stacklevel=3,
        )


def warn_skipped(root: Path, skipped: list[str]) -> None:
    if skipped:
        shown = ", ".join(Path(s).name for s in skipped[:5]) + (", ..." if len(skipped) > 5 else "")
        warnings.warn(f"{root}: skipped {len(skipped)} unreadable image(s): {shown}", stacklevel=3)

"""A folder of images prepared once into a memory-mapped uint8 cache, and a survey of what a folder holds.

``prepare_folder`` decodes, crops and resizes every picture once and writes ``images.npy`` (N x C x S x S
uint8, read back memory-mapped, so a data set larger than memory trains from the page cache) and
``index.json`` (classes, labels, the files kept and skipped, the options used) into one folder.
``folder_info`` says what a folder holds: how many pictures, their sizes and modes, classes, unreadable
files, and byte-identical duplicates.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from swerve.data.base import Dataset
from swerve.data.folder import (
    DECODE_ERRORS,
    ReadOptions,
    check_options,
    is_grey,
    list_images,
    parse_colour,
    read_images,
    warn_loose,
    warn_skipped,
)
from swerve.errors import DataError
from swerve.utils import atomic_path

FORMAT = "swerve-prepared-images"
VERSION = 1
INDEX, IMAGES = "index.json", "images.npy"


def is_prepared(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a folder written by :func:`prepare_folder`."""
    index = Path(path) / INDEX
    if not index.is_file():
        return False
    try:
        return json.loads(index.read_text(encoding="utf-8")).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def prepare_folder(
    path: str | os.PathLike,
    out: str | os.PathLike,
    image_size: int,
    channels: int | None = None,
    crop: str = "centre",
    background: str | tuple[int, int, int] = "white",
    seed: int = 0,
    on_error: str = "skip",
    progress: bool = True,
) -> dict[str, Any]:
    """Write the pictures under ``path`` as a uint8 cache in the folder ``out``; returns its index.

    The options are those of :func:`swerve.data.folder.load_image_folder`; ``channels=None`` keeps colour
    unless every picture is grey. ``out`` is written whole or not at all, and is replaced only if it is an
    earlier prepared cache (any other existing folder or file is refused, never deleted).
    """
    check_options(image_size, channels, crop, on_error)
    out = Path(out)
    if out.exists() and not is_prepared(out):
        raise DataError(f"{out} exists and is not a prepared image cache; give a new folder for --out")
    listing = list_images(path)
    warn_loose(listing)
    options = ReadOptions(
        image_size, 3 if channels is None else channels, crop, parse_colour(background), seed
    )
    shape = (len(listing.files), options.channels, image_size, image_size)
    with atomic_path(out) as tmp:
        tmp.mkdir()
        images = np.lib.format.open_memmap(tmp / IMAGES, mode="w+", dtype=np.uint8, shape=shape)
        kept: list[int] = []
        skipped: list[str] = []
        for i, image in read_images(listing, options, on_error, progress):
            if image is None:
                skipped.append(str(listing.files[i]))
            else:
                images[len(kept)] = image
                kept.append(i)
        if not kept:
            raise DataError(f"{listing.root}: none of the {len(listing.files)} image files could be read")
        grey = channels is None and is_grey(torch.from_numpy(np.asarray(images[: len(kept)])))
        images.flush()
        del images
        _shrink(tmp / IMAGES, len(kept), grey)
        index = {
            "format": FORMAT,
            "version": VERSION,
            "source": str(listing.root),
            "size": image_size,
            "channels": 1 if grey else options.channels,
            "crop": crop,
            "background": list(options.background),
            "seed": seed,
            "classes": listing.classes,
            "labels": [listing.labels[i] for i in kept] if listing.classes else None,
            "files": [str(listing.files[i].relative_to(listing.root)) for i in kept],
            "skipped": skipped,
        }
        (tmp / INDEX).write_text(json.dumps(index, indent=1) + "\n", encoding="utf-8")
    warn_skipped(listing.root, skipped)
    return index


def _shrink(file: Path, n: int, grey: bool) -> None:
    """Rewrite the cache with only its first ``n`` pictures (some were unreadable), or only one channel."""
    images = np.load(file, mmap_mode="r")
    if n == len(images) and not grey:
        return
    part = file.with_suffix(".part.npy")
    kept = images[:n, :1] if grey else images[:n]
    out = np.lib.format.open_memmap(part, mode="w+", dtype=np.uint8, shape=kept.shape)
    for start in range(0, n, 1024):
        out[start : start + 1024] = kept[start : start + 1024]
    out.flush()
    del out, images
    os.replace(part, file)


def load_prepared(path: str | os.PathLike) -> Dataset:
    """A cache written by :func:`prepare_folder`, its pixels memory-mapped (nothing is read until used)."""
    root = Path(path)
    if not is_prepared(root):
        raise DataError(f"{root} is not a prepared image cache (make one with: swerve data prepare FOLDER)")
    index = json.loads((root / INDEX).read_text(encoding="utf-8"))
    try:
        # Copy-on-write: a writable mapping that never changes the file (torch wants writable arrays).
        images = np.load(root / IMAGES, mmap_mode="c", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"{root / IMAGES}: cannot read the prepared images ({exc})") from None
    expected = (len(index["files"]), index["channels"], index["size"], index["size"])
    if images.dtype != np.uint8 or images.shape != expected:
        raise DataError(
            f"{root / IMAGES}: holds {images.dtype} {list(images.shape)}, expected uint8 {list(expected)}"
        )
    labels = None if index["labels"] is None else torch.tensor(index["labels"], dtype=torch.long)
    name = f"prepared:{root}"
    return Dataset(torch.from_numpy(images), labels, list(index["classes"]), name, list(index["skipped"]))


def folder_info(path: str | os.PathLike, progress: bool = True) -> dict[str, Any]:
    """What a folder of images holds: count, sizes, modes, classes, unreadable files, duplicates by hash."""
    from tqdm import tqdm

    listing = list_images(path)
    sizes: Counter[str] = Counter()
    modes: Counter[str] = Counter()
    by_hash: dict[str, list[str]] = {}
    unreadable = []
    for file in tqdm(listing.files, desc=f"surveying {listing.root.name}", unit="img", disable=not progress):
        name = str(file.relative_to(listing.root))
        by_hash.setdefault(hashlib.sha256(file.read_bytes()).hexdigest(), []).append(name)
        try:
            with Image.open(file) as img:
                img.load()
                sizes[f"{img.width}x{img.height}"] += 1
                modes[img.mode] += 1
        except DECODE_ERRORS:
            unreadable.append(name)
    counts = Counter(listing.labels)
    return {
        "folder": str(listing.root),
        "images": len(listing.files),
        "readable": len(listing.files) - len(unreadable),
        "unreadable": unreadable,
        "classes": {c: counts[i] for i, c in enumerate(listing.classes)},
        "left_out": [str(p.relative_to(listing.root)) for p in listing.loose],
        "sizes": dict(sizes.most_common()),
        "modes": dict(modes.most_common()),
        "duplicates": [names for names in by_hash.values() if len(names) > 1],
    }

"""Datasets by name, as in ``load_dataset("fashion-mnist")`` or ``load_dataset("folder:PATH")``.

Each loader returns a :class:`Dataset`: images as N x C x H x W float32 in [-1, 1], 2-D toys as N x 2 points,
text (``fortunes``, ``words``, ``text:PATH``) as N x L character indices with a vocabulary.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable

import torch
import torch.nn.functional as F

from swerve.data.base import Dataset
from swerve.data.digits import load_digits
from swerve.data.folder import load_image_folder
from swerve.data.idx import load_fashion_mnist, load_mnist, read_idx
from swerve.data.text import load_fortunes, load_text, load_words
from swerve.data.toys import (
    GAUSSIANS25_MODES,
    GAUSSIANS25_STD,
    gaussians25,
    ring,
    ring_modes,
    swiss_roll,
    swiss_roll_curve,
)
from swerve.errors import DataError

__all__ = [
    "DATASETS",
    "GAUSSIANS25_MODES",
    "GAUSSIANS25_STD",
    "Dataset",
    "gaussians25",
    "load_dataset",
    "load_digits",
    "load_fashion_mnist",
    "load_image_folder",
    "load_fortunes",
    "load_mnist",
    "load_text",
    "load_words",
    "read_idx",
    "resize",
    "ring",
    "ring_modes",
    "swiss_roll",
    "swiss_roll_curve",
]

TOY_SIZE = 100_000  # points drawn for a toy when n is not given; the trainer samples batches from them
FOLDER_SIZE = 64  # image size for folder datasets when image_size is not given

Loader = Callable[..., Dataset]


def _idx(load: Callable[..., Dataset]) -> Loader:
    return lambda split, root, download, seed, n: load(split, root, download)


def _toy(make: Callable[..., Dataset]) -> Loader:
    return lambda split, root, download, seed, n: make(TOY_SIZE if n is None else n, seed)


# Every entry is called as DATASETS[name](split=, root=, download=, seed=, n=) and ignores what it has no use
# for: digits and the toys have no test split, toys use seed and n, text uses seed for its held-out split.
# Image folders are "folder:PATH", plain-text files and folders "text:PATH".
DATASETS: dict[str, Loader] = {
    "fashion-mnist": _idx(load_fashion_mnist),
    "mnist": _idx(load_mnist),
    "digits": lambda split, root, download, seed, n: load_digits(),
    "gaussians25": _toy(gaussians25),
    "swissroll": _toy(swiss_roll),
    "ring": _toy(ring),
    "fortunes": lambda split, root, download, seed, n: load_fortunes(split, seed=seed),
    "words": lambda split, root, download, seed, n: load_words(split, seed=seed),
}


def load_dataset(
    name: str,
    split: str = "train",
    root: str | os.PathLike | None = None,
    download: bool = False,
    seed: int = 0,
    n: int | None = None,
    image_size: int | None = None,
    classes: list[int] | None = None,
    *,
    channels: int | None = None,
    on_error: str = "skip",
    progress: bool = True,
) -> Dataset:
    """Load a dataset by name (a key of :data:`DATASETS` or ``folder:PATH``), then filter and resize it.

    ``n``: points to draw for toys (default 100,000); for images, keep only the first ``n``.
    ``image_size``: resize square images to this size (bilinear, antialiased); folders default to 64.
    ``classes``: keep only these class indices (labels keep their numbers).
    ``channels``: 1 or 3; for folders the colour mode to read, for other images grey is repeated to RGB
    or RGB turned to grey. ``on_error``: ``skip`` or ``raise`` on an unreadable image in a folder.
    ``root``/``download`` apply to Fashion-MNIST and MNIST, ``seed`` to toys.
    """
    if split not in ("train", "test"):
        raise DataError(f"unknown split {split!r}; use 'train' or 'test'")
    if name.startswith("folder:"):
        path = name.removeprefix("folder:")
        if not path:
            raise DataError("folder: needs a path, as in folder:./my-images")
        size = FOLDER_SIZE if image_size is None else image_size
        data = load_image_folder(path, size, channels or 1, on_error=on_error, progress=progress)
    elif name.startswith("text:"):
        path = name.removeprefix("text:")
        if not path:
            raise DataError("text: needs a path, as in text:./my-corpus.txt")
        data = load_text(path, split, seed=seed)
    elif name in DATASETS:
        data = DATASETS[name](split=split, root=root, download=download, seed=seed, n=n)
    else:
        raise DataError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}, folder:PATH, text:PATH")

    is_image = data.x.dim() == 4
    if classes is not None:
        data = _keep_classes(data, classes)
    if n is not None and (is_image or data.vocab):
        if n < 1:
            raise DataError(f"n must be a positive number of samples, got {n}")
        labels = None if data.labels is None else data.labels[:n]  # text has none
        data = dataclasses.replace(data, x=data.x[:n], labels=labels)
    if image_size is not None or channels is not None:
        if not is_image:
            raise DataError(f"{name} is not image data: image_size and channels apply to images only")
        if image_size is not None:
            data = resize(data, image_size)
        if channels is not None:
            data = _with_channels(data, channels)
    return data


def resize(data: Dataset, image_size: int) -> Dataset:
    """The dataset with its images resized to ``image_size`` squared (bilinear, antialiased)."""
    if not isinstance(image_size, int) or image_size < 1:
        raise DataError(f"image_size must be a positive integer, got {image_size!r}")
    if tuple(data.x.shape[-2:]) == (image_size, image_size):
        return data
    size = (image_size, image_size)
    x = F.interpolate(data.x, size=size, mode="bilinear", antialias=True, align_corners=False)
    return dataclasses.replace(data, x=x.clamp_(-1.0, 1.0))


def _keep_classes(data: Dataset, classes: list[int]) -> Dataset:
    if data.labels is None:
        raise DataError(f"{data.name} has no labels, so it cannot be filtered by class")
    unknown = [c for c in classes if not isinstance(c, int) or not 0 <= c < len(data.classes)]
    if unknown:
        raise DataError(f"{data.name}: no class {unknown[0]!r}; classes are 0..{len(data.classes) - 1}")
    kept = data.subset(list(classes))
    if len(kept) == 0:
        raise DataError(f"{data.name}: no samples in classes {list(classes)}")
    return kept


def _with_channels(data: Dataset, channels: int) -> Dataset:
    have = data.x.shape[1]
    if channels not in (1, 3):
        raise DataError(f"channels must be 1 (grey) or 3 (RGB), got {channels!r}")
    if have == channels:
        return data
    if have == 1:
        return dataclasses.replace(data, x=data.x.repeat(1, 3, 1, 1))
    luma = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)  # ITU-R BT.601 weights; they sum to 1
    return dataclasses.replace(data, x=(data.x * luma).sum(dim=1, keepdim=True))

"""Datasets by name, as in ``load_dataset("fashion-mnist")`` or ``load_dataset("folder:PATH")``.

Each loader returns a :class:`Dataset`: images as N x C x H x W (float32 in [-1, 1], or uint8 pixels for
folders, prepared caches and emoji; ``Dataset.x`` is always float), 2-D toys as N x 2 points.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable

import torch
import torch.nn.functional as F

from swerve.data.base import Dataset, to_float, to_pixels
from swerve.data.digits import load_digits
from swerve.data.emoji import load_emoji
from swerve.data.folder import load_image_folder
from swerve.data.idx import load_fashion_mnist, load_mnist, read_idx
from swerve.data.prepared import folder_info, is_prepared, load_prepared, prepare_folder
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
    "load_emoji",
    "load_fashion_mnist",
    "load_image_folder",
    "load_like",
    "load_mnist",
    "load_prepared",
    "folder_info",
    "prepare_folder",
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
    return lambda split, root, download, seed, n, **_: load(split, root, download)


def _toy(make: Callable[..., Dataset]) -> Loader:
    return lambda split, root, download, seed, n, **_: make(TOY_SIZE if n is None else n, seed)


def _emoji(
    split: str, root, download, seed, n, image_size: int | None = None, progress: bool = True
) -> Dataset:
    return load_emoji(split, image_size, progress=progress)


# Every entry is called as DATASETS[name](split=, root=, download=, seed=, n=, image_size=, progress=) and
# ignores what it has no use for: digits and the toys have no test split, only toys use seed and n, and
# only emoji renders at image_size (the others are resized after loading). Image folders are "folder:PATH".
DATASETS: dict[str, Loader] = {
    "fashion-mnist": _idx(load_fashion_mnist),
    "mnist": _idx(load_mnist),
    "emoji": _emoji,
    "digits": lambda split, root, download, seed, n, **_: load_digits(),
    "gaussians25": _toy(gaussians25),
    "swissroll": _toy(swiss_roll),
    "ring": _toy(ring),
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
    """Load a dataset by name (a key of :data:`DATASETS`, ``emoji:COLOUR`` or ``folder:PATH``), then filter
    and resize it.

    ``n``: points to draw for toys (default 100,000); for images, keep only the first ``n``.
    ``image_size``: resize square images to this size (bilinear, antialiased); folders default to 64; emoji
    are rendered at this size (32 to 128, default 64) on white, or on ``COLOUR`` for ``emoji:COLOUR``.
    ``classes``: keep only these class indices (labels keep their numbers).
    ``channels``: 1 or 3; for folders the colour mode to read (default: RGB unless every picture is grey),
    for other images grey is repeated to RGB or RGB turned to grey. ``prepared:PATH`` (or ``folder:PATH``
    naming a folder made by ``swerve data prepare``) reads a memory-mapped uint8 cache.
    ``on_error``: ``skip`` or ``raise`` on an unreadable image in a folder.
    ``root``/``download`` apply to Fashion-MNIST and MNIST, ``seed`` to toys.
    """
    if split not in ("train", "test"):
        raise DataError(f"unknown split {split!r}; use 'train' or 'test'")
    if name.startswith(("folder:", "prepared:")):
        kind, _, path = name.partition(":")
        if not path:
            raise DataError(f"{kind}: needs a path, as in {kind}:./my-images")
        if kind == "prepared" or is_prepared(path):
            data = load_prepared(path)
        else:
            size = FOLDER_SIZE if image_size is None else image_size
            data = load_image_folder(path, size, channels, on_error=on_error, progress=progress)
    elif name.startswith("emoji:"):  # emoji on another background, as in emoji:black or emoji:#202020
        data = load_emoji(split, image_size, name.removeprefix("emoji:"), progress=progress)
    elif name in DATASETS:
        given = {"split": split, "root": root, "download": download, "seed": seed, "n": n}
        data = DATASETS[name](**given, image_size=image_size, progress=progress)
    else:
        raise DataError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}, emoji:COLOUR, folder:PATH")

    is_image = data.values.dim() == 4
    if classes is not None:
        data = _keep_classes(data, classes)
    if n is not None and is_image:
        if n < 1:
            raise DataError(f"n must be a positive number of samples, got {n}")
        data = data.take(slice(0, n))
    if image_size is not None or channels is not None:
        if not is_image:
            raise DataError(f"{name} is 2-D point data: image_size and channels apply to images only")
        if image_size is not None:
            data = resize(data, image_size)
        if channels is not None:
            data = _with_channels(data, channels)
    return data


def load_like(name: str, shape: list[int], **kwargs) -> Dataset:
    """:func:`load_dataset` at the size and channels of a model's samples (``shape``, as in its DataSpec).

    A model trained on emoji or a folder at 32 or 48 px is measured against real pictures of that size,
    not the data set's default size. Points (a 1-D ``shape``) load as they are.
    """
    if len(shape) == 3:
        kwargs.setdefault("image_size", int(shape[-1]))
        kwargs.setdefault("channels", int(shape[0]))
    return load_dataset(name, **kwargs)


def resize(data: Dataset, image_size: int) -> Dataset:
    """The dataset with its images resized to ``image_size`` squared (bilinear, antialiased)."""
    if not isinstance(image_size, int) or image_size < 1:
        raise DataError(f"image_size must be a positive integer, got {image_size!r}")
    if tuple(data.values.shape[-2:]) == (image_size, image_size):
        return data
    size = (image_size, image_size)
    return _map_images(
        data, lambda x: F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)
    )


def _map_images(data: Dataset, change: Callable[[torch.Tensor], torch.Tensor]) -> Dataset:
    """The dataset with ``change`` applied to its float images (clamped to [-1, 1]); uint8 storage stays
    uint8 and is changed a chunk at a time, so memory never holds all of it as float."""
    if not data.is_uint8:
        return dataclasses.replace(data, values=change(data.values).clamp_(-1.0, 1.0))
    chunks = [to_pixels(change(to_float(chunk))) for chunk in data.values.split(256)]
    return dataclasses.replace(data, values=torch.cat(chunks))


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
    have = data.values.shape[1]
    if channels not in (1, 3):
        raise DataError(f"channels must be 1 (grey) or 3 (RGB), got {channels!r}")
    if have == channels:
        return data
    if have == 1:
        return dataclasses.replace(data, values=data.values.repeat(1, 3, 1, 1))
    luma = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)  # ITU-R BT.601 weights; they sum to 1
    return _map_images(data, lambda x: (x * luma).sum(dim=1, keepdim=True))

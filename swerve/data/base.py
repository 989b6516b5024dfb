"""The in-memory dataset every swerve trainer and metric reads."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from swerve.errors import DataError


@dataclass
class Dataset:
    """Samples, optional labels, and what they are.

    ``values`` holds the samples as stored: float (images: N x C x H x W in [-1, 1]; points: N x D), or
    images as uint8 in 0..255, four times smaller (folders and emoji load so; a prepared cache is even
    memory-mapped). ``x`` is always float: for uint8 storage it is converted on first use and kept, so
    code that reads batches should use :meth:`batch`, which converts only the rows asked for.
    ``classes`` names the labels (``labels[i]`` indexes it); ``name`` says where the data came from.
    2-D toy data keeps its raw coordinates, which may reach a little outside [-1, 1].
    ``skipped`` lists the files a loader could not read and left out (image folders only).
    ``groups`` (optional) gives each sample's near-duplicate group, e.g. the skin-tone variants of one emoji:
    splits and memorisation checks treat a group as one. ``meta`` holds optional per-sample lists (names,
    subgroups) and other facts about the data set.
    """

    values: torch.Tensor
    labels: torch.Tensor | None = None
    classes: list[str] = field(default_factory=list)
    name: str = ""
    skipped: list[str] = field(default_factory=list)
    groups: torch.Tensor | None = None
    meta: dict[str, list] = field(default_factory=dict)
    _float: torch.Tensor | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for what, values in (("labels", self.labels), ("groups", self.groups)):
            if values is not None and len(values) != len(self.values):
                raise DataError(
                    f"{self.name or 'dataset'}: {len(self.values)} samples but {len(values)} {what}"
                )

    def __len__(self) -> int:
        return len(self.values)

    @property
    def shape(self) -> list[int]:
        """Shape of one sample."""
        return list(self.values.shape[1:])

    @property
    def is_uint8(self) -> bool:
        """Whether the samples are stored as uint8 pixels (0..255) rather than floats."""
        return self.values.dtype == torch.uint8

    @property
    def x(self) -> torch.Tensor:
        """All samples as float (images in [-1, 1]); uint8 storage is converted once, on first use."""
        if not self.is_uint8:
            return self.values
        if self._float is None:
            self._float = to_float(self.values)
        return self._float

    def batch(self, index: torch.Tensor | slice) -> torch.Tensor:
        """The samples at ``index`` as float (images in [-1, 1]), converting only those rows."""
        rows = self.values[index]
        return to_float(rows) if rows.dtype == torch.uint8 else rows

    def take(self, index: torch.Tensor | slice, name: str | None = None) -> Dataset:
        """The samples at ``index`` (a slice, indices or a mask) with their labels, groups and meta."""
        rows = torch.arange(len(self.values))[index].tolist()
        meta = {k: [v[i] for i in rows] if len(v) == len(self.values) else v for k, v in self.meta.items()}
        return Dataset(
            self.values[index],
            None if self.labels is None else self.labels[index],
            self.classes,
            self.name if name is None else name,
            self.skipped,
            None if self.groups is None else self.groups[index],
            meta,
        )

    def subset(self, classes: list[int]) -> Dataset:
        """Only the samples of the given class indices (labels keep their original numbering)."""
        if self.labels is None:
            raise DataError(f"{self.name or 'dataset'} has no labels, so it cannot be split by class")
        keep = torch.isin(self.labels, torch.as_tensor(classes))
        return self.take(keep, f"{self.name}[{','.join(map(str, classes))}]")


def to_float(pixels: torch.Tensor) -> torch.Tensor:
    """uint8 pixels (0..255) as float32 in [-1, 1]."""
    return pixels.to(torch.float32).div_(127.5).sub_(1.0)


def to_pixels(x: torch.Tensor) -> torch.Tensor:
    """Float images in [-1, 1] as uint8 pixels, rounded to the nearest level."""
    return x.add(1.0).mul_(127.5).round_().clamp_(0, 255).to(torch.uint8)


def user_cache_dir(name: str) -> Path:
    """``$XDG_CACHE_HOME/swerve/name``, or ``~/.cache/swerve/name``: where data sets keep what they make."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "swerve" / name


def file_stamp(path: Path) -> tuple[int, int]:
    """A file's modification time and size: in an in-process cache key, a replaced file is read again."""
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size

"""The in-memory dataset every swerve trainer and metric reads."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from swerve.errors import DataError


@dataclass
class Dataset:
    """Samples as one float tensor (images: N x C x H x W in [-1, 1]; points: N x D), optional labels.

    ``classes`` names the labels (``labels[i]`` indexes it); ``name`` says where the data came from.
    2-D toy data keeps its raw coordinates, which may reach a little outside [-1, 1].
    ``skipped`` lists the files a loader could not read and left out (image folders only).
    ``groups`` (optional) gives each sample's near-duplicate group, e.g. the skin-tone variants of one emoji:
    splits and memorisation checks treat a group as one. ``meta`` holds optional per-sample lists (names,
    subgroups) and other facts about the data set.
    """

    x: torch.Tensor
    labels: torch.Tensor | None = None
    classes: list[str] = field(default_factory=list)
    name: str = ""
    skipped: list[str] = field(default_factory=list)
    groups: torch.Tensor | None = None
    meta: dict[str, list] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for what, values in (("labels", self.labels), ("groups", self.groups)):
            if values is not None and len(values) != len(self.x):
                raise DataError(f"{self.name or 'dataset'}: {len(self.x)} samples but {len(values)} {what}")

    def __len__(self) -> int:
        return len(self.x)

    @property
    def shape(self) -> list[int]:
        """Shape of one sample."""
        return list(self.x.shape[1:])

    def take(self, index: torch.Tensor | slice, name: str | None = None) -> Dataset:
        """The samples at ``index`` (a slice, indices or a mask) with their labels, groups and meta."""
        rows = torch.arange(len(self.x))[index].tolist()
        meta = {k: [v[i] for i in rows] if len(v) == len(self.x) else v for k, v in self.meta.items()}
        return Dataset(
            self.x[index],
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


def user_cache_dir(name: str) -> Path:
    """``$XDG_CACHE_HOME/swerve/name``, or ``~/.cache/swerve/name``: where data sets keep what they make."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "swerve" / name


def file_stamp(path: Path) -> tuple[int, int]:
    """A file's modification time and size: in an in-process cache key, a replaced file is read again."""
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size

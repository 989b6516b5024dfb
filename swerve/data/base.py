"""The in-memory dataset every swerve trainer and metric reads."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from swerve.errors import DataError


@dataclass
class Dataset:
    """Samples as one float tensor (images: N x C x H x W in [-1, 1]; points: N x D), optional labels.

    ``classes`` names the labels (``labels[i]`` indexes it); ``name`` says where the data came from.
    2-D toy data keeps its raw coordinates, which may reach a little outside [-1, 1].
    ``skipped`` lists the files a loader could not read and left out (image folders only).
    Text (:mod:`swerve.data.text`): ``x`` is N x L character indices into ``vocab``, and a sample's shape is
    that of its one-hot form, V x L.
    """

    x: torch.Tensor
    labels: torch.Tensor | None = None
    classes: list[str] = field(default_factory=list)
    name: str = ""
    skipped: list[str] = field(default_factory=list)
    vocab: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.labels is not None and len(self.labels) != len(self.x):
            raise DataError(f"{self.name or 'dataset'}: {len(self.x)} samples but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.x)

    @property
    def shape(self) -> list[int]:
        """Shape of one sample (for text, of its one-hot form: vocabulary size x length)."""
        if self.vocab:
            return [len(self.vocab), *self.x.shape[1:]]
        return list(self.x.shape[1:])

    def subset(self, classes: list[int]) -> Dataset:
        """Only the samples of the given class indices (labels keep their original numbering)."""
        if self.labels is None:
            raise DataError(f"{self.name or 'dataset'} has no labels, so it cannot be split by class")
        keep = torch.isin(self.labels, torch.as_tensor(classes))
        name = f"{self.name}[{','.join(map(str, classes))}]"
        return Dataset(self.x[keep], self.labels[keep], self.classes, name, self.skipped, self.vocab)

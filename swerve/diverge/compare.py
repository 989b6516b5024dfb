"""Every divergence is reported next to its undiverged baseline, with the same metrics on the same footing.

:func:`compare` puts a method's samples and a baseline's samples through one extractor against one set of
real images (:func:`swerve.measure.novelty_quality`, plus the samples' own spread,
:func:`swerve.measure.sparseness`) and returns two rows that differ only in what made the samples.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from swerve.data import load_like
from swerve.errors import SwerveError
from swerve.measure import domain_classifier, extract_features, novelty_quality, sparseness
from swerve.utils import make_generator


def reference_images(
    dataset: str, n: int = 2000, seed: int = 0, shape: list[int] | None = None
) -> torch.Tensor | None:
    """``n`` random real test images of ``dataset`` (train split where there is no test split), or None;
    at the size and channels of ``shape`` (a model's sample shape) when given."""
    for split in ("test", "train"):
        try:
            data = load_like(dataset, shape or [], split=split)
        except SwerveError:
            continue
        if data.x.dim() == 4:
            pick = torch.randperm(len(data), generator=make_generator(seed))[:n]
            return data.x[pick]
    return None


def default_extractor(dataset: str) -> nn.Module | None:
    """The shipped domain classifier for ``dataset``, or None when swerve has none."""
    try:
        return domain_classifier(dataset)
    except SwerveError:
        return None


def measure_samples(
    x: torch.Tensor, reference: torch.Tensor, extractor: nn.Module, seed: int = 0
) -> dict[str, float]:
    """novelty_quality's values and the samples' sparseness (k=10) in the extractor's features."""
    values = dict(novelty_quality(x, reference, extractor, seed=seed).values)
    values["sparseness"] = sparseness(extract_features(extractor, x), k=min(10, len(x) - 1))
    return values


def compare(
    method: tuple[str, torch.Tensor],
    baseline: tuple[str, torch.Tensor],
    reference: torch.Tensor,
    extractor: nn.Module,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Two rows, the method's samples and the baseline's, measured identically (see the module doc)."""
    return [
        {"samples": name, "n": len(x), **measure_samples(x, reference, extractor, seed)}
        for name, x in (method, baseline)
    ]

"""Sparseness of a set in a behaviour space: Lehman & Stanley's novelty score, used as a metric.

The novelty of a point is its mean distance to its k nearest neighbours among the others; the sparseness of
a set (an archive of a novelty search, a batch of samples) is that, averaged over its points. Larger means
the points are spread further apart in the space.
"""

from __future__ import annotations

import torch

from swerve.errors import ConfigError


def novelty_scores(
    x: torch.Tensor, others: torch.Tensor, k: int = 10, exclude_self: bool = False
) -> torch.Tensor:
    """Mean distance of each row of ``x`` to its ``k`` nearest rows of ``others`` (differentiable).

    ``exclude_self``: ``x`` is the first ``len(x)`` rows of ``others``; a point's zero distance to itself
    is then left out.
    """
    skip = 1 if exclude_self else 0
    if len(others) < k + skip:
        raise ConfigError(f"k={k} needs at least {k + skip} reference points, got {len(others)}")
    d = torch.cdist(x, others)
    if exclude_self:
        d = d.clone().fill_diagonal_(float("inf"))
    return d.topk(k, dim=1, largest=False).values.mean(1)


def sparseness(features: torch.Tensor, k: int = 10) -> float:
    """Mean over the set of each point's mean distance to its ``k`` nearest other points (float64)."""
    f = features.detach().double().cpu()
    if f.dim() != 2:
        raise ConfigError(f"features must be (N, D), got shape {tuple(f.shape)}")
    return float(novelty_scores(f, f, k=k, exclude_self=True).mean())

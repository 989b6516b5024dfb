"""Diversity of a set of samples on its own, with no reference data: how far apart the samples lie.

Mode collapse shows as this number falling towards zero (every sample the same picture), which is what the
collapse detector of continual domain shift watches (Broad et al. 2021, "Active divergence", section 4).
"""

from __future__ import annotations

import torch

from swerve.errors import ConfigError


def pairwise_diversity(x: torch.Tensor) -> float:
    """Mean Euclidean distance between all pairs of distinct samples (rows flattened), in float64.

    Works on pixels or on features (pass ``extract_features(...)`` output); 0 when all samples are equal.
    """
    if len(x) < 2:
        raise ConfigError(f"diversity needs at least 2 samples, got {len(x)}")
    flat = x.detach().reshape(len(x), -1).double().cpu()
    d = torch.cdist(flat, flat)
    n = len(flat)
    return float(d.sum() / (n * (n - 1)))


def collapsed(diversity: float, baseline: float, threshold: float) -> bool:
    """Whether ``diversity`` has fallen below ``threshold`` times the ``baseline`` diversity."""
    if not 0 < threshold < 1:
        raise ConfigError(f"the collapse threshold is a fraction in (0, 1), got {threshold}")
    return diversity < threshold * baseline

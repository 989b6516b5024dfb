"""A Measurement: numbers with their provenance, and the one summary every divergence reports.

Every method in swerve is judged the same way: :func:`novelty_quality` puts its samples and a real reference
set through one feature extractor and returns quality (Fréchet distance, precision, density) and novelty
(recall's complement is diversity lost; k-NN distance to the data is novelty) side by side, so a divergent
model and its undiverged baseline can be compared number for number.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from swerve.measure.features import FeatureSpec, extract_features
from swerve.measure.fidelity import density_coverage, frechet_distance, precision_recall
from swerve.measure.novelty import knn_distance


@dataclass
class Measurement:
    """Named values plus where they came from: the extractor and layer, how many samples, which seed."""

    values: dict[str, float]
    features: FeatureSpec
    n: int
    seed: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> float:
        return self.values[key]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["features"] = self.features.to_dict()
        return out


def novelty_quality(
    samples: torch.Tensor,
    reference: torch.Tensor,
    extractor: nn.Module,
    *,
    extractor_name: str = "domain-classifier",
    layer: str | None = None,
    k: int = 3,
    seed: int | None = None,
    normalise: str = "none",
    cache_dir: Path | None = None,
) -> Measurement:
    """Quality and novelty of ``samples`` against real ``reference`` images, in ``extractor``'s features.

    Values: ``fd`` (Fréchet distance, lower is closer to the data), ``precision`` and ``density``
    (quality), ``recall`` and ``coverage`` (how much of the data the samples span), ``novelty`` (mean
    distance of a sample to its k nearest real points, relative to the same for real points among
    themselves: 1 means "as far from the data as real data is from itself", larger means further).
    ``normalise="l2"`` measures in unit-length features (see :mod:`swerve.measure.features`); with
    ``cache_dir`` the reference features are cached by content hash (:mod:`swerve.measure.cache`).
    """
    from swerve.measure.cache import reference_features  # local: cache imports features, as we do

    fake = extract_features(extractor, samples, layer=layer, normalise=normalise)
    if cache_dir is None:
        real = extract_features(extractor, reference, layer=layer, normalise=normalise)
    else:
        real = reference_features(extractor, reference, layer, normalise, cache_dir)
    pr = precision_recall(real, fake, k=k)
    dc = density_coverage(real, fake, k=max(k, 2))
    # Real-to-real k-NN distances exclude each point itself (k + 1 nearest, drop the zero).
    real_nn = torch.cdist(real, real).topk(k + 1, dim=1, largest=False).values[:, 1:].mean(1)
    novelty = float(knn_distance(fake, real, k=k).mean() / real_nn.mean())
    values = {"fd": frechet_distance(real, fake), **pr, **dc, "novelty": novelty}
    spec = FeatureSpec(extractor_name, layer or "features", normalise)
    return Measurement(values, spec, n=len(samples), seed=seed, extra={"k": k, "reference_n": len(reference)})


def measure_samples(
    samples: torch.Tensor,
    reference: torch.Tensor,
    extractor: str = "fashion-mnist",
    *,
    seed: int | None = None,
    k: int = 3,
    cache_dir: Path | None = None,
) -> Measurement:
    """:func:`novelty_quality` in a registered feature space, by extractor or dataset name."""
    from swerve.measure.features import get_extractor

    ex = get_extractor(extractor)
    return novelty_quality(
        samples,
        reference,
        ex.load(),
        extractor_name=ex.name,
        layer=ex.layer,
        k=k,
        seed=seed,
        normalise=ex.normalise,
        cache_dir=cache_dir,
    )


def explain_missing(missing: dict[str, str], verb: str = "not computed") -> list[str]:
    """One line per reason in ``missing`` ({metric: why it could not be computed}), naming its metrics:
    ``"not computed: fd, precision: <why>"``."""
    reasons: dict[str, list[str]] = {}
    for metric, reason in missing.items():
        reasons.setdefault(reason, []).append(metric)
    return [f"{verb}: {', '.join(metrics)}: {reason}" for reason, metrics in reasons.items()]

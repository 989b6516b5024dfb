"""Feature extractors: the space in which swerve measures quality and novelty.

Inception weights cannot be assumed, so each dataset has a *domain classifier* that swerve trains and ships
(``fashion-classifier`` for Fashion-MNIST); its penultimate features play the role Inception's pool features
play in FID. Any other ``nn.Module`` can be used, at its output or at any named layer (through
:mod:`swerve.taps`). Features come back on the CPU in float64, the precision every statistic is computed in.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from swerve import taps
from swerve.errors import ConfigError

# The shipped domain classifier for each dataset (zoo names).
DOMAIN_CLASSIFIERS: dict[str, str] = {"fashion-mnist": "fashion-classifier"}


@dataclass(frozen=True)
class FeatureSpec:
    """Where features come from, recorded beside every number computed from them."""

    extractor: str
    layer: str = "features"

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


@torch.no_grad()
def extract_features(
    model: nn.Module, x: torch.Tensor, layer: str | None = None, batch_size: int = 256
) -> torch.Tensor:
    """Features of ``x`` (N, ...) as an (N, D) float64 CPU tensor, computed in batches.

    ``layer=None`` uses ``model.features(x)`` when the model has that method (swerve's classifiers do), else
    the model's output; a layer name taps that layer's output instead (flattened per sample).
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    parts = []
    try:
        for start in range(0, len(x), batch_size):
            batch = x[start : start + batch_size].to(device)
            if layer is not None:
                with taps.record(model, [layer]) as acts:
                    model(batch)
                out = acts[layer]
            elif hasattr(model, "features"):
                out = model.features(batch)
            else:
                out = model(batch)
            parts.append(out.reshape(len(batch), -1).double().cpu())
    finally:
        model.train(was_training)
    if not parts:
        raise ConfigError("no samples to extract features from")
    return torch.cat(parts)


def domain_classifier(dataset: str) -> nn.Module:
    """The shipped domain classifier for ``dataset``, loaded from the zoo."""
    from swerve.bundle import load  # local: the bundle module imports models, which is heavier

    name = DOMAIN_CLASSIFIERS.get(dataset)
    if name is None:
        known = ", ".join(sorted(DOMAIN_CLASSIFIERS))
        raise ConfigError(f"no domain classifier for dataset {dataset!r}; swerve ships ones for: {known}")
    return load(name).classifier

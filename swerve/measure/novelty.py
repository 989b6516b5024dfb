"""Novelty: how far samples are from the data they were meant to imitate.

- Out-of-class novelty (Cherti, Kégl & Kazakçı, ICTAI 2017), for a model trained on some classes and judged by
  a classifier that knows more. swerve's definitions, from class probabilities ``probs`` (N, K) and the
  held-out class ids: **count@θ** = fraction of samples whose largest held-out probability exceeds θ;
  **max** = mean over samples of the largest held-out probability;
  **objectness** = exp(E_x KL(p(y|x) ‖ p(y))), the Inception-score form, over all K classes (high when
  each sample is confidently *some* class and the classes vary).
- Nearest-neighbour novelty: mean distance of a sample to its k nearest reference points in feature space.
- Memorisation: a sample is a likely copy when it is closer to its nearest training example than held-out
  real data usually is (below the ``quantile`` of the test set's nearest-training distances).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from swerve.errors import ConfigError

THETAS = (0.5, 0.7, 0.9, 0.95, 0.99)


def _probs(probs: torch.Tensor) -> torch.Tensor:
    if probs.dim() != 2:
        raise ConfigError(f"class probabilities must be (N, K), got shape {tuple(probs.shape)}")
    return probs.detach().double().cpu()


def objectness(probs: torch.Tensor) -> float:
    """exp(E_x KL(p(y|x) ‖ p(y))) of class probabilities (N, K): between 1 and K."""
    p = _probs(probs).clamp_min(1e-12)
    marginal = p.mean(0, keepdim=True)
    return float(torch.exp((p * (p.log() - marginal.log())).sum(1).mean()))


def out_of_class(
    probs: torch.Tensor, held_out: Sequence[int], thetas: Sequence[float] = THETAS
) -> dict[str, float]:
    """Out-of-class count at each θ, out-of-class max and objectness (see the module docstring)."""
    p = _probs(probs)
    held = list(held_out)
    if not held or any(not 0 <= c < p.shape[1] for c in held):
        raise ConfigError(f"held-out classes must be ids in 0..{p.shape[1] - 1}, got {held}")
    top = p[:, held].max(1).values
    result = {f"count@{theta:g}": float((top > theta).double().mean()) for theta in thetas}
    result["max"] = float(top.mean())
    result["objectness"] = objectness(p)
    return result


def knn_distance(x: torch.Tensor, reference: torch.Tensor, k: int = 1, chunk: int = 1024) -> torch.Tensor:
    """Mean distance of each row of ``x`` to its ``k`` nearest rows of ``reference`` (float64, chunked)."""
    ref = reference.detach().double().cpu()
    if k > len(ref):
        raise ConfigError(f"k={k} is larger than the reference set ({len(ref)} points)")
    out = []
    for start in range(0, len(x), chunk):
        d = torch.cdist(x[start : start + chunk].detach().double().cpu(), ref)
        out.append(d.topk(k, dim=1, largest=False).values.mean(1))
    return torch.cat(out)


def nearest_rows(x: torch.Tensor, reference: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    """Index of each row's nearest row of ``reference`` (Euclidean, float64, chunked): with flattened
    pictures, the training image a sample is closest to, as a memorisation check shows it."""
    ref = reference.detach().flatten(1).double().cpu()
    if len(ref) == 0:
        raise ConfigError("the reference set is empty")
    flat = x.detach().flatten(1).double().cpu()
    return torch.cat([torch.cdist(flat[i : i + chunk], ref).argmin(1) for i in range(0, len(flat), chunk)])


def memorisation(
    samples: torch.Tensor, train: torch.Tensor, test: torch.Tensor, quantile: float = 0.05
) -> dict[str, float]:
    """Fraction of samples closer to the training set than the ``quantile`` of held-out real data is."""
    if not 0 < quantile < 1:
        raise ConfigError(f"quantile must be in (0, 1), got {quantile}")
    d_samples = knn_distance(samples, train)
    d_test = knn_distance(test, train)
    threshold = torch.quantile(d_test, quantile)
    return {
        "copies": float((d_samples < threshold).double().mean()),
        "threshold": float(threshold),
        "median_sample_distance": float(d_samples.median()),
        "median_test_distance": float(d_test.median()),
    }

"""The group scan: which samples, and which of their nodes, are anomalous together (samples × nodes).

Iterative ascent (McFowland, Speakman & Neill 2013, FGSS; Speakman et al. 2018 for network activations):
start from a node subset, pick the best sample subset for it by LTSS, then the best node subset for those
samples, and so on until a step no longer strictly improves the score. The first ascent starts from all
nodes; each further restart from a random node subset of uniformly random size, drawn from a seeded
generator so a scan can be repeated exactly. The best ascent wins.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch

from swerve.errors import ConfigError
from swerve.measure.features import FeatureSpec
from swerve.measure.measurement import Measurement
from swerve.measure.scan.counts import Terms, alpha_grid, counts, prepare
from swerve.measure.scan.ltss import Prefix, best_prefix
from swerve.measure.scan.pvalues import PValues
from swerve.utils import make_generator


@dataclass
class ScanResult:
    """A group scan's answer: the score, α*, and the anomalous samples and nodes (index tensors)."""

    score: float
    alpha: float
    samples: torch.Tensor
    nodes: torch.Tensor
    statistic: str
    alpha_max: float
    ties: str
    restarts: int
    seed: int
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "alpha": self.alpha,
            "samples": self.samples.tolist(),
            "nodes": self.nodes.tolist(),
            "statistic": self.statistic,
            "alpha_max": self.alpha_max,
            "ties": self.ties,
            "restarts": self.restarts,
            "seed": self.seed,
            **self.extra,
        }

    def measurement(self, model: str, layer: str) -> Measurement:
        """The scan as a :class:`~swerve.measure.Measurement`: numbers with model, layer, n and seed."""
        values = {
            "score": self.score,
            "alpha": self.alpha,
            "samples_in_subset": float(len(self.samples)),
            "nodes_in_subset": float(len(self.nodes)),
        }
        extra = {
            "statistic": self.statistic,
            "alpha_max": self.alpha_max,
            "ties": self.ties,
            "restarts": self.restarts,
            "samples": self.samples.tolist(),
            "nodes": self.nodes.tolist(),
        }
        n = int(self.extra.get("n_samples", len(self.samples)))
        return Measurement(values, FeatureSpec(model, layer), n=n, seed=self.seed, extra=extra)


def _step(terms: Terms, mask: torch.Tensor, dim: int, grid: torch.Tensor | None, statistic: str) -> Prefix:
    """Best subset along one axis: ``dim=1`` samples given nodes ``mask``, ``dim=0`` nodes given samples."""
    grid, priority = counts(terms, mask, dim, grid)
    found = best_prefix(priority, float(mask.sum()), grid, terms.denom, statistic, integer=not terms.ramps)
    if not math.isfinite(found.score):  # the statistics are finite by construction: this is a bug
        raise ArithmeticError(f"the {statistic} scan gave a score of {found.score}")
    return found


def _ascend(
    terms: Terms, nodes: torch.Tensor, grid: torch.Tensor | None, statistic: str, max_steps: int
) -> tuple[float, float, torch.Tensor, torch.Tensor]:
    n_samples = terms.steps[0].shape[0] if terms.steps else terms.ramps[0][0].shape[0]
    samples = torch.ones(n_samples, dtype=torch.bool, device=nodes.device)
    best = (-float("inf"), 0.0, samples, nodes)
    over_samples = True
    for _ in range(max_steps):
        if over_samples:
            step = _step(terms, nodes, 1, grid, statistic)
            samples = torch.zeros(n_samples, dtype=torch.bool, device=nodes.device)
            samples[step.chosen] = True
        else:
            step = _step(terms, samples, 0, grid, statistic)
            nodes = torch.zeros_like(nodes)
            nodes[step.chosen] = True
        if step.score <= best[0]:
            break
        best = (step.score, step.position, samples, nodes)
        over_samples = not over_samples
    return best


def scan_group(
    pv: PValues,
    statistic: str = "berk-jones",
    alpha_max: float = 0.5,
    alphas: str | int = 50,
    restarts: int = 10,
    seed: int = 0,
    max_steps: int = 100,
) -> ScanResult:
    """Group scan of all samples × nodes of ``pv`` (see the module docstring).

    ``alphas``: ``"exact"`` (every distinct p-value endpoint ≤ α_max), an integer K (about K of them plus
    α_max, fixed for the scan: the default, 50, as ART), or ``"art"`` (ART's grid, recomputed from the
    current slice at every step). A group with nothing below α_max scores 0.
    """
    if not isinstance(restarts, int) or restarts < 1:
        raise ConfigError(f"restarts must be a positive integer, got {restarts!r}")
    terms = prepare(pv, alpha_max)
    grid = None if alphas == "art" else alpha_grid(terms, alphas)
    n_samples, n_nodes = pv.shape
    gen = make_generator(seed)
    best = None
    for r in range(min(restarts, n_samples) if alphas == "art" else restarts):
        nodes = torch.ones(n_nodes, dtype=torch.bool, device=pv.lo.device)
        if r > 0:
            size = 0
            while size == 0:
                size = int(n_nodes * float(torch.rand((), generator=gen, dtype=torch.float64)))
            nodes = torch.zeros(n_nodes, dtype=torch.bool, device=pv.lo.device)
            nodes[torch.randperm(n_nodes, generator=gen)[:size].to(nodes.device)] = True
        found = _ascend(terms, nodes, grid, statistic, max_steps)
        if best is None or found[0] > best[0]:
            best = found
    assert best is not None  # restarts >= 1, so at least one ascent ran
    score, position, samples, nodes = best
    score = max(score, 0.0)
    return ScanResult(
        score=score,
        alpha=position / pv.denom if score > 0 else 0.0,
        samples=samples.nonzero().squeeze(1),
        nodes=nodes.nonzero().squeeze(1),
        statistic=statistic,
        alpha_max=terms.alpha_max,
        ties=pv.ties,
        restarts=restarts,
        seed=seed,
        extra={"n_samples": n_samples, "n_nodes": n_nodes},
    )

"""Linear-time subset scanning (Neill 2012): the best subset of elements, exactly, without trying 2^J.

For a fixed threshold α each element has a priority — the fraction of its p-values that are ≤ α — and for
the scan statistics of :mod:`~swerve.measure.scan.statistics` the highest-scoring subset is always one of
the J prefixes of the elements sorted by priority. So the best subset over all 2^J is found by one sort
and one cumulative sum per α, and the best over α by taking the maximum across the threshold grid.

Two uses: the *individual* scan (one sample, subsets of its nodes — :func:`scan_individual`), and each half
step of the group scan (the best subset of samples for fixed nodes, or of nodes for fixed samples —
:func:`best_prefix`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from swerve.measure.scan.counts import alpha_grid, counts, prepare
from swerve.measure.scan.pvalues import PValues
from swerve.measure.scan.statistics import get_statistic


@dataclass
class Prefix:
    """The best prefix of one LTSS: its score, the threshold position and the chosen element indices."""

    score: float
    position: float
    chosen: torch.Tensor


def best_prefix(
    priority: torch.Tensor, given: float, positions: torch.Tensor, denom: int, statistic: str
) -> Prefix:
    """Best subset of rows of ``priority`` (rows, K): N_α of each element at each threshold, each element
    holding ``given`` p-values. Ties go to the smallest α, then the smallest subset."""
    stat = get_statistic(statistic)
    rows = priority.shape[0]
    ordered, order = priority.sort(dim=0, descending=True, stable=True)
    n_alpha = ordered.cumsum(0)
    n = torch.arange(1, rows + 1, dtype=torch.float64, device=priority.device)[:, None] * given
    scores = stat(n_alpha, n, (positions / denom)[None, :])
    size = scores.argmax(0)  # best prefix per α (first, so smallest)
    per_alpha = scores.gather(0, size[None, :]).squeeze(0)
    k = int(per_alpha.argmax())
    return Prefix(float(per_alpha[k]), float(positions[k]), order[: int(size[k]) + 1, k])


@dataclass
class IndividualScans:
    """One-sample scans of N samples: each sample's score, α* and node subset (an (N, J) mask)."""

    scores: torch.Tensor
    alphas: torch.Tensor
    nodes: torch.Tensor
    statistic: str
    alpha_max: float
    ties: str

    def sizes(self) -> torch.Tensor:
        """How many nodes each sample's anomalous subset holds."""
        return self.nodes.sum(1)


def scan_individual(
    pv: PValues,
    statistic: str = "berk-jones",
    alpha_max: float = 0.5,
    alphas: str | int = "exact",
    chunk_elements: int = 4_000_000,
) -> IndividualScans:
    """Exact LTSS of every sample over subsets of its nodes.

    With ``ties="pmax"`` every priority is 0 or 1, so the best subset at α is simply the nodes with
    p_max ≤ α and all samples are scored with one histogram. With fractional ties the nodes whose range
    straddles α have priorities strictly between 0 and 1, and each (sample, α) is sorted — in chunks of
    about ``chunk_elements`` values, so memory stays bounded. A sample with no p-value ≤ α_max scores 0.
    ``alphas="art"`` is the exact grid without α_max appended, as ART's one-sample scan does.
    """
    stat = get_statistic(statistic)
    terms = prepare(pv, alpha_max)
    positions = alpha_grid(terms, alphas)
    n_samples, n_nodes = pv.shape
    a = positions / pv.denom
    if pv.ties == "pmax":
        ones = torch.ones(n_nodes, dtype=torch.bool)
        n_alpha = counts(terms, ones, 1, positions)  # (N, K): all significant nodes, the best subset
        scores = stat(n_alpha, n_alpha, a[None, :])
        best = scores.argmax(1)
        best_pos = positions[best]
        nodes = pv.pmax_position().double() <= best_pos[:, None] + 1e-9
        top = scores.gather(1, best[:, None]).squeeze(1)
        nodes &= (top > 0)[:, None]
        return IndividualScans(top, torch.where(top > 0, best_pos / pv.denom, 0.0), nodes, statistic,
                               terms.alpha_max, pv.ties)
    scores_out = torch.zeros(n_samples, dtype=torch.float64)
    alphas_out = torch.zeros(n_samples, dtype=torch.float64)
    nodes_out = torch.zeros(n_samples, n_nodes, dtype=torch.bool)
    batch = max(1, chunk_elements // max(1, len(positions) * n_nodes))
    sizes = torch.arange(1, n_nodes + 1, dtype=torch.float64)
    for start in range(0, n_samples, batch):
        part = pv.subset(rows=slice(start, start + batch))
        q = part.fraction_below(positions)  # (B, K, J)
        ordered, order = q.sort(dim=2, descending=True, stable=True)
        scores = stat(ordered.cumsum(2), sizes, a[None, :, None])  # (B, K, J)
        size = scores.argmax(2)
        per_alpha = scores.gather(2, size[..., None]).squeeze(2)  # (B, K)
        k = per_alpha.argmax(1)
        rows = torch.arange(len(k))
        top = per_alpha[rows, k]
        keep = torch.arange(n_nodes)[None, :] <= size[rows, k][:, None]
        chosen = torch.zeros_like(keep)
        chosen.scatter_(1, order[rows, k], keep)
        chosen &= (top > 0)[:, None]
        scores_out[start : start + len(k)] = top
        alphas_out[start : start + len(k)] = torch.where(top > 0, a[k], 0.0)
        nodes_out[start : start + len(k)] = chosen
    return IndividualScans(scores_out, alphas_out, nodes_out, statistic, terms.alpha_max, pv.ties)

"""Non-parametric scan statistics φ(α, N_α, N): how surprising N_α p-values ≤ α are among N.

Each is 0 unless the subset holds more significant p-values than expected (N_α > N α), so a scan only ever
rewards an *excess* of small p-values (McFowland, Speakman & Neill 2013; Neill 2012):

- Berk–Jones: N · KL(N_α/N ‖ α), the log-likelihood ratio of a binomial with rate N_α/N against rate α;
- Higher Criticism: (N_α − N α) / sqrt(N α (1 − α)), a Wald statistic;
- Kolmogorov–Smirnov: (N_α − N α) / sqrt(N).

All three are functions of (N_α, N) that grow with the fraction N_α / N, which is what makes linear-time
subset scanning exact (:mod:`swerve.measure.scan.ltss`). Vectorised, float64, broadcasting.

Edges: N_α is taken as min(max(N_α, 0), N) (a count summed in floating point can overshoot N by a rounding
error), and a threshold outside (0, 1) is no evidence: at α = 1 every p-value is significant under the null
hypothesis too, and at α ≤ 0 none can be. So every score is finite and ≥ 0 for every N ≥ 0.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from swerve.errors import ConfigError

Statistic = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def _domain(
    n_alpha: torch.Tensor, n: torch.Tensor, alpha: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(N_α, N, α) as float64 with 0 ≤ N_α ≤ N, and where an excess N_α > N α can count."""
    n, alpha = n.double().clamp_min(0), alpha.double()
    n_alpha = torch.minimum(n_alpha.double(), n).clamp_min_(0)
    excess = (n_alpha > n * alpha) & ((alpha > 0) & (alpha < 1))
    return n_alpha, n, alpha, excess


def berk_jones(n_alpha: torch.Tensor, n: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """N · KL(N_α/N ‖ α) where N_α > N α, else 0 (N log(1/α) when every p-value is significant)."""
    n_alpha, n, alpha, excess = _domain(n_alpha, n, alpha)
    rest = n - n_alpha
    # The usual formula's operation order, so scores agree to the last bit with other implementations;
    # xlogy makes 0 · log 0 = 0, and entries where N = 0 are masked out by the final where.
    score = torch.xlogy(n_alpha, n_alpha / (n * alpha)) + torch.xlogy(rest, rest / (n * (1 - alpha)))
    score = torch.where(rest == 0, n * torch.log(1 / alpha), score)
    return torch.where(excess, score, torch.zeros_like(score))


def higher_criticism(n_alpha: torch.Tensor, n: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """(N_α − N α) / sqrt(N α (1 − α)) where positive, else 0."""
    n_alpha, n, alpha, excess = _domain(n_alpha, n, alpha)
    n_alpha, n, alpha = torch.broadcast_tensors(n_alpha, n, alpha)
    denom = torch.sqrt(torch.where(excess, n * alpha * (1.0 - alpha), torch.ones_like(n)))
    return torch.where(excess, (n_alpha - n * alpha) / denom, torch.zeros_like(n))


def kolmogorov_smirnov(n_alpha: torch.Tensor, n: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """(N_α − N α) / sqrt(N) where positive, else 0."""
    n_alpha, n, alpha, excess = _domain(n_alpha, n, alpha)
    n_alpha, n, alpha = torch.broadcast_tensors(n_alpha, n, alpha)
    denom = torch.sqrt(torch.where(excess, n, torch.ones_like(n)))
    return torch.where(excess, (n_alpha - n * alpha) / denom, torch.zeros_like(n))


STATISTICS: dict[str, Statistic] = {
    "berk-jones": berk_jones,
    "higher-criticism": higher_criticism,
    "kolmogorov-smirnov": kolmogorov_smirnov,
}


def get_statistic(name: str) -> Statistic:
    """The statistic registered as ``name`` (berk-jones, higher-criticism, kolmogorov-smirnov)."""
    if name not in STATISTICS:
        raise ConfigError(f"unknown scan statistic {name!r}; choose one of {', '.join(STATISTICS)}")
    return STATISTICS[name]

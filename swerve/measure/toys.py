"""Quality and coverage on the 2-D toy benchmarks (the protocol of the DOT / DGflow line of work).

- 25 Gaussians: a sample is *high quality* when it lies within 4 standard deviations of its nearest mode;
  a mode is *covered* when at least 1% of all samples are high-quality samples of that mode.
- Swiss roll: a sample is high quality when it lies within ``tolerance`` of the noise-free curve (default:
  4 x the noise std after scaling, 4 * 0.25 / 7.5).
- Both: the KDE log-likelihood of held-out real points under a Gaussian kernel density estimate built on the
  samples (bandwidth fixed in data units, so methods are compared under one kernel): higher when the samples
  cover the data *and* sit where it is; it falls both for samples off the data and for missing regions.
"""

from __future__ import annotations

import math

import torch

from swerve.data.toys import GAUSSIANS25_MODES, GAUSSIANS25_STD, swiss_roll_curve
from swerve.errors import ConfigError

SWISSROLL_TOLERANCE = 4 * 0.25 / 7.5


def gaussians25_scores(points: torch.Tensor, min_share: float = 0.01) -> dict[str, float | int]:
    """% of samples within 4 std of a mode, and how many of the 25 modes hold >= ``min_share`` of samples."""
    distance, nearest = torch.cdist(points.double(), GAUSSIANS25_MODES.double()).min(dim=1)
    close = distance <= 4 * GAUSSIANS25_STD
    counts = torch.bincount(nearest[close], minlength=len(GAUSSIANS25_MODES))
    covered = int((counts >= min_share * len(points)).sum())
    return {"% high quality": 100 * close.double().mean().item(), "modes covered": covered}


def swissroll_scores(points: torch.Tensor, tolerance: float = SWISSROLL_TOLERANCE) -> dict[str, float]:
    """% of samples within ``tolerance`` of the noise-free Swiss-roll curve."""
    distance = torch.cdist(points.double(), swiss_roll_curve(4000).double()).min(dim=1).values
    return {"% high quality": 100 * (distance <= tolerance).double().mean().item()}


KDE_BANDWIDTH = 0.05


def kde_log_likelihood(
    samples: torch.Tensor, held_out: torch.Tensor, bandwidth: float = KDE_BANDWIDTH, chunk: int = 1024
) -> float:
    """Mean log-density of ``held_out`` points under an isotropic Gaussian KDE on ``samples`` (nats/point).

    log p(x) = logsumexp_i(−‖x − s_i‖² / 2h²) − log N − (D/2) log(2π h²), averaged over the held-out x.
    """
    if not bandwidth > 0:
        raise ConfigError(f"bandwidth must be positive, got {bandwidth!r}")
    shapes_fit = samples.dim() == held_out.dim() == 2 and samples.shape[1] == held_out.shape[1]
    if not shapes_fit or len(samples) == 0:
        raise ConfigError(
            f"samples and held-out points must be (N, D) with the same D, got shapes "
            f"{tuple(samples.shape)} and {tuple(held_out.shape)}"
        )
    s = samples.detach().double().cpu()
    dim = s.shape[1]
    norm = math.log(len(s)) + 0.5 * dim * math.log(2 * math.pi * bandwidth**2)
    total = 0.0
    for start in range(0, len(held_out), chunk):
        x = held_out[start : start + chunk].detach().double().cpu()
        sq = torch.cdist(x, s) ** 2
        total += float((torch.logsumexp(-sq / (2 * bandwidth**2), dim=1) - norm).sum())
    return total / len(held_out)

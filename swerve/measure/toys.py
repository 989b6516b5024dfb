"""Quality and coverage on the 2-D toy benchmarks (the protocol of the DOT / DGflow line of work).

- 25 Gaussians: a sample is *high quality* when it lies within 4 standard deviations of its nearest mode;
  a mode is *covered* when at least 1% of all samples are high-quality samples of that mode.
- Swiss roll: a sample is high quality when it lies within ``tolerance`` of the noise-free curve (default:
  4 x the noise std after scaling, 4 * 0.25 / 7.5).
"""

from __future__ import annotations

import torch

from swerve.data.toys import GAUSSIANS25_MODES, GAUSSIANS25_STD, swiss_roll_curve

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

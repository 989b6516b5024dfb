"""2-D toy distributions for fast experiments and for measuring mode coverage.

Samples are float32 N x 2 tensors of raw coordinates: they are not squeezed into [-1, 1]
(the 25 Gaussians reach about +-1.45, the Swiss roll about +-2). Every function is deterministic in ``seed``.
"""

from __future__ import annotations

import math

import torch

from swerve.data.base import Dataset
from swerve.errors import DataError
from swerve.utils import make_generator

# The 25-Gaussians benchmark of the discriminator-refinement papers: modes on the grid (2i, 2j),
# i, j in -2..2, noise std 0.05, then every coordinate divided by 2.828.
GAUSSIANS25_SCALE = 2.828
_GRID = torch.tensor([(2.0 * i, 2.0 * j) for i in range(-2, 3) for j in range(-2, 3)])
GAUSSIANS25_MODES = _GRID / GAUSSIANS25_SCALE  # 25 x 2, the mode centres in data units
GAUSSIANS25_STD = 0.05 / GAUSSIANS25_SCALE  # each mode's std in data units

SWISS_ROLL_SCALE = 7.5
_SWISS_ROLL_T = (1.5 * math.pi, 4.5 * math.pi)  # the range of the roll's parameter in make_swiss_roll


def gaussians25(n: int, seed: int = 0, std: float = 0.05) -> Dataset:
    """``n`` points from 25 Gaussians on a 5 x 5 grid; labels give each point's mode (equal counts).

    ``std`` is the noise before the division by 2.828, as in the benchmark protocol.
    """
    _check_n(n)
    gen = make_generator(seed)
    labels = torch.randperm(n, generator=gen) % 25
    noise = torch.randn(n, 2, generator=gen) * std
    x = (_GRID[labels] + noise) / GAUSSIANS25_SCALE
    return Dataset(x.float(), labels, [f"mode {k}" for k in range(25)], "gaussians25")


def swiss_roll(n: int, seed: int = 0, noise: float = 0.25) -> Dataset:
    """``n`` points of scikit-learn's Swiss roll seen end-on (its x and z: a spiral), divided by 7.5.

    Unlabelled. ``noise`` is scikit-learn's, added before the division.
    """
    _check_n(n)
    from sklearn.datasets import make_swiss_roll  # here, not at the top: importing sklearn is slow

    points, _ = make_swiss_roll(n_samples=n, noise=noise, random_state=seed)
    x = torch.as_tensor(points[:, [0, 2]] / SWISS_ROLL_SCALE, dtype=torch.float32)
    return Dataset(x, None, [], "swissroll")


def swiss_roll_curve(m: int = 2000) -> torch.Tensor:
    """``m`` points along the noise-free spiral the Swiss roll is drawn around (same scaling), M x 2.

    Spaced evenly in the roll's parameter, as the samples are, so it suits nearest-point distances.
    """
    t = torch.linspace(*_SWISS_ROLL_T, m, dtype=torch.float64)
    return (torch.stack([t * torch.cos(t), t * torch.sin(t)], dim=1) / SWISS_ROLL_SCALE).float()


def ring_modes(modes: int = 8, radius: float = 1.0) -> torch.Tensor:
    """The ``modes`` centres of :func:`ring`, evenly spaced on a circle starting at angle 0, modes x 2."""
    angles = torch.arange(modes, dtype=torch.float64) * (2 * math.pi / modes)
    return (radius * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)).float()


def ring(n: int, seed: int = 0, modes: int = 8, radius: float = 1.0, std: float = 0.05) -> Dataset:
    """``n`` points from ``modes`` Gaussians on a circle; labels give each point's mode (equal counts)."""
    _check_n(n)
    if modes < 1:
        raise DataError(f"ring needs at least one mode, got {modes}")
    gen = make_generator(seed)
    labels = torch.randperm(n, generator=gen) % modes
    x = ring_modes(modes, radius)[labels] + torch.randn(n, 2, generator=gen) * std
    return Dataset(x, labels, [f"mode {k}" for k in range(modes)], "ring")


def _check_n(n: int) -> None:
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise DataError(f"the number of points must be a positive integer, got {n!r}")

"""Quality and diversity of samples against a reference set, in a feature space.

Pure functions of two feature matrices (N, D); every statistic in float64.
- Fréchet distance (Heusel et al. 2017, the FID form) and KID (Bińkowski et al. 2018, unbiased MMD² with the
  cubic polynomial kernel, averaged over random subsets).
- Precision and recall (Kynkäänniemi et al. 2019): a sample is precise if it falls inside some real point's
  k-NN ball; a real point is recalled if it falls inside some sample's ball.
- Density and coverage (Naeem et al. 2020): how many real balls contain a sample, on average (divided by k),
  and the fraction of real balls that contain at least one sample.
"""

from __future__ import annotations

import numpy as np
import torch

from swerve.errors import ConfigError


def _as_features(x: torch.Tensor, name: str) -> torch.Tensor:
    if x.dim() != 2 or len(x) < 2:
        raise ConfigError(f"{name} must be an (N, D) feature matrix with N >= 2, got shape {tuple(x.shape)}")
    return x.detach().double().cpu()


def gaussian_stats(features: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (unbiased) of ``features``, in float64."""
    f = _as_features(features, "features").numpy()
    return f.mean(0), np.cov(f, rowvar=False)


def _psd_sqrt(s: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(s)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_from_stats(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    """‖μ1 − μ2‖² + Tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^½) between two Gaussians.

    Tr((Σ1 Σ2)^½) is computed as the sum of square roots of the eigenvalues of the symmetric
    Σ1^½ Σ2 Σ1^½, which has the same spectrum and stays stable for singular covariances.
    """
    root = _psd_sqrt(s1)
    eig = np.linalg.eigvalsh(root @ s2 @ root)
    tr_covmean = np.sqrt(np.clip(eig, 0, None)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr_covmean)


def frechet_distance(real: torch.Tensor, fake: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (0 for identical sets)."""
    return max(0.0, frechet_from_stats(*gaussian_stats(real), *gaussian_stats(fake)))


def kid(
    real: torch.Tensor, fake: torch.Tensor, subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """Kernel Inception Distance: mean and std over ``subsets`` random subsets of unbiased MMD²."""
    r, f = _as_features(real, "real"), _as_features(fake, "fake")
    m = min(subset_size, len(r), len(f))
    gen = torch.Generator().manual_seed(seed)
    d = r.shape[1]
    values = []
    for _ in range(subsets):
        x = r[torch.randperm(len(r), generator=gen)[:m]]
        y = f[torch.randperm(len(f), generator=gen)[:m]]
        kxx, kyy, kxy = ((a @ b.T / d + 1) ** 3 for a, b in ((x, x), (y, y), (x, y)))
        off = 1 - torch.eye(m, dtype=torch.float64)
        mmd = (kxx * off).sum() / (m * (m - 1)) + (kyy * off).sum() / (m * (m - 1)) - 2 * kxy.mean()
        values.append(float(mmd))
    arr = np.array(values)
    return float(arr.mean()), float(arr.std())


def _knn_radii(x: torch.Tensor, k: int) -> torch.Tensor:
    """Distance of each row of ``x`` to its k-th nearest other row."""
    if k >= len(x):
        raise ConfigError(f"k={k} needs more than {k} reference points, got {len(x)}")
    d = torch.cdist(x, x)
    return d.kthvalue(k + 1, dim=1).values  # k+1: the point itself is at distance 0


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = 3) -> dict[str, float]:
    """Improved precision and recall with k-NN radii (Kynkäänniemi et al. 2019)."""
    r, f = _as_features(real, "real"), _as_features(fake, "fake")
    r_radii, f_radii = _knn_radii(r, k), _knn_radii(f, k)
    d = torch.cdist(f, r)  # (fake, real)
    precision = (d <= r_radii[None, :]).any(1).double().mean()
    recall = (f_radii[None, :] >= d.T).any(1).double().mean()
    return {"precision": float(precision), "recall": float(recall)}


def density_coverage(real: torch.Tensor, fake: torch.Tensor, k: int = 5) -> dict[str, float]:
    """Density and coverage (Naeem et al. 2020), both computed from the real points' k-NN balls."""
    r, f = _as_features(real, "real"), _as_features(fake, "fake")
    radii = _knn_radii(r, k)
    inside = torch.cdist(f, r) <= radii[None, :]  # (fake, real)
    density = inside.double().sum() / (k * len(f))
    coverage = inside.any(0).double().mean()
    return {"density": float(density), "coverage": float(coverage)}

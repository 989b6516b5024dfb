"""Agreement between people, and between people and the automatic measures.

- :func:`krippendorff_alpha`: inter-rater reliability from its definition (Krippendorff 2011, "Computing
  Krippendorff's alpha-reliability"): one minus observed over expected disagreement, both read off the
  coincidence matrix of pairable values, with the nominal, ordinal or interval difference function. Missing
  ratings (NaN) are allowed; units rated by fewer than two raters are not pairable and drop out of it.
- :func:`rank_agreement`: Spearman's rho and Kendall's tau between mean human scores and one measure, with
  percentile bootstrap intervals over the pictures (seeded, so a report is reproducible).
- :func:`pairwise_scores`: each picture's share of the pairwise comparisons it won.

Pure functions on arrays; the rating sessions that feed them live in :mod:`swerve.look.rating`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

LEVELS = ("nominal", "ordinal", "interval")


def krippendorff_alpha(ratings: Any, level: str = "interval") -> float:
    """Krippendorff's alpha of a raters x units array (NaN where a rater gave no value).

    NaN when it is undefined: fewer than two pairable values, or no disagreement to expect (every value the
    same)."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
    data = np.asarray(ratings, dtype=float)
    if data.ndim != 2:
        raise ValueError(f"ratings must be raters x units, got shape {data.shape}")
    values = np.unique(data[~np.isnan(data)])
    index = {v: i for i, v in enumerate(values)}
    coincidence = np.zeros((len(values), len(values)))
    for unit in data.T:
        present = unit[~np.isnan(unit)]
        m = len(present)
        if m < 2:
            continue
        counts = np.zeros(len(values))
        for v in present:
            counts[index[v]] += 1
        # every ordered pair of distinct raters' values, weighted 1 / (m - 1)
        coincidence += (np.outer(counts, counts) - np.diag(counts)) / (m - 1)
    totals = coincidence.sum(axis=1)
    n = totals.sum()
    if n < 2:
        return math.nan
    delta = _difference(values, totals, level)
    observed = (coincidence * delta).sum() / n
    expected = (np.outer(totals, totals) * delta).sum() / (n * (n - 1))
    return math.nan if expected == 0 else float(1 - observed / expected)


def _difference(values: np.ndarray, totals: np.ndarray, level: str) -> np.ndarray:
    """The squared difference function delta^2(c, k) between every two values."""
    if level == "nominal":
        return 1.0 - np.eye(len(values))
    if level == "interval":
        return np.subtract.outer(values, values) ** 2
    # ordinal: the number of pairable values from c to k, less half of those at each end
    cumulative = np.concatenate([[0.0], np.cumsum(totals)])
    low = np.minimum.outer(np.arange(len(values)), np.arange(len(values)))
    high = np.maximum.outer(np.arange(len(values)), np.arange(len(values)))
    between = cumulative[high + 1] - cumulative[low]
    return (between - (totals[low] + totals[high]) / 2) ** 2


def rank_agreement(
    human: Any, measure: Any, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> dict[str, Any]:
    """Spearman and Kendall correlations of ``measure`` with ``human`` scores, each with a percentile
    bootstrap interval (pictures resampled with replacement, ``n_boot`` times, from ``seed``).

    A statistic that cannot be computed (fewer than three pictures, or a constant input) is None with a
    ``note`` saying why."""
    x, y = np.asarray(human, dtype=float), np.asarray(measure, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(
            f"human scores and measure must be 1-D and the same length, got {x.shape}, {y.shape}"
        )
    result: dict[str, Any] = {"n": len(x), "spearman": None, "kendall": None, "notes": []}
    if len(x) < 3:
        result["notes"].append(f"{len(x)} pictures: a rank correlation needs at least 3")
        return result
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        which = "the human scores" if np.ptp(x) == 0 else "the measure"
        result["notes"].append(f"{which} are the same for every picture: no ranking to correlate")
        return result
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(x), size=(n_boot, len(x)))
    tail = (1 - level) / 2 * 100
    for name, statistic in (("spearman", _spearman), ("kendall", _kendall)):
        boot = np.array([statistic(x[d], y[d]) for d in draws])
        boot = boot[np.isfinite(boot)]
        low, high = np.percentile(boot, [tail, 100 - tail]) if len(boot) else (math.nan, math.nan)
        result[name] = {
            "r": float(statistic(x, y)),
            "low": _finite(low),
            "high": _finite(high),
            "level": level,
            "boot": int(len(boot)),
        }
    return result


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan  # a resample of tied values: no ranking in it
    return float(stats.spearmanr(x, y).statistic)


def _kendall(x: np.ndarray, y: np.ndarray) -> float:
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    return float(stats.kendalltau(x, y).statistic)


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def pairwise_scores(pairs: list[tuple[int, int, int]]) -> dict[int, float]:
    """Each picture's share of wins over ``(left, right, choice)`` comparisons (choice 0: left won)."""
    wins: dict[int, int] = {}
    seen: dict[int, int] = {}
    for left, right, choice in pairs:
        winner = left if choice == 0 else right
        for picture in (left, right):
            seen[picture] = seen.get(picture, 0) + 1
            wins.setdefault(picture, 0)
        wins[winner] += 1
    return {p: wins[p] / seen[p] for p in seen}

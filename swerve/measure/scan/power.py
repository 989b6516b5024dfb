"""Detection power: how well group-scan scores tell groups of test samples from groups of normal ones.

The score of a group is its group-scan score (:func:`~swerve.measure.scan.group.scan_group`); detection
power is the ROC-AUC of test-group scores against normal-group scores (0.5 = chance).

Berk–Jones and its siblings grow with the number of p-values scanned even when nothing is anomalous, so the
two kinds of group must hold the *same number* of samples, drawn independently (``protocol="independent"``,
swerve's default). ``protocol="nested"`` reproduces the protocol of ART's ``SubsetScanningDetector.scan``:
a normal group of ``group_size`` against the *same* normal rows plus ``extra`` test rows. Its groups differ
in size, so on data with no anomaly at all it reports power far from chance: AUC 0.93 for 10 against
10 + 20 rows of 40 nodes (``tests/test_scan.py``), and 0.11 for 10 against 10 + 10 rows of 500 nodes.
"""

from __future__ import annotations

from typing import Any

import torch

from swerve.errors import ConfigError
from swerve.measure.scan.group import scan_group
from swerve.measure.scan.pvalues import PValues
from swerve.utils import make_generator

PROTOCOLS = ("independent", "nested")


def roc_auc(negative: torch.Tensor, positive: torch.Tensor) -> float:
    """P(positive score > negative score) + ½ P(tie): the Mann–Whitney form of the ROC-AUC."""
    if len(negative) == 0 or len(positive) == 0:
        raise ConfigError("ROC-AUC needs at least one score on each side")
    neg, pos = negative.double().reshape(1, -1), positive.double().reshape(-1, 1)
    return float(((pos > neg).double() + 0.5 * (pos == neg).double()).mean())


def detection_power(
    normal: PValues,
    test: PValues,
    group_size: int,
    groups: int = 50,
    seed: int = 0,
    protocol: str = "independent",
    extra: int | None = None,
    **scan_kwargs: Any,
) -> dict[str, Any]:
    """ROC-AUC of group-scan scores of test groups against normal groups, with the scores and sizes.

    ``independent``: every group draws ``group_size`` rows without replacement, each group afresh.
    ``nested``: normal groups of ``group_size``; test groups are the same rows plus ``extra`` test rows.
    """
    if protocol not in PROTOCOLS:
        raise ConfigError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    need = group_size if protocol == "independent" else (extra or 0)
    if group_size < 1 or group_size > normal.shape[0] or need > test.shape[0] or need < 1:
        raise ConfigError(
            f"cannot draw groups of {group_size} (+{extra or 0}) from {normal.shape[0]} normal and "
            f"{test.shape[0]} test samples"
        )
    gen = make_generator(seed)
    normal_scores, test_scores, test_sizes, normal_sizes = [], [], [], []
    for g in range(groups):
        rows = torch.randperm(normal.shape[0], generator=gen)[:group_size]
        base = normal.subset(rows=rows)
        picked = torch.randperm(test.shape[0], generator=gen)[:need]
        other = test.subset(rows=picked)
        if protocol == "nested":
            other = PValues(
                torch.cat([base.lo, other.lo]),
                torch.cat([base.hi, other.hi]),
                base.denom,
                base.two_tailed,
                base.ties,
            )
        a = scan_group(base, seed=seed + g, **scan_kwargs)
        b = scan_group(other, seed=seed + g, **scan_kwargs)
        normal_scores.append(a.score)
        test_scores.append(b.score)
        normal_sizes.append((len(a.samples), len(a.nodes)))
        test_sizes.append((len(b.samples), len(b.nodes)))
    ns, ts = torch.tensor(normal_scores), torch.tensor(test_scores)
    return {
        "auc": roc_auc(ns, ts),
        "normal_scores": ns,
        "test_scores": ts,
        "normal_sizes": torch.tensor(normal_sizes, dtype=torch.float64),
        "test_sizes": torch.tensor(test_sizes, dtype=torch.float64),
        "protocol": protocol,
        "group_size": group_size,
        "groups": groups,
        "seed": seed,
    }

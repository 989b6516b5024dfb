"""Fidelity and novelty metrics: closed forms, identities and the directions they must move in."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from swerve.errors import ConfigError
from swerve.measure import (
    density_coverage,
    extract_features,
    frechet_distance,
    kid,
    knn_distance,
    memorisation,
    nearest_rows,
    novelty_quality,
    objectness,
    out_of_class,
    precision_recall,
)
from swerve.measure.fidelity import frechet_from_stats


def gaussian(n: int, d: int, shift: float = 0.0, scale: float = 1.0, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=gen, dtype=torch.float64) * scale + shift


def test_frechet_is_zero_for_identical_sets_and_matches_closed_form() -> None:
    a = gaussian(500, 4)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    # Two Gaussians with diagonal covariances: |mu1-mu2|^2 + sum (s1 + s2 - 2 sqrt(s1 s2)).
    mu1, mu2 = np.zeros(3), np.array([1.0, 2.0, 0.0])
    s1, s2 = np.diag([1.0, 4.0, 9.0]), np.diag([4.0, 1.0, 1.0])
    expected = 5.0 + sum(x + y - 2 * math.sqrt(x * y) for x, y in [(1, 4), (4, 1), (9, 1)])
    assert frechet_from_stats(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9)


def test_frechet_and_kid_grow_with_a_shift() -> None:
    a, b = gaussian(400, 8, seed=1), gaussian(400, 8, seed=2)
    far = gaussian(400, 8, shift=1.0, seed=3)
    assert frechet_distance(a, far) > 10 * frechet_distance(a, b)
    near_kid, _ = kid(a, b, subsets=10, subset_size=200)
    far_kid, _ = kid(a, far, subsets=10, subset_size=200)
    assert abs(near_kid) < 0.05 < far_kid


def test_precision_recall_identical_and_disjoint() -> None:
    a = gaussian(300, 5)
    assert precision_recall(a, a) == {"precision": 1.0, "recall": 1.0}
    far = gaussian(300, 5, shift=20.0, seed=1)
    assert precision_recall(a, far) == {"precision": 0.0, "recall": 0.0}
    # A generator that covers only half the data: precise but not recalled.
    half = a[a[:, 0] > 0]
    pr = precision_recall(a, half)
    assert pr["precision"] == 1.0 and pr["recall"] < 0.8


def test_density_coverage_identical_and_disjoint() -> None:
    a = gaussian(300, 5)
    dc = density_coverage(a, a)
    assert dc["coverage"] == 1.0 and dc["density"] == pytest.approx(1.0, abs=0.3)
    assert density_coverage(a, gaussian(300, 5, shift=20.0)) == {"density": 0.0, "coverage": 0.0}


def test_out_of_class_count_max_and_objectness() -> None:
    # Four classes; class 3 is held out. Two confident held-out samples, two confident known ones.
    probs = torch.tensor([[0.0, 0.0, 0.05, 0.95], [0.0, 0.0, 0.0, 1.0], [1.0, 0, 0, 0], [0, 0.8, 0.1, 0.1]])
    result = out_of_class(probs, held_out=[3], thetas=(0.5, 0.96))
    assert result["count@0.5"] == 0.5
    assert result["count@0.96"] == 0.25
    assert result["max"] == pytest.approx((0.95 + 1.0 + 0.0 + 0.1) / 4)
    uniform = torch.full((10, 4), 0.25)
    assert objectness(uniform) == pytest.approx(1.0)
    assert objectness(torch.eye(4)) == pytest.approx(4.0)
    with pytest.raises(ConfigError, match="held-out"):
        out_of_class(probs, held_out=[7])


def test_knn_distance_and_memorisation_spot_copies() -> None:
    train, test = gaussian(200, 3, seed=1), gaussian(200, 3, seed=2)
    copies = train[:50] + 1e-4
    assert knn_distance(copies, train).max() < 1e-3
    assert memorisation(copies, train, test)["copies"] == 1.0
    assert memorisation(gaussian(200, 3, seed=5), train, test)["copies"] < 0.2


def test_nearest_rows_finds_the_picture_each_near_copy_came_from() -> None:
    train = torch.randn(300, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    order = torch.randperm(300, generator=torch.Generator().manual_seed(1))[:40]
    assert torch.equal(nearest_rows(train[order] + 1e-3, train, chunk=7), order)
    with pytest.raises(ConfigError, match="empty"):
        nearest_rows(train, train[:0])


def test_extract_features_from_a_layer_and_novelty_quality() -> None:
    torch.manual_seed(0)
    nn = torch.nn
    net = nn.Sequential(nn.Flatten(), nn.Linear(16, 6), nn.ReLU(), nn.Linear(6, 2))
    x = torch.randn(50, 1, 4, 4)
    assert extract_features(net, x, layer="2").shape == (50, 6)
    assert extract_features(net, x).dtype == torch.float64
    real = torch.randn(200, 1, 4, 4, generator=torch.Generator().manual_seed(1))
    same = torch.randn(200, 1, 4, 4, generator=torch.Generator().manual_seed(2))
    shifted = same + 3.0
    near, far = novelty_quality(same, real, net, layer="2"), novelty_quality(shifted, real, net, layer="2")
    assert far["novelty"] > 2 * near["novelty"]
    assert far["precision"] < near["precision"]
    assert near.to_dict()["features"] == {"extractor": "domain-classifier", "layer": "2", "normalise": "none"}
    assert near.n == 200

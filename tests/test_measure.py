"""The 2-D benchmark measures."""

from __future__ import annotations

import pytest
import torch

from swerve.data.toys import GAUSSIANS25_MODES, swiss_roll, swiss_roll_curve
from swerve.measure import class_agreement, gaussians25_scores, swissroll_scores


def test_gaussians25_scores():
    on_modes = GAUSSIANS25_MODES.repeat(4, 1)[:90]  # 90 points exactly on the modes: all 25 hold >= 1%
    far = torch.full((10, 2), 5.0)
    scores = gaussians25_scores(torch.cat([on_modes, far]))
    assert scores["% high quality"] == pytest.approx(90.0)
    assert scores["modes covered"] == 25
    assert gaussians25_scores(GAUSSIANS25_MODES[:1].repeat(50, 1))["modes covered"] == 1
    between = (GAUSSIANS25_MODES[:5] + GAUSSIANS25_MODES[5:10]) / 2  # midway between neighbouring modes
    assert gaussians25_scores(between)["% high quality"] == 0


def test_swissroll_scores():
    assert swissroll_scores(swiss_roll_curve(500))["% high quality"] == 100
    real = swiss_roll(2000, seed=0).x
    assert swissroll_scores(real)["% high quality"] > 90
    assert swissroll_scores(torch.rand(2000, 2) * 4 - 2)["% high quality"] < 60


def test_class_agreement_counts_argmax_hits_in_batches():
    net = torch.nn.Linear(3, 3, bias=False)
    with torch.no_grad():
        net.weight.copy_(torch.eye(3))
    x = torch.eye(3).repeat(4, 1)  # row i points at class i % 3
    labels = torch.arange(12) % 3
    assert class_agreement(net, x, labels, batch_size=5) == 1.0
    assert class_agreement(net, x, (labels + 1) % 3, batch_size=5) == 0.0
    labels[:3] = (labels[:3] + 1) % 3
    assert class_agreement(net, x, labels, batch_size=5) == 0.75


def test_divergence_map_labels_do_not_collide():
    from swerve.measure.divergence import place_labels

    anchors = [(100.0, 100.0)] * 5 + [(104.0, 101.0), (400.0, 50.0)]  # five points on one spot, one beside
    widths = [80.0, 120.0, 60.0, 90.0, 100.0, 70.0, 40.0]
    height = 10.0
    offsets = place_labels(anchors, widths, height)
    boxes = [
        (x + dx, y + dy, x + dx + w, y + dy + height)
        for (x, y), (dx, dy), w in zip(anchors, offsets, widths, strict=True)
    ]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (a, b)
    assert offsets[-1] == (4.0, 4.0)  # a label with room stays beside its point

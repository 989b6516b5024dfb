"""The 2-D benchmark measures."""

from __future__ import annotations

import pytest
import torch

from swerve.data.toys import GAUSSIANS25_MODES, swiss_roll, swiss_roll_curve
from swerve.measure import gaussians25_scores, swissroll_scores


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

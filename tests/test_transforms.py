"""Each bending transform does what its name says on a hand-made feature map."""

from __future__ import annotations

import math

import pytest
import torch

from swerve.diverge.transforms import TRANSFORMS, Param
from swerve.errors import ConfigError


def blob(size: int = 16, row: int = 7, col: int = 7, r: int = 1) -> torch.Tensor:
    """A (1, 1, size, size) map with a bright (2r x 2r) square whose top-left pixel is (row, col)."""
    x = torch.zeros(1, 1, size, size)
    x[..., row : row + 2 * r, col : col + 2 * r] = 1.0
    return x


def centroid(x: torch.Tensor) -> tuple[float, float]:
    m = x[0, 0]
    rows, cols = torch.meshgrid(torch.arange(m.shape[0]), torch.arange(m.shape[1]), indexing="ij")
    return float((m * rows).sum() / m.sum()), float((m * cols).sum() / m.sum())


def run(name: str, x: torch.Tensor, frame: int | None = None, **params: object) -> torch.Tensor:
    t = TRANSFORMS[name]
    return t(x, frame=frame, **t.check_params(params))


def test_translate_by_a_quarter_moves_a_blob_a_quarter_of_the_width() -> None:
    x = blob(16, row=6, col=2)
    out = run("translate", x, dx=0.25, dy=0.0)
    assert torch.allclose(out, torch.roll(x, 4, dims=-1), atol=1e-5)
    r0, c0 = centroid(x)
    r1, c1 = centroid(run("translate", x, dx=0.0, dy=-0.25))
    assert (r1, c1) == pytest.approx((r0 - 4, c0))


def test_rotate_quarter_turn_moves_right_to_top() -> None:
    x = blob(16, row=7, col=12)  # centroid (7.5, 12.5): right of the centre (7.5, 7.5)
    r, c = centroid(run("rotate", x, degrees=90))
    assert (r, c) == pytest.approx((2.5, 7.5), abs=1e-4)
    assert torch.allclose(run("rotate", x, degrees=360), x, atol=1e-5)


def test_scale_doubles_distance_from_centre_and_area() -> None:
    x = blob(16, row=7, col=9)  # centroid 2 px right of centre
    out = run("scale", x, factor=2.0)
    r, c = centroid(out)
    assert (r, c) == pytest.approx((7.5, 11.5), abs=1e-4)
    assert float(out.sum()) == pytest.approx(4 * float(x.sum()), rel=0.05)


def test_flip_mirrors() -> None:
    x = torch.randn(2, 3, 5, 6)
    assert torch.equal(run("flip", x, axis="h"), x.flip(-1))
    assert torch.equal(run("flip", x, axis="v"), x.flip(-2))
    assert torch.equal(run("flip", x, axis="hv"), x.flip(-1).flip(-2))


def test_dilate_grows_a_point_into_a_disc_and_erode_shrinks_a_square() -> None:
    point = torch.zeros(1, 1, 9, 9)
    point[..., 4, 4] = 1.0
    assert int(run("dilate", point, radius=1).sum()) == 5  # centre + 4 neighbours
    disc2 = run("dilate", point, radius=2)
    assert int(disc2.sum()) == 13 and disc2[0, 0, 4, 6] == 1 and disc2[0, 0, 6, 6] == 0
    square = torch.zeros(1, 1, 9, 9)
    square[..., 2:7, 2:7] = 1.0
    eroded = run("erode", square, radius=1)
    expected = torch.zeros_like(square)
    expected[..., 3:6, 3:6] = 1.0
    assert torch.equal(eroded, expected)
    assert torch.equal(run("erode", run("dilate", square, radius=1), radius=1), square)  # closing of a square


def test_pointwise_arithmetic() -> None:
    x = torch.randn(3, 4, 5, 5)
    assert torch.equal(run("multiply", x, factor=-2.0), x * -2)
    assert torch.equal(run("add", x, value=0.5), x + 0.5)
    assert torch.equal(run("threshold", x, level=0.1), (x > 0.1).float())
    assert torch.equal(run("invert", x), 1 - x)
    assert torch.count_nonzero(run("ablate", x)) == 0


def test_sobel_is_zero_on_flat_maps_and_marks_a_step_edge() -> None:
    flat = torch.full((1, 2, 8, 8), 3.0)
    assert torch.count_nonzero(run("sobel", flat)) == 0
    step = torch.zeros(1, 1, 8, 8)
    step[..., 4:] = 1.0
    edges = run("sobel", step)[0, 0]
    assert torch.all(edges[:, 3:5] > 0) and torch.count_nonzero(edges[:, :3]) == 0
    assert torch.count_nonzero(edges[:, 5:]) == 0


def test_noise_is_seeded() -> None:
    x = torch.zeros(4, 8, 16, 16)
    a, b = run("noise", x, std=0.5, seed=3), run("noise", x, std=0.5, seed=3)
    assert torch.equal(a, b)
    assert not torch.equal(a, run("noise", x, std=0.5, seed=4))
    assert float(a.std()) == pytest.approx(0.5, rel=0.05)


def test_oscillate_across_space_and_over_frames() -> None:
    x = torch.zeros(1, 1, 4, 8)
    out = run("oscillate", x, amplitude=2.0, frequency=1.0, axis="x")
    expected = 2 * torch.sin(2 * math.pi * torch.arange(8) / 8)
    assert torch.allclose(out[0, 0], expected.expand(4, 8), atol=1e-6)
    over_y = run("oscillate", x, amplitude=1.0, frequency=2.0, axis="y")
    assert torch.allclose(over_y[0, 0, :, 0], torch.sin(2 * math.pi * 2 * torch.arange(4) / 4), atol=1e-6)
    frames = [run("oscillate", x, frame=f, amplitude=1.0, frequency=0.25, axis="time") for f in range(4)]
    assert [round(float(f.mean()), 5) for f in frames] == pytest.approx([0.0, 1.0, 0.0, -1.0], abs=1e-5)


def test_pointwise_transforms_work_on_1d_and_spatial_ones_refuse() -> None:
    h = torch.randn(5, 7)
    for name, t in TRANSFORMS.items():
        if t.pointwise:
            assert run(name, h).shape == h.shape
        else:
            with pytest.raises(ConfigError, match="feature maps"):
                run(name, h)


def test_transforms_keep_shape_and_never_write_their_input() -> None:
    x = torch.rand(2, 3, 6, 6)
    keep = x.clone()
    for name in TRANSFORMS:
        assert run(name, x).shape == x.shape, name
        assert torch.equal(x, keep), name


def test_params_are_checked_against_their_ranges() -> None:
    t = TRANSFORMS["rotate"]
    assert t.check_params({}) == {"degrees": 90.0}
    with pytest.raises(ConfigError, match="outside"):
        t.check_params({"degrees": 1000})
    with pytest.raises(ConfigError, match="no parameter 'angle'"):
        t.check_params({"angle": 3})
    with pytest.raises(ConfigError, match="whole number"):
        TRANSFORMS["erode"].check_params({"radius": 1.5})
    with pytest.raises(ConfigError, match="one of"):
        TRANSFORMS["flip"].check_params({"axis": "diagonal"})
    assert Param(1, 0, 3, kind="int").to_dict()["high"] == 3

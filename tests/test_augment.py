"""Small-data training: DiffAugment's transforms, ADA's adaptive probability and the R1 penalty."""

from __future__ import annotations

import pytest
import torch

from swerve.errors import ConfigError
from swerve.train import TrainConfig
from swerve.train.augment import (
    AdaptiveAugment,
    Augmenter,
    brightness,
    contrast,
    cutout,
    diff_augment,
    saturation,
    translation,
)
from swerve.train.objectives import r1_penalty


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _images(n: int = 16, size: int = 16) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=_gen(5)) * 2 - 1


def test_diff_augment_passes_gradients_to_its_input():
    x = _images().requires_grad_(True)
    diff_augment(x, "color,translation,cutout", _gen()).square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    # without the colour ops (whose image means touch every pixel), pixels cut out get no gradient
    x.grad = None
    diff_augment(x, "translation,cutout", _gen()).square().sum().backward()
    assert (x.grad == 0).float().mean() >= 0.25 and (x.grad != 0).float().mean() > 0.3


def test_diff_augment_is_reproducible_from_its_generator():
    x = _images()
    a = diff_augment(x, "color,translation,cutout", _gen(3))
    b = diff_augment(x, "color,translation,cutout", _gen(3))
    c = diff_augment(x, "color,translation,cutout", _gen(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_translation_shifts_by_whole_pixels_within_an_eighth():
    n, size = 64, 16
    x = torch.zeros(n, 1, size, size)
    x[:, :, 8, 8] = 1.0  # one bright pixel per image
    moved = translation(x, _gen())
    rows, cols = (moved[:, 0] == 1).nonzero()[:, 1:].T
    assert len(rows) == n  # the pixel survives: it moves at most 2 pixels
    shifts = torch.stack([rows - 8, cols - 8])
    assert shifts.abs().max() == 2  # 16 / 8
    assert len({tuple(s) for s in shifts.T.tolist()}) > 10  # many different shifts
    # uncovered border pixels are zero: a shifted constant image has zeros exactly where it was moved away
    ones = translation(torch.ones(n, 1, size, size), _gen())
    assert torch.equal(ones.sum((1, 2, 3)), ((size - shifts[0].abs()) * (size - shifts[1].abs())).float())


def test_cutout_zeroes_a_quarter_of_each_image():
    ones = torch.ones(32, 3, 16, 16)
    cut = cutout(ones, _gen())
    assert torch.equal((cut == 0).float().mean((1, 2, 3)), torch.full((32,), 0.25))
    assert not torch.equal(cut[0], cut[1]) or not torch.equal(cut[2], cut[3])  # placed at random


def test_colour_ops_keep_their_stated_statistics():
    x = _images(64)
    b = brightness(x, _gen())
    offset = (b - x).flatten(1)
    assert torch.allclose(offset, offset[:, :1].expand_as(offset), atol=1e-6)  # one offset per image
    assert offset.abs().max() <= 0.5 + 1e-6
    s = saturation(x, _gen())
    assert torch.allclose(s.mean(1), x.mean(1), atol=1e-5)  # grey value of each pixel kept
    c = contrast(x, _gen())
    assert torch.allclose(c.mean((1, 2, 3)), x.mean((1, 2, 3)), atol=1e-5)  # image mean kept
    ratio = (c - c.mean((1, 2, 3), keepdim=True)).std((1, 2, 3)) / x.std((1, 2, 3))
    assert ratio.min() >= 0.5 - 1e-4 and ratio.max() <= 1.5 + 1e-4
    # on images in [-1, 1], each colour op stays within its bound (no op clamps: clamping stops gradients)
    for out, bound in ((b, 1.5), (s, 3.0), (c, 2.0)):
        assert out.abs().max() <= bound


def test_no_augmentation_is_the_identity():
    x = _images()
    gen = _gen()
    state = gen.get_state()
    assert Augmenter("", "color")(x, gen) is x
    assert torch.equal(gen.get_state(), state)  # and draws nothing


def _observe(ada: AdaptiveAugment, sign: float, steps: int) -> list[float]:
    ps = []
    for _ in range(steps):
        ada.observe(torch.full((8,), sign))
        ps.append(float(ada.p))
    return ps


def test_ada_p_rises_while_d_overfits_and_falls_after():
    ada = AdaptiveAugment("color", target=0.6, interval=2, speed_kimg=0.08)  # 16 images per step of 0.2
    rising = _observe(ada, 1.0, 10)  # sign(D(real)) = 1 everywhere: r_t = 1 > 0.6
    assert rising[1] == pytest.approx(0.2) and rising[0] == 0.0  # adjusted once per interval
    assert rising[-1] == 1.0  # clipped at 1
    falling = _observe(ada, -1.0, 4)  # r_t = -1 < 0.6
    assert falling[-1] == pytest.approx(0.6)


def test_ada_augments_a_share_p_of_the_images():
    ada = AdaptiveAugment("cutout")
    x = torch.ones(400, 1, 8, 8)
    assert torch.equal(ada(x, _gen()), x)  # p = 0: nothing changes
    ada.p.fill_(0.5)
    changed = (ada(x, _gen()) != x).flatten(1).any(1).float().mean()
    assert 0.4 < changed < 0.6


def test_r1_equals_the_squared_gradient_norm_of_a_linear_critic():
    w = torch.tensor([[1.0, -2.0], [0.5, 3.0]])
    x = torch.randn(5, 1, 2, 2, generator=_gen()).requires_grad_(True)
    logits = (x[:, 0] * w).sum((1, 2)) + 0.1 * (x[:, 0] ** 2).sum((1, 2))
    manual = ((w + 0.2 * x[:, 0].detach()) ** 2).sum((1, 2)).mean()
    assert r1_penalty(logits, x).item() == pytest.approx(manual.item(), rel=1e-6)


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(augment="mixup"), "augment must be one of"),
        (dict(augment="diffaugment", augment_policy="colour"), "augment_policy"),
        (dict(r1_gamma=-1.0), "r1_gamma"),
        (dict(r1_every=0), "r1_every"),
        (dict(ada_kimg=0.0), "ada_kimg"),
        (dict(ada_target=2.0), "ada_target"),
        (dict(kind="vae", augment="ada"), "options of kind 'gan'"),
        (dict(arch="resnet"), "arch must be one of"),
    ],
)
def test_bad_small_data_settings_are_refused(changes, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**changes)


def test_default_small_data_settings_leave_saved_configs_unchanged():
    assert "augment" not in TrainConfig().to_dict()
    values = TrainConfig(augment="ada", r1_gamma=1.0).to_dict()
    assert values["augment"] == "ada" and TrainConfig.from_dict(values) == TrainConfig(
        augment="ada", r1_gamma=1.0
    )

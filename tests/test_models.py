"""Architectures: shapes at every supported size, named layers for hooks, conditioning, bad configs."""

from __future__ import annotations

import pytest
import torch

from swerve.errors import ConfigError
from swerve.models import (
    ClassifierConfig,
    ConvEncoder,
    DCGANConfig,
    DCGANDiscriminator,
    DCGANGenerator,
    DomainClassifier,
    EncoderConfig,
    MLPConfig,
    MLPDiscriminator,
    MLPGenerator,
)


@pytest.mark.parametrize("size", [8, 28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_dcgan_shapes(size, channels):
    cfg = DCGANConfig(image_size=size, channels=channels, latent_dim=16, width=8, num_classes=4)
    g, d = DCGANGenerator(cfg), DCGANDiscriminator(cfg)
    y = torch.tensor([0, 3])
    x = g(torch.randn(2, 16), y)
    assert x.shape == (2, channels, size, size)
    assert x.abs().max() <= 1  # tanh output, the data range
    assert d(x, y).shape == (2,)
    mu, logvar = ConvEncoder(EncoderConfig(size, channels, 16, 8))(x)
    assert mu.shape == logvar.shape == (2, 16)
    classifier = DomainClassifier(ClassifierConfig(size, channels, num_classes=5, width=8, feature_dim=12))
    assert classifier(x).shape == (2, 5) and classifier.features(x).shape == (2, 12)


def test_generator_layers_are_named_and_end_in_their_nonlinearity():
    g = DCGANGenerator(DCGANConfig(image_size=28, width=8))
    names = dict(g.named_modules())
    assert {"stem", "blocks.0", "blocks.1", "to_image"} <= set(names)
    seen = {}
    handle = names["blocks.0"].register_forward_hook(lambda m, i, o: seen.setdefault("out", o))
    g.eval()(torch.randn(3, 64))
    handle.remove()
    assert seen["out"].shape == (3, 16, 14, 14) and seen["out"].min() >= 0  # after the ReLU


def test_conditioning_changes_the_output_and_is_required():
    torch.manual_seed(0)
    cfg = DCGANConfig(image_size=8, latent_dim=4, width=4, num_classes=3)
    g = DCGANGenerator(cfg).eval()
    z = torch.randn(1, 4)
    assert not torch.allclose(g(z, torch.tensor([0])), g(z, torch.tensor([1])))
    with pytest.raises(ValueError, match="pass labels"):
        g(z)


def test_spectral_norm_keeps_the_largest_singular_value_near_one():
    d = DCGANDiscriminator(DCGANConfig(image_size=8, width=4, spectral_norm=True))
    d.train()
    for _ in range(20):  # power iterations run in training-mode forward passes
        d(torch.randn(4, 1, 8, 8))
    d.eval()
    weight = d.head.weight
    assert torch.linalg.matrix_norm(weight, ord=2).item() == pytest.approx(1.0, abs=0.05)


def test_mlp_shapes():
    g = MLPGenerator(MLPConfig(in_dim=2, out_dim=2, hidden=16))
    d = MLPDiscriminator(MLPConfig(in_dim=2, out_dim=1, hidden=16))
    assert g(torch.randn(5, 2)).shape == (5, 2) and d(torch.randn(5, 2)).shape == (5,)
    with pytest.raises(ConfigError, match="out_dim 1"):
        MLPDiscriminator(MLPConfig(out_dim=2))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: DCGANConfig(image_size=30), "image_size 30 is not supported"),
        (lambda: DCGANConfig(width=0), "width must be a positive integer"),
        (lambda: DCGANConfig(latent_dim=True), "latent_dim must be a positive integer"),
        (lambda: DCGANConfig(norm="layer"), "norm must be"),
        (lambda: MLPConfig(hidden=-1), "hidden must be a positive integer"),
        (lambda: ClassifierConfig(dropout=1.5), "dropout must lie"),
    ],
)
def test_bad_model_configs(make, message):
    with pytest.raises(ConfigError, match=message):
        make()

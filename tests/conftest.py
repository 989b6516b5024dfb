"""Shared fixtures: tiny bundles and datasets built in the test itself, and an in-process CLI runner."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

from swerve.bundle import Bundle, DataSpec, LatentSpec
from swerve.data import Dataset
from swerve.models import (
    ClassifierConfig,
    ConvEncoder,
    DCGANConfig,
    DCGANDiscriminator,
    DCGANGenerator,
    DomainClassifier,
    EncoderConfig,
)
from tests.browser import (  # noqa: F401 - fixtures
    chromium_browser,
    chromium_page,
    chromium_playwright,
    chromium_with,
    keep_screenshots,
)

# One thread per test process: on a small machine torch's OpenMP threads spin while another process holds a
# core, which stalls the suite. A test that measures threading sets its own count.
torch.set_num_threads(1)


def tiny_image_bundle(conditional: bool = True, image_size: int = 8) -> Bundle:
    """An untrained conditional DCGAN pair plus encoder and classifier on 8x8 images."""
    torch.manual_seed(0)
    k = 3 if conditional else 0
    cfg = DCGANConfig(image_size=image_size, latent_dim=8, width=4, num_classes=k)
    nets = {
        "generator": DCGANGenerator(cfg),
        "discriminator": DCGANDiscriminator(DCGANConfig(**{**cfg.__dict__, "spectral_norm": True})),
        "encoder": ConvEncoder(EncoderConfig(image_size=image_size, latent_dim=8, width=4)),
        "classifier": DomainClassifier(ClassifierConfig(image_size=image_size, num_classes=3, width=4)),
    }
    data = DataSpec(shape=[1, image_size, image_size], classes=["a", "b", "c"], dataset="tiny")
    bundle = Bundle(nets, data, LatentSpec(8), training={"note": "test"}, name="tiny")
    bundle.record("train", steps=0)
    return bundle.to("cpu")


@pytest.fixture(autouse=True)
def _trusted_modules_restored():
    """``swerve --trust`` and ``swerve.bundle.trust`` trust modules for the process; not across tests."""
    from swerve import trust

    before, env = set(trust._trusted), os.environ.get(trust.ENV)
    yield
    trust._trusted.clear()
    trust._trusted.update(before)
    if env is None:
        os.environ.pop(trust.ENV, None)
    else:
        os.environ[trust.ENV] = env


@pytest.fixture
def tiny_bundle(tmp_path: Path) -> Path:
    """A saved tiny bundle directory."""
    return tiny_image_bundle().save(tmp_path / "tiny")


def blobs(n: int = 256, size: int = 8, classes: int = 3, seed: int = 0) -> Dataset:
    """A labelled image dataset with a class-dependent bright square: learnable in a few steps."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % classes
    x = torch.full((n, 1, size, size), -1.0) + 0.1 * torch.randn(n, 1, size, size, generator=gen)
    for c in range(classes):
        x[labels == c, :, 2 * c : 2 * c + 3, 1:-1] = 1.0
    return Dataset(x.clamp(-1, 1), labels, [f"c{c}" for c in range(classes)], "blobs")


@pytest.fixture
def cli(capsys, monkeypatch):
    """Run the swerve CLI in-process: ``code, out, err = cli("info", path)``."""
    from swerve.cli.main import main

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["swerve", *map(str, args)])
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """A failed browser test keeps a screenshot of its pages in ``test-results/``."""
    report = yield
    if report.when == "call" and report.failed:
        keep_screenshots(item)
    return report

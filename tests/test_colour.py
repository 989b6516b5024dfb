"""Every method on a colour model: a tiny random-init conditional RGB DCGAN (3 x 32 x 32, 3 classes)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import swerve
from swerve.bundle import Bundle, DataSpec, LatentSpec
from swerve.diverge.bend import bend_bundle
from swerve.diverge.transforms import TRANSFORMS
from swerve.models import (
    ClassifierConfig,
    ConvEncoder,
    DCGANConfig,
    DCGANDiscriminator,
    DCGANGenerator,
    DomainClassifier,
    EncoderConfig,
)

SIZE = 32
CLASSES = ["warm", "green", "cool"]


def colour_bundle(seed: int = 0, name: str = "colour") -> Bundle:
    """An untrained conditional RGB GAN with encoder and classifier, as emoji at 32 px would be."""
    torch.manual_seed(seed)
    cfg = DCGANConfig(image_size=SIZE, channels=3, latent_dim=8, width=4, num_classes=3, class_embed_dim=4)
    nets = {
        "generator": DCGANGenerator(cfg),
        "discriminator": DCGANDiscriminator(DCGANConfig(**{**cfg.__dict__, "spectral_norm": True})),
        "encoder": ConvEncoder(EncoderConfig(image_size=SIZE, channels=3, latent_dim=8, width=4)),
        "classifier": DomainClassifier(ClassifierConfig(image_size=SIZE, channels=3, num_classes=3, width=4)),
    }
    data = DataSpec(shape=[3, SIZE, SIZE], classes=CLASSES, dataset="colour-test")
    bundle = Bundle(nets, data, LatentSpec(8), training={"note": "test"}, name=name)
    bundle.record("train", steps=0)
    return bundle.to("cpu")


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("colour")
    return {"a": colour_bundle(0).save(root / "a"), "b": colour_bundle(1, "colour-b").save(root / "b")}


@pytest.fixture
def reference(monkeypatch):
    """Real pictures of the bundle's data set and a feature space for it, as the measuring code asks.

    Like emoji and image folders, the data set loads at 48 px unless asked for the model's size."""
    from swerve import data as swerve_data
    from swerve.measure import features

    def load(image_size=None, **_):
        size = image_size or 48
        x = torch.rand(60, 3, size, size, generator=torch.Generator().manual_seed(7)) * 2 - 1
        return swerve_data.Dataset(x, torch.arange(60) % 3, CLASSES, "colour-test")

    monkeypatch.setitem(swerve_data.DATASETS, "colour-test", load)
    pooled = lambda: torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(3), torch.nn.Flatten())  # noqa: E731
    extractor = features.Extractor("colour-pooled", pooled, None, "none", ("colour-test",))  # 27 features
    monkeypatch.setitem(features.EXTRACTORS, "colour-pooled", extractor)


def rgb(path: Path) -> np.ndarray:
    image = Image.open(path)
    assert image.mode == "RGB", image.mode
    return np.asarray(image)


def is_colour(pixels: np.ndarray) -> bool:
    return bool((pixels[..., 0] != pixels[..., 1]).any() or (pixels[..., 1] != pixels[..., 2]).any())


def test_every_transform_bends_a_colour_generator(saved):
    bundle = swerve.load(saved["a"])
    plain = bundle.sample(2, seed=1).x
    assert plain.shape == (2, 3, SIZE, SIZE)
    for name in TRANSFORMS:
        bent = bend_bundle(bundle, [{"layer": "conv:0", "transform": name}]).sample(2, seed=1).x
        assert bent.shape == plain.shape and torch.isfinite(bent).all(), name


def test_bend_clusters_glitch_blend_rewrite_cli(cli, saved, tmp_path):
    a, b = saved["a"], saved["b"]
    code, _, err = cli(
        "bend", a, "--bend", "conv:0 rotate degrees=90", "--n", "4", "--out", tmp_path / "bend.png"
    )
    assert code == 0, err
    assert is_colour(rgb(tmp_path / "bend.png"))
    code, _, err = cli("clusters", a, "--layer", "conv:0", "--k", "2", "--n", "16", "--out", tmp_path / "c")
    assert code == 0, err
    code, _, err = cli(
        "bend", tmp_path / "c", "--bend", "conv:0 ablate @cluster=1", "--out", tmp_path / "k.png"
    )
    assert code == 0, err
    code, _, err = cli("glitch", a, "--kind", "zero", "--amount", "0.5", "--out", tmp_path / "g")
    assert code == 0, err
    code, _, err = cli(
        "blend", a, b, "--alpha", "0.5", "--out", tmp_path / "ab", "--preview", tmp_path / "ab.png"
    )
    assert code == 0, err
    assert is_colour(rgb(tmp_path / "ab.png"))
    code, out, err = cli(
        "rewrite", a, "--layer", "conv:0", "--rank", "4", "--n", "16", "--out", tmp_path / "r", "--json"
    )
    assert code == 0, err
    assert swerve.load(tmp_path / "r").sample(2, seed=0).x.shape == (2, 3, SIZE, SIZE)


def test_finetune_and_chain(cli, saved, tmp_path):
    code, _, err = cli(
        "finetune", saved["a"], "--method", "uncanny", "--steps", "2", "--trail-every", "2",
        "--out", tmp_path / "ft", "--no-progress", "--set", "grid_size=4",
    )  # fmt: skip
    assert code == 0, err
    recipe = tmp_path / "chain.yaml"
    recipe.write_text(
        "- {op: bend, bends: [{layer: conv:0, transform: multiply, params: {factor: 2}}]}\n"
        "- {op: refine, method: dgflow, steps: 2}\n"
    )
    code, _, err = cli(
        "chain", saved["a"], recipe, "--out", tmp_path / "chained", "--no-progress",
        "--samples", tmp_path / "s.png", "--n", "4",
    )  # fmt: skip
    assert code == 0, err
    assert is_colour(rgb(tmp_path / "s.png"))


def test_novelty_search_and_refine(cli, saved, tmp_path):
    code, out, err = cli(
        "diverge", "novelty", saved["a"], "--extractor", saved["a"], "--budget", "40", "--population", "8",
        "--out", tmp_path / "archive.npz", "--measure-n", "0", "--json",
    )  # fmt: skip
    assert code == 0, err
    with np.load(tmp_path / "archive.npz") as archive:
        assert archive["x"].shape[1:] == (3, SIZE, SIZE)
    code, _, err = cli(
        "refine",
        saved["a"],
        "--method",
        "dgflow",
        "--n",
        "8",
        "--set",
        "steps=2",
        "--out",
        tmp_path / "ref.png",
    )
    assert code == 0, err
    assert is_colour(rgb(tmp_path / "ref.png"))


def test_scan_and_measure(cli, saved, tmp_path, reference):
    code, out, err = cli("scan", saved["a"], "--n", "20", "--restarts", "1", "--json")
    assert code == 0, err
    assert len(json.loads(out)["individual"]["scores"]) == 20
    code, out, err = cli(
        "measure", saved["a"], "--ops", "none", "--ops", "glitch:gaussian:amount=0.3", "--n", "20",
        "--reference-n", "40", "--out", tmp_path / "map.png", "--json",
    )  # fmt: skip
    assert code == 0, err
    rows = json.loads(out)["rows"]
    assert len(rows) == 2 and all(np.isfinite(r["novelty"]) for r in rows)


def test_sweep(saved, tmp_path):
    from swerve.scale import parse_spec, run_sweep

    bend = {"layer": "conv:0", "transform": "multiply", "params": {"factor": 1.0}}
    spec = {
        "bundle": str(saved["a"]),
        "n": 4,
        "metrics": ["change", "diversity"],
        "jobs": [
            {"operation": "bend", "params": {"bends": [bend]}, "grid": {"bends.0.params.factor": [1.0, 3.0]}},
            {"operation": "blend", "params": {"other": str(saved["b"])}, "grid": {"alpha": [0.5]}},
        ],
    }
    result = run_sweep(parse_spec(spec), tmp_path / "sweep", progress=False)
    assert not result.failed and len(result.results) == 3
    assert result.results[0]["metrics"]["change"] == 0 < result.results[1]["metrics"]["change"]


def test_demo_sections_render_a_colour_zoo(saved, tmp_path, monkeypatch):
    import shutil

    from swerve import zoo
    from swerve.look import sections
    from swerve.look.demo import run_demo

    shutil.copytree(saved["a"], tmp_path / "zoo" / "fashion-gan")
    monkeypatch.setattr(zoo, "BUNDLES", tmp_path / "zoo")
    monkeypatch.setattr(sections, "fashion_test_images", lambda n, seed: None)
    monkeypatch.setattr(sections, "SECTION_MODULES", ())
    sections.ordered_sections()
    from swerve.look.sections_bend import bending

    wanted = {"fashion-gan": sections.SECTIONS["fashion-gan"], "bend-blend-rewrite": bending}
    monkeypatch.setattr(sections, "SECTIONS", wanted)
    page = run_demo(tmp_path / "demo", seed=1).read_text()
    assert "could not run" not in page
    pictures = sorted((tmp_path / "demo" / "figures").glob("*.png"))
    assert pictures and all(is_colour(rgb(p)) for p in pictures[:2])


def test_studio_renders_colour_pictures(saved, tmp_path):
    pytest.importorskip("fastapi", reason="the studio extra is not installed: pip install 'swerve[studio]'")
    pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx")
    from fastapi.testclient import TestClient

    from swerve.studio.app import create_app
    from swerve.studio.engine import Studio
    from swerve.studio.models import Models

    studio = Studio(Models([saved["a"].parent]), tmp_path / "out")
    client = TestClient(create_app(studio), base_url="http://127.0.0.1")
    model = str(saved["a"].resolve())
    state = {"model": model, "latent": {"seed": 3}, "label": 1}
    response = client.post("/api/render", json=state)
    assert response.status_code == 200, response.text
    picture = np.asarray(Image.open(io.BytesIO(response.content)))
    assert picture.shape[-1] == 3 and picture.shape[0] >= SIZE and is_colour(picture)
    grid = client.post("/api/grid", json={"state": state, "n": 4})
    assert grid.status_code == 200, grid.text
    assert np.asarray(Image.open(io.BytesIO(grid.content))).shape[-1] == 3


def test_reference_pictures_load_at_the_models_size_and_channels(reference):
    from swerve.data import load_like
    from swerve.diverge.compare import reference_images

    assert load_like("colour-test", [3, SIZE, SIZE], split="test").x.shape == (60, 3, SIZE, SIZE)
    assert load_like("colour-test", [1, 16, 16], split="test").x.shape == (60, 1, 16, 16)
    assert reference_images("colour-test", n=10).shape == (10, 3, 48, 48)  # the data set's own size
    assert reference_images("colour-test", n=10, shape=[3, SIZE, SIZE]).shape == (10, 3, SIZE, SIZE)
    assert load_like("ring", [2], n=5).x.shape == (5, 2)

"""Diverge while making: novelty search, inspiring sets (held-out classes, CAN), training without data."""

from __future__ import annotations

import json

import pytest
import torch

from swerve.data import load_dataset
from swerve.diverge.can import CANTask, class_posterior, style_ambiguity
from swerve.diverge.digits_not import binarize, fixed_points, white_ratio
from swerve.diverge.inspiring import FASHION_HELD_OUT, held_out_harness
from swerve.diverge.nodata import batch_variance, nodata_config, train_without_data
from swerve.diverge.novelty import feature_behaviour, novelty_search, random_archive
from swerve.diverge.sparse_ae import SparseAEConfig, WTAAutoencoder
from swerve.errors import ConfigError
from swerve.measure import posterior_entropy, sparseness
from swerve.train import TrainConfig, Trainer
from swerve.zoo import zoo_path
from tests.conftest import blobs, tiny_image_bundle
from tests.marks import needs_fashion


def test_novelty_search_spreads_the_archive_wider_than_random_sampling():
    bundle = tiny_image_bundle(conditional=False)
    behaviour = feature_behaviour(bundle.classifier)
    for method in ("evolution", "gradient"):
        archive = novelty_search(
            bundle.generator,
            8,
            behaviour,
            method=method,
            budget=240,
            population=20,
            add_per_generation=3,
            k=5,
            lr=0.3,
            seed=1,
        )
        baseline = random_archive(bundle.generator, 8, behaviour, len(archive), budget=240, seed=1)
        assert archive.evaluations <= 240 and len(archive) >= 10
        assert sparseness(archive.behaviour, k=5) > 1.2 * sparseness(baseline.behaviour, k=5), method


def test_novelty_search_quality_constraint_is_met_by_every_archived_sample():
    bundle = tiny_image_bundle(conditional=True)
    quality = lambda x, y: torch.sigmoid(bundle.discriminator(x, y))  # noqa: E731
    with torch.no_grad():
        floor = float(quality(*_samples(bundle)).median())
    archive = novelty_search(
        bundle.generator,
        8,
        feature_behaviour(bundle.classifier),
        budget=200,
        population=20,
        num_classes=3,
        quality=quality,
        quality_min=floor,
    )
    assert archive.labels is not None and (archive.quality >= floor).all()
    with pytest.raises(ConfigError, match="quality_min"):
        novelty_search(bundle.generator, 8, feature_behaviour(bundle.classifier), quality=quality)


def _samples(bundle):
    s = bundle.sample(64, seed=3)
    return s.x, s.labels


@pytest.mark.parametrize("form", ["paper", "softmax"])
def test_style_ambiguity_is_flat_at_the_uniform_posterior_and_only_there(form):
    uniform = torch.full((4, 5), 0.7, requires_grad=True)
    style_ambiguity(uniform, form).backward()
    assert uniform.grad.abs().max() < 1e-6
    skewed = torch.tensor([[2.0, 0.0, 0.0, 0.0, 0.0]], requires_grad=True)
    loss = style_ambiguity(skewed, form)
    loss.backward()
    assert skewed.grad.abs().max() > 1e-2
    assert loss > style_ambiguity(torch.zeros(1, 5), form)  # the uniform posterior is the minimum


def _train_can(weight: float, tmp_path, steps: int = 100):
    cfg = TrainConfig(
        name=f"can{weight}",
        kind="can",
        dataset="blobs",
        latent_dim=8,
        width=8,
        steps=steps,
        batch_size=32,
        ema=0.0,
        lr_g=2e-3,
        lr_d=2e-3,
        log_every=0,
        sample_every=0,
        checkpoint_every=0,
        params={"ambiguity_weight": weight},
    )
    trainer = Trainer(cfg, tmp_path / f"can{weight}", data=blobs(), progress=False)
    trainer.fit()
    return trainer.export()


def test_can_loss_makes_the_class_head_less_sure_than_an_ordinary_gan(tmp_path):
    entropy = {}
    for weight in (0.0, 1.0):
        bundle = _train_can(weight, tmp_path)
        posterior = class_posterior(bundle.discriminator, bundle.sample(256, seed=5).x)
        entropy[weight] = posterior_entropy(posterior)
    assert entropy[1.0] > entropy[0.0] + 0.2, entropy


def test_can_rejects_an_unknown_setting():
    cfg = TrainConfig(kind="can", params={"ambiguity_wieght": 1.0})
    with pytest.raises(ConfigError, match="ambiguity_wieght"):
        CANTask(cfg, [1, 8, 8], 3, torch.device("cpu"))


@needs_fashion
def test_out_of_class_count_separates_held_out_from_training_classes_for_every_method():
    if zoo_path("fashion-classifier") is None:
        pytest.skip("the zoo's fashion-classifier is not installed")
    from swerve import load

    test = load_dataset("fashion-mnist", split="test", n=2000)
    held = torch.isin(test.labels, torch.tensor(FASHION_HELD_OUT))
    methods = {
        "real held-out": test.x[held][:300],
        "real training classes": test.x[~held][:300],
        "noise": torch.rand(50, 1, 28, 28) * 2 - 1,
    }
    rows = held_out_harness(methods, load("fashion-classifier").classifier, FASHION_HELD_OUT)
    by_name = {row["method"]: row for row in rows}
    assert [row["method"] for row in rows] == list(methods)
    assert all({"count@0.9", "max", "objectness"} <= set(row) for row in rows)
    assert by_name["real held-out"]["count@0.5"] > 0.95 and by_name["real held-out"]["count@0.9"] > 0.85
    assert by_name["real training classes"]["count@0.5"] < 0.03


def test_training_without_data_collapses_without_the_variance_term_and_not_with_it(tmp_path):
    variance = {}
    for weight in (0.0, 1.0):
        cfg = nodata_config(
            image_size=8,
            width=8,
            latent_dim=8,
            steps=100,
            log_every=0,
            sample_every=0,
            checkpoint_every=0,
            params={"variance_weight": weight},
        )
        bundle = train_without_data(cfg, tmp_path / str(weight), progress=False)
        variance[weight] = float(batch_variance(bundle.sample(64, seed=1).x))
        assert bundle.history[-1]["op"] == "diverge-nodata"
        assert bundle.history[-1]["params"]["variance_weight"] == weight
    assert variance[0.0] < 0.1 < variance[1.0], variance
    assert variance[1.0] > 4 * variance[0.0]


def test_nodata_distance_variants_train_and_keep_variance(tmp_path):
    for variant in ("cosine", "euclidean"):
        cfg = nodata_config(
            image_size=8,
            width=4,
            latent_dim=8,
            steps=30,
            log_every=0,
            sample_every=0,
            checkpoint_every=0,
            params={"variant": variant},
        )
        bundle = train_without_data(cfg, tmp_path / variant, progress=False)
        assert {"generator", "generator_b", "discriminator"} <= set(bundle.networks)
        assert float(batch_variance(bundle.sample(32, seed=0).x)) > 0.05


def test_moving_threshold_keeps_the_training_white_pixel_ratio(tmp_path):
    data = load_dataset("digits").x
    ratio = white_ratio(data)
    noise = torch.randn(50, 1, 8, 8)
    out = binarize(noise, ratio)
    assert set(out.unique().tolist()) == {-1.0, 1.0}
    expected = round(ratio * 64) / 64
    assert torch.allclose((out > 0).double().flatten(1).mean(1), torch.tensor(expected, dtype=torch.float64))
    cfg = TrainConfig(
        name="ae",
        kind="sparse-ae",
        dataset="digits",
        width=8,
        depth=1,
        steps=60,
        lr_g=3e-3,
        batch_size=32,
        ema=0.0,
        log_every=0,
        sample_every=0,
        checkpoint_every=0,
    )
    trainer = Trainer(cfg, tmp_path, progress=False)
    trainer.fit()
    ae = trainer.task.ae
    points = fixed_points(ae, 40, ratio, max_iter=30, seed=0)
    white = (points.x > 0).double().flatten(1).mean(1)
    assert torch.allclose(white, torch.tensor(expected, dtype=torch.float64))
    assert points.converged.any()
    fixed = points.x[points.converged]
    with torch.no_grad():
        assert torch.equal(binarize(ae(fixed), ratio), fixed)  # a fixed point maps onto itself


def test_winner_take_all_keeps_one_unit_per_map():
    ae = WTAAutoencoder(SparseAEConfig(image_size=8, width=6))
    code = ae.encode(torch.randn(3, 1, 8, 8))
    assert ((code > 0).flatten(2).sum(2) <= 1).all()


def test_cli_novelty_writes_an_archive_with_its_recipe(cli, tmp_path, tiny_bundle):
    out = tmp_path / "archive.npz"
    code, stdout, err = cli(
        "diverge",
        "novelty",
        tiny_bundle,
        "--extractor",
        tiny_bundle,
        "--budget",
        "80",
        "--population",
        "10",
        "--out",
        out,
        "--measure-n",
        "0",
        "--json",
    )
    assert code == 0, err
    result = json.loads(stdout)
    assert result["archive_size"] > 0
    record = json.loads((tmp_path / "archive.npz.json").read_text())
    assert record["method"] == "novelty" and record["params"]["budget"] == 80
    code, _, err = cli("diverge", "novelty", tiny_bundle, "--extractor", tiny_bundle, "--method", "annealing")
    assert code == 2 and err.count("\n") == 1 and "annealing" in err


def test_iterated_learning_grows_its_data_measures_each_round_and_resumes(tmp_path):
    from swerve.diverge.iterated import iterated_learning
    from swerve.models import ClassifierConfig, DomainClassifier

    data = blobs(n=128)
    cfg = TrainConfig(
        name="tiny",
        dataset="blobs",
        latent_dim=8,
        width=4,
        steps=5,
        batch_size=32,
        ema=0.0,
        log_every=0,
        sample_every=0,
        checkpoint_every=0,
        conditional=True,
    )
    trainer = Trainer(cfg, tmp_path / "base", data=data, progress=False)
    trainer.fit()
    start = trainer.export()
    torch.manual_seed(0)
    extractor = DomainClassifier(ClassifierConfig(image_size=8, num_classes=3, width=4))
    kwargs = dict(rounds=2, samples_per_round=40, keep=0.5, steps_per_round=3, measure_n=40, progress=False)
    final, rows = iterated_learning(start, data, tmp_path / "it", extractor, blobs(n=64, seed=9).x, **kwargs)
    assert [r["round"] for r in rows] == [0, 1, 2]
    assert [r["dataset"] for r in rows] == [128, 148, 168] and rows[1]["added"] == 20
    assert all({"novelty", "precision", "recall", "sparseness"} <= set(r) for r in rows)
    ops = [h["op"] for h in final.history]
    assert ops.count("diverge-iterate") == 2 and final.history[-1]["params"]["keep"] == 0.5
    again, rows_again = iterated_learning(
        start, data, tmp_path / "it", extractor, blobs(n=64, seed=9).x, **kwargs
    )
    assert rows_again[1:] == rows[1:]  # finished rounds are read back, not run again


def test_cli_nodata_trains_resumes_and_records_the_method(cli, tmp_path):
    args = [
        "diverge",
        "nodata",
        "--out",
        tmp_path / "run",
        "--image-size",
        "8",
        "--batch-size",
        "4",
        "--measure-n",
        "0",
        "--no-progress",
        "--json",
    ]
    code, stdout, err = cli(*args, "--steps", "3")
    assert code == 0, err
    code, stdout, err = cli(*args, "--steps", "5", "--resume")
    assert code == 0, err
    result = json.loads(stdout)
    assert result["history"][-1]["op"] == "diverge-nodata" and result["history"][-1]["params"]["steps"] == 5
    code, _, err = cli("diverge", "nodata", "--out", tmp_path / "bad", "--variant", "angular", "--steps", "1")
    assert code == 2 and "angular" in err


@needs_fashion
def test_demo_sections_show_each_method_with_its_numbers():
    from pathlib import Path

    from swerve.diverge import report
    from swerve.look.sections import SECTION_MODULES, DemoContext

    assert "swerve.diverge.report" in SECTION_MODULES
    needed = ("fashion-gan", "fashion-classifier", "nodata-gan")
    if any(zoo_path(name) is None for name in needed):
        pytest.skip("the zoo models the sections use are not installed")
    ctx = DemoContext(Path("unused"))
    novelty = report.novelty_search_section(ctx)
    baseline, archive = novelty.table
    assert len(novelty.figures) == 2 and archive["novelty"] > baseline["novelty"]
    nodata = report.nodata_section(ctx)
    assert nodata.table["batch variance, generator 1"] > 0.05


def test_cli_novelty_names_every_file_it_writes(cli, tmp_path, tiny_bundle):
    out = tmp_path / "archive.npz"
    args = [
        "--extractor",
        tiny_bundle,
        "--budget",
        "40",
        "--population",
        "10",
        "--out",
        out,
        "--measure-n",
        "0",
    ]
    code, stdout, err = cli("diverge", "novelty", tiny_bundle, *args)
    assert code == 0, err
    for path in (out, tmp_path / "archive.png", tmp_path / "archive.npz.json"):
        assert path.is_file() and str(path) in stdout, path
    result = json.loads(cli("diverge", "novelty", tiny_bundle, *args, "--overwrite", "--json")[1])
    assert result["picture"] == str(tmp_path / "archive.png")

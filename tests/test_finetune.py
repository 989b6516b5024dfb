"""Divergent fine-tuning: each method does what its paper says, on tiny models; trails survive Ctrl-C."""

from __future__ import annotations

import os
import signal

import pytest
import torch

import swerve
from swerve.data import Dataset, load_dataset
from swerve.diverge.chain import Pipeline, sample_chain
from swerve.diverge.finetune import FinetuneConfig, FinetuneTrainer, Trail, finetune
from swerve.diverge.finetune.nada import directional_loss, tiny_clip
from swerve.errors import ConfigError, SwerveError
from swerve.measure import class_agreement, collapsed, knn_distance, pairwise_diversity
from tests.conftest import blobs, tiny_image_bundle
from tests.marks import needs_fashion


def tiny_config(**changes) -> FinetuneConfig:
    values = dict(steps=12, trail_every=4, batch_size=16, lr=1e-2, grid_size=12, log_every=4)
    return FinetuneConfig(**{**values, **changes})


def state(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in net.state_dict().items()}


def identical(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("form", ["inverted", "log"])
def test_uncanny_raises_frozen_d_fake_probability_and_leaves_d_bit_identical(tmp_path, form):
    bundle = tiny_image_bundle()
    d_before = state(bundle.discriminator)
    result = finetune(bundle, tiny_config(method="uncanny", loss=form), tmp_path, progress=False)
    fake = [m["fake_prob"] for m in result.trail.metrics()]
    assert fake[-1] > fake[0] + 0.1, fake
    assert identical(state(bundle.discriminator), d_before)
    tuned = swerve.load(result.bundle_path)
    assert identical(state(tuned.discriminator), d_before)
    assert tuned.history[-1]["op"] == "finetune" and tuned.history[-1]["params"]["loss"] == form


def test_classifier_guidance_raises_the_target_class_probability(tmp_path):
    gan = swerve.load("fashion-gan", device="cpu")
    common = dict(
        method="guided", scorer="fashion-classifier", target=[8], steps=8, trail_every=4, batch_size=8,
        lr=1e-3, grid_size=10, measure_quality=False,
    )  # fmt: skip
    towards = finetune(gan, FinetuneConfig(**common), tmp_path / "to", progress=False)
    probs = [m["target_prob"] for m in towards.trail.metrics()]  # the grid has one sample per class
    assert probs[0] < 0.2 and probs[-1] > 0.5, probs
    away = finetune(gan, FinetuneConfig(**common, away=True), tmp_path / "away", progress=False)
    probs = [m["target_prob"] for m in away.trail.metrics()]
    assert probs[-1] < 0.5 * probs[0], probs


def test_guidance_weight_zero_with_realism_anchor_stays_near_the_original(tmp_path):
    gan = swerve.load("fashion-gan", device="cpu")
    classifier = swerve.load("fashion-classifier", device="cpu").classifier
    common = dict(
        method="guided", scorer="fashion-classifier", target=[8], steps=8, trail_every=8, batch_size=8,
        lr=5e-4, grid_size=20, measure_quality=False,
    )  # fmt: skip
    anchored = finetune(gan, FinetuneConfig(**common, alpha=0.0, beta=1.0), tmp_path / "a", progress=False)
    guided = finetune(gan, FinetuneConfig(**common, alpha=1.0, beta=0.0), tmp_path / "g", progress=False)
    z, y = anchored.trail.latents()

    def agreement(bundle: swerve.Bundle) -> float:  # how often the classifier sees the class asked for
        with torch.no_grad():
            return class_agreement(classifier, bundle.generator.eval()(z, y), y)

    start = agreement(gan)
    assert start >= 0.7
    assert agreement(swerve.load(anchored.bundle_path)) >= start - 0.1
    assert agreement(swerve.load(guided.bundle_path)) <= start - 0.3
    first, last = anchored.trail.metrics()[0]["target_prob"], anchored.trail.metrics()[-1]["target_prob"]
    assert abs(last - first) < 0.05


def test_frozen_layers_stay_bit_identical(tmp_path):
    bundle = tiny_image_bundle()
    before = state(bundle.generator)
    result = finetune(
        bundle, tiny_config(method="uncanny", freeze=["stem", "blocks.0"]), tmp_path, progress=False
    )
    after = state(swerve.load(result.bundle_path).generator)
    frozen = [k for k in before if k.startswith(("stem.", "blocks.0."))]
    assert frozen and all(torch.equal(before[k], after[k]) for k in frozen)
    assert any(not torch.equal(before[k], after[k]) for k in before if k not in frozen)
    weights = swerve.diverge.finetune.trail.load_file(
        tmp_path / "trail" / "step_000012" / "weights.safetensors"
    )
    assert not any(k.startswith(("generator/stem.", "generator/blocks.0.")) for k in weights)  # compact
    with pytest.raises(ConfigError, match="no layer 'blocks.9'"):
        finetune(bundle, tiny_config(method="uncanny", freeze=["blocks.9"]), tmp_path / "bad", progress=False)


def test_nada_directional_loss_is_zero_without_change_or_text_direction():
    clip = tiny_clip()
    g = tiny_image_bundle(conditional=False).generator.eval()
    z = torch.randn(6, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        x, x0 = g(z), g(z)  # G equals its frozen copy
    text, text0 = clip.encode_text(["photo", "photo"])
    loss = directional_loss(clip.encode_image(x), clip.encode_image(x0), text, text0)
    assert torch.equal(loss, torch.zeros(6))
    a, b = torch.randn(4, 16), torch.randn(16)
    expected = 1 - torch.nn.functional.cosine_similarity(10 * a, 10 * b.expand(4, -1))
    assert torch.allclose(
        directional_loss(10 * a, torch.zeros(16), 10 * b, torch.zeros(16)), expected, atol=1e-4
    )


def test_nada_turns_image_changes_towards_the_text_direction(tmp_path):
    bundle = tiny_image_bundle()
    clip = tiny_clip()
    cfg = tiny_config(method="nada", clip="tiny", source="dark", text="bright stripes", steps=12, lr=1e-3)
    result = finetune(bundle, cfg, tmp_path, progress=False, clip=clip)
    tuned = swerve.load(result.bundle_path)
    z, y = result.trail.latents()
    text0, text = clip.encode_text(["dark", "bright stripes"])
    with torch.no_grad():
        before = clip.encode_image(bundle.generator.eval()(z, y))
        after = clip.encode_image(tuned.generator(z, y))
    cos = torch.nn.functional.cosine_similarity(after - before, (text - text0).expand(len(after), -1))
    assert cos.mean() > 0.1  # the images moved the way the text did (0 for an unrelated direction)
    assert directional_loss(after, before, text, text0).mean() < 0.5


def test_nada_adaptive_freezing_trains_only_the_chosen_layers(tmp_path):
    bundle = tiny_image_bundle()
    cfg = tiny_config(method="nada", clip="tiny", text="x", steps=1, trail_every=1, adaptive_layers=1)
    result = finetune(bundle, cfg, tmp_path, progress=False, clip=tiny_clip())
    before, after = state(bundle.generator), state(swerve.load(result.bundle_path).generator)
    changed = {k.rsplit(".", 1)[0] for k in before if not torch.equal(before[k], after[k])}
    assert len(changed) == 1, changed  # one unit (a layer's weight and bias share a prefix)


@needs_fashion
def test_collapse_detector_fires_on_a_collapsing_run_and_not_on_a_healthy_one(tmp_path):
    gan = swerve.load("fashion-gan", device="cpu")
    real = load_dataset("fashion-mnist", split="test")
    data = Dataset(real.x[:128], real.labels[:128], real.classes, "fashion-128")
    common = dict(
        method="domain-shift", dataset="fashion-128", shift_fraction=1.0, shift_every=4, trail_every=4,
        batch_size=16, grid_size=10, measure_quality=False, collapse_threshold=0.5,
    )  # fmt: skip
    bad = FinetuneConfig(**common, steps=24, lr=2e-2, lr_d=2e-2, betas=[0.9, 0.999])
    result = finetune(gan, bad, tmp_path / "bad", data=data, progress=False)
    assert result.collapse_step is not None and result.step == result.collapse_step < 24
    kept = result.trail.metrics()[result.trail.steps().index(result.kept_step)]
    assert kept["diversity"] >= 0.5 * result.trail.metrics()[0]["diversity"]
    assert torch.equal(
        swerve.load(result.bundle_path).generator.state_dict()["to_image.0.weight"],
        result.trail.export(result.kept_step).generator.state_dict()["to_image.0.weight"],
    )
    healthy = FinetuneConfig(**common, steps=8, lr=1e-5, lr_d=1e-5)
    fine = finetune(gan, healthy, tmp_path / "ok", data=data, progress=False)
    assert fine.collapse_step is None and fine.step == 8
    assert collapsed(0.1, 1.0, 0.5) and not collapsed(0.9, 1.0, 0.5)


def _interrupt_at(trainer: FinetuneTrainer, at: int) -> None:
    """Send a real SIGINT (Ctrl-C) to this process when the trainer reaches step ``at``."""
    step = trainer.task.step

    def stepping(next_batch, gen, i):
        if i == at:
            os.kill(os.getpid(), signal.SIGINT)
        return step(next_batch, gen, i)

    trainer.task.step = stepping


@pytest.mark.parametrize("method", ["uncanny", "domain-shift"])
def test_trail_resumes_after_interruption(tmp_path, method):
    data = blobs(64)
    cfg = tiny_config(method=method, dataset="blobs", shift_every=3, lr=2e-3, lr_d=2e-3, steps=10)
    whole = finetune(tiny_image_bundle(), cfg, tmp_path / "whole", data=data, progress=False)
    trainer = FinetuneTrainer(tiny_image_bundle(), cfg, tmp_path / "cut", data=data, progress=False)
    _interrupt_at(trainer, 5)
    cut = trainer.fit()
    assert cut.interrupted and cut.step == 6 and cut.trail.steps() == [0, 4]
    resumed = FinetuneTrainer(
        tiny_image_bundle(), cfg, tmp_path / "cut", resume=True, data=data, progress=False
    )
    done = resumed.fit()
    assert not done.interrupted and done.trail.steps() == whole.trail.steps() == [0, 4, 8, 10]
    assert done.trail.metrics() == whole.trail.metrics()
    assert identical(state(done.trail.export(10).generator), state(whole.trail.export(10).generator))


def test_cross_domain_moves_samples_towards_the_new_data(tmp_path):
    data = blobs(128)
    cfg = tiny_config(method="cross-domain", dataset="blobs", steps=16, lr=1e-2, lr_d=1e-2)
    result = finetune(tiny_image_bundle(), cfg, tmp_path, data=data, progress=False)
    assert result.trail.steps() == [0, 4, 8, 12, 16]
    z, y = result.trail.latents()
    distance = []
    for step in (0, 16):
        with torch.no_grad():
            x = result.trail.export(step).generator.eval()(z, y)
        distance.append(float(knn_distance(x.flatten(1), data.x.flatten(1)).mean()))
    assert distance[1] < 0.6 * distance[0], distance


def test_bad_configs_are_one_line_errors(tmp_path):
    with pytest.raises(ConfigError, match="method must be one of"):
        FinetuneConfig(method="melt")
    with pytest.raises(ConfigError, match="needs a dataset"):
        FinetuneConfig(method="cross-domain")
    with pytest.raises(ConfigError, match="unknown fine-tuning field"):
        FinetuneConfig.from_dict({"stepz": 3})
    with pytest.raises(ConfigError, match="betas must be two numbers"):
        FinetuneConfig(betas=[0.5, 1.0])
    with pytest.raises(SwerveError, match="has no step 3"):
        finetune(tiny_image_bundle(), tiny_config(steps=4), tmp_path, progress=False).trail.export(3)


def test_chain_records_every_step_and_skips_finished_ones(tmp_path):
    bend = {"layer": "blocks.0", "transform": "multiply", "params": {"factor": 2.0}}
    steps = [
        ("finetune", {"method": "uncanny", "steps": 4, "trail_every": 2, "grid_size": 6, "lr": 1e-2}),
        ("bend", {"bends": [bend]}),
        ("glitch", {"kind": "gaussian", "amount": 0.1, "seed": 1}),
        ("finetune", {"method": "uncanny", "loss": "log", "steps": 2, "trail_every": 2, "grid_size": 6}),
    ]
    out = Pipeline(steps).run(tiny_image_bundle(), tmp_path, progress=False)
    assert [h["op"] for h in out.history] == ["train", "finetune", "bend", "glitch", "finetune", "chain"]
    assert [s["op"] for s in out.history[-1]["params"]["steps"]] == ["finetune", "bend", "glitch", "finetune"]
    assert out.extra["bends"][0]["layer"] == "blocks.0"  # the bend rides along through the last fine-tune
    first = tmp_path / "00-finetune" / "output" / "config.json"
    stamp = first.stat().st_mtime_ns
    again = Pipeline(steps).run(tiny_image_bundle(), tmp_path, progress=False)
    assert first.stat().st_mtime_ns == stamp and identical(state(again.generator), state(out.generator))
    with pytest.raises(ConfigError, match="unknown operation 'melt'"):
        Pipeline([("melt", {})])
    with pytest.raises(ConfigError, match="operation glitch"):
        Pipeline([("glitch", {"kind": "gaussian", "amount": 0.1, "colour": 3})]).run(
            tiny_image_bundle(), tmp_path / "bad", progress=False
        )


def test_chain_fine_tune_bend_refine_samples_with_the_refinement(tmp_path):
    steps = [
        ("finetune", {"method": "uncanny", "steps": 2, "trail_every": 2, "grid_size": 6}),
        ("bend", {"bends": [{"layer": "blocks.0", "transform": "multiply", "params": {"factor": 2.0}}]}),
        ("refine", {"method": "dgflow", "steps": 5, "eta": 0.5}),
    ]
    out = Pipeline(steps).run(tiny_image_bundle(), tmp_path, progress=False)
    assert [h["op"] for h in out.history][-4:] == ["finetune", "bend", "refine", "chain"]
    assert out.extra["refine"]["method"] == "dgflow"
    refined = sample_chain(out, 8, seed=3)
    plain = out.sample(8, seed=3)  # bent, not refined
    assert torch.equal(refined.z, plain.z) and not torch.allclose(refined.x, plain.x)
    assert refined.recipe["refine"]["settings"] == {"steps": 5, "eta": 0.5}
    with pytest.raises(ConfigError, match="dgflow has no setting colour"):
        Pipeline([("refine", {"colour": 1})]).run(tiny_image_bundle(), tmp_path / "bad", progress=False)


def test_a_bent_bundle_is_fine_tuned_through_its_bends(tmp_path):
    from swerve.diverge.bend import bend_bundle

    bent = bend_bundle(
        tiny_image_bundle(), [{"layer": "blocks.0", "transform": "multiply", "params": {"factor": 3.0}}]
    )
    result = finetune(bent, tiny_config(method="uncanny", steps=2, trail_every=2), tmp_path, progress=False)
    z, y = result.trail.latents()
    expected = pairwise_diversity(bent.sample(len(z), z=z, labels=y).x)
    unbent = pairwise_diversity(tiny_image_bundle().sample(len(z), z=z, labels=y).x)
    assert result.trail.metrics()[0]["diversity"] == pytest.approx(expected, rel=1e-5)
    assert expected != pytest.approx(unbent, rel=1e-3)
    assert swerve.load(result.bundle_path).extra["bends"] == bent.extra["bends"]


def test_cli_finetune_then_show_and_export_the_trail(cli, tiny_bundle, tmp_path):
    run = tmp_path / "run"
    code, out, err = cli(
        "finetune", tiny_bundle, "--method", "uncanny", "--steps", "4", "--trail-every", "2", "--lr", "0.01",
        "--out", run, "--no-progress", "--set", "grid_size=6",
    )  # fmt: skip
    assert code == 0, err
    assert "finished at step 4" in out
    code, out, err = cli(
        "finetune", tiny_bundle, "--method", "uncanny", "--out", run, "--resume", "--steps", "6"
    )
    assert code == 0 and "finished at step 6" in out, err  # the run's own settings, two more steps
    assert Trail(run / "trail").steps() == [0, 2, 4, 6]
    other = tiny_image_bundle(conditional=False).save(tmp_path / "other")
    code, _, err = cli("finetune", other, "--method", "uncanny", "--out", run, "--resume", "--steps", "8")
    assert code == 2 and "cannot resume" in err and "start" in err
    code, out, err = cli("trail", "show", run)
    assert code == 0, err
    assert (
        (run / "trail.png").is_file()
        and (run / "trail.gif").is_file()
        and (run / "trail.png.json").is_file()
        and (run / "trail-metrics.png").is_file()
    )
    code, out, err = cli("trail", "export", run, "--step", "2", "--out", tmp_path / "b2")
    assert code == 0, err
    exported = swerve.load(tmp_path / "b2")
    assert exported.history[-1]["params"]["step"] == 2
    code, _, err = cli("finetune", tiny_bundle, "--method", "melt", "--out", tmp_path / "x")
    assert code == 2 and err.count("\n") == 1 and "method must be one of" in err


def test_trail_says_which_quality_metrics_it_could_not_measure_and_why(cli, tmp_path, monkeypatch):
    import json

    from swerve import zoo
    from swerve.data import idx
    from tests.test_look import save_tiny_zoo

    save_tiny_zoo(tmp_path / "zoo")  # a Fashion-MNIST GAN and the fashion-classifier, untrained
    monkeypatch.setattr(zoo, "BUNDLES", tmp_path / "zoo")
    (tmp_path / "empty").mkdir()  # Fashion-MNIST nowhere: an empty folder, no Debian package, no cache
    monkeypatch.setenv("SWERVE_FASHION_MNIST", str(tmp_path / "empty"))
    monkeypatch.delenv("SWERVE_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(idx, "DEBIAN_DIR", tmp_path / "no-debian-data")
    run = tmp_path / "run"
    code, out, err = cli(
        "finetune", tmp_path / "zoo" / "fashion-gan", "--method", "uncanny", "--steps", "2", "--trail-every",
        "2", "--out", run, "--no-progress", "--set", "grid_size=4",
    )  # fmt: skip
    assert code == 0, err
    assert "not measured: fd, precision, recall, novelty" in out and "dataset-fashion-mnist" in out
    for entry in Trail(run / "trail").metrics():
        assert "fd" not in entry and set(entry["missing"]) == {"fd", "precision", "recall", "novelty"}
        assert "SWERVE_FASHION_MNIST" in entry["missing"]["fd"]
    code, out, err = cli("trail", "show", run)
    assert code == 0, err
    assert "not measured: fd, precision, recall, novelty" in out
    assert json.loads((run / "trail.png.json").read_text())["metrics"][0]["missing"]


def test_trail_of_a_directory_that_is_not_one(tmp_path):
    with pytest.raises(SwerveError, match="not a trail"):
        Trail(tmp_path).base()


def test_demo_section_shows_two_trails_with_their_curves(tmp_path, monkeypatch):
    from swerve import zoo
    from swerve.diverge.finetune.report import finetune_section
    from swerve.look.sections import DemoContext
    from tests.test_look import save_tiny_zoo

    save_tiny_zoo(tmp_path / "zoo")
    monkeypatch.setattr(zoo, "BUNDLES", tmp_path / "zoo")
    with torch.no_grad():  # as the demo runs its sections
        result = finetune_section(DemoContext(out_dir=tmp_path / "demo"))
    assert len(result.figures) == 4
    rows = {(row["trail"], row["step"]) for row in result.table}
    assert rows == {(t, s) for t in ("uncanny", "guided") for s in (0, 10, 20, 30)}
    assert all("P(Bag)" in row for row in result.table if row["trail"] == "guided")


def test_cli_chain_writes_the_final_bundle_with_its_chain(cli, tiny_bundle, tmp_path):
    recipe = tmp_path / "chain.yaml"
    recipe.write_text(
        "- {op: finetune, method: uncanny, steps: 2, trail_every: 2, grid_size: 6}\n"
        "- {op: refine, method: dgflow, steps: 3}\n"
    )
    code, out, err = cli(
        "chain", tiny_bundle, recipe, "--out", tmp_path / "out", "--no-progress", "--samples",
        tmp_path / "s.png", "--n", "6",
    )  # fmt: skip
    assert code == 0, err
    assert swerve.load(tmp_path / "out").history[-1]["op"] == "chain"
    assert (tmp_path / "s.png").is_file() and (tmp_path / "s.png.json").is_file()
    recipe.write_text("- {op: melt}\n")
    code, _, err = cli("chain", tiny_bundle, recipe, "--out", tmp_path / "x")
    assert code == 2 and "unknown operation 'melt'" in err


class Brightness(torch.nn.Module):
    """A user's own differentiable scorer: mean brightness of each image."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1).mean(1)


def test_any_differentiable_scorer_guides_the_generator(tmp_path):
    bundle = tiny_image_bundle()
    cfg = tiny_config(method="guided", scorer="(module)", steps=8, lr=5e-3)
    result = finetune(bundle, cfg, tmp_path, progress=False, scorer=Brightness())
    z, y = result.trail.latents()
    with torch.no_grad():
        before = bundle.generator.eval()(z, y).mean()
        after = swerve.load(result.bundle_path).generator(z, y).mean()
    assert after > before + 0.1

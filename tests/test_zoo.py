"""The shipped zoo: every recipe is built, records how it was made, and the models are good at their job."""

from __future__ import annotations

import pytest
import torch

import swerve
from swerve.data import load_dataset
from swerve.measure import class_agreement, gaussians25_scores, swissroll_scores
from swerve.train import TrainConfig
from swerve.zoo import BUNDLES, zoo_names
from swerve.zoo.recipes import FINETUNED, RECIPES, zoo_recipes
from tests.marks import needs_fashion, needs_words


def test_every_recipe_is_shipped():
    assert zoo_recipes() == zoo_names()


@pytest.mark.parametrize("name", sorted(FINETUNED))
def test_finetuned_bundle_records_its_base_and_method(name):
    bundle = swerve.load(name, device="cpu")
    base, values = FINETUNED[name]
    assert [h["op"] for h in bundle.history][:1] == ["train"] and bundle.history[-1]["op"] == "finetune"
    assert bundle.training["config"] == swerve.load(base, device="cpu").training["config"]
    assert bundle.data.shape == swerve.load(base, device="cpu").data.shape  # so the two blend


def test_the_zoo_is_small():
    total = sum(f.stat().st_size for f in BUNDLES.rglob("*") if f.is_file())
    assert total < 60 * 2**20, f"{total / 2**20:.1f} MB"


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_bundle_records_its_recipe(name):
    bundle = swerve.load(name, device="cpu")
    # the recorded recipe read as a config (a field added since the build takes its default) is the recipe
    assert TrainConfig.from_dict(bundle.training["config"]).to_dict() == RECIPES[name].to_dict()
    assert bundle.training["steps"] == RECIPES[name].steps
    assert bundle.history[0]["op"] == "train"
    if RECIPES[name].kind == "gan":
        assert "discriminator" in bundle.networks  # loss hacking and DGflow need it


@needs_fashion
@torch.no_grad()
def test_fashion_gan_makes_the_garments_it_is_asked_for():
    gan = swerve.load("fashion-gan", device="cpu")
    classifier = swerve.load("fashion-classifier", device="cpu").classifier
    samples = gan.sample(1000, seed=0)
    assert class_agreement(classifier, samples.x, samples.labels) > 0.8
    # its discriminator, kept for DGflow and loss hacking, still ranks held-out real garments above samples
    # and knows which class a real garment belongs to
    test = load_dataset("fashion-mnist", split="test")
    real, labels = test.x[:500], test.labels[:500]
    d = gan.discriminator
    assert d(real, labels).mean() > d(samples.x, samples.labels).mean() + 1.0
    assert d(real, labels).mean() > d(real, (labels + 1) % 10).mean() + 1.0


@needs_fashion
def test_fashion_classifier_accuracy():
    bundle = swerve.load("fashion-classifier", device="cpu")
    test = load_dataset("fashion-mnist", split="test")
    assert class_agreement(bundle.classifier, test.x[:2000], test.labels[:2000]) > 0.88
    assert bundle.training["test_accuracy"] > 0.88


@needs_fashion
@torch.no_grad()
def test_fashion_vae_reconstructs_better_than_the_mean_image():
    vae = swerve.load("fashion-vae", device="cpu")
    test = load_dataset("fashion-mnist", split="test").x[:500]
    mu, _ = vae.encoder(test)
    recon = vae.generator(mu)
    error = ((recon - test) ** 2).mean()
    baseline = ((test.mean(0, keepdim=True) - test) ** 2).mean()
    assert error < 0.3 * baseline


def test_gaussians25_model_covers_the_modes():
    scores = gaussians25_scores(swerve.load("gaussians25-wgangp", device="cpu").sample(5000, seed=0).x)
    assert scores["modes covered"] >= 20, scores


def test_swissroll_model_stays_on_the_roll():
    scores = swissroll_scores(swerve.load("swissroll-wgangp", device="cpu").sample(5000, seed=0).x)
    assert scores["% high quality"] > 50, scores


@torch.no_grad()
def test_digits_gan_draws_the_digit_it_is_asked_for():
    """Nearest class mean in pixel space is a crude classifier, but it tells a 0 from a 1."""
    gan = swerve.load("digits-gan", device="cpu")
    real = load_dataset("digits")
    means = torch.stack([real.x[real.labels == c].mean(0).flatten() for c in range(10)])
    samples = gan.sample(500, seed=0)
    nearest = torch.cdist(samples.x.flatten(1), means).argmin(1)
    assert (nearest == samples.labels).float().mean() > 0.6


@needs_words
@torch.no_grad()
def test_words_model_is_closer_to_english_than_random_letters():
    from swerve.data.text import decode
    from swerve.measure.text import js_ngrams
    from swerve.refine.scores import held_out_text

    bundle = swerve.load("words-wgangp", device="cpu")
    vocab = bundle.extra["vocab"]
    samples = decode(bundle.sample(1000, seed=0).x, vocab, strip=False)
    real = decode(held_out_text(bundle), vocab, strip=False)
    js = js_ngrams(samples, real, [1, 2])
    # random letters and spaces score JS-1 0.15 and JS-2 0.59 against the held-out words; the model 0.06, 0.25
    assert js[1] < 0.1 and js[2] < 0.4


def test_zoo_list_says_what_each_model_is(cli):
    import json

    code, stdout, _ = cli("zoo", "list", "--json")
    assert code == 0
    rows = {row["name"]: row for row in json.loads(stdout)["models"]}
    assert set(zoo_names()) <= set(rows)
    for name in zoo_names():
        assert rows[name]["description"] and rows[name]["description"] != "(no description)", name
    assert "conditional" in rows["fashion-gan"]["description"]
    text = cli("zoo", "list")[1]
    assert any(line.startswith("fashion-gan ") and "conditional DCGAN" in line for line in text.splitlines())


def test_a_model_without_its_own_description_is_described_from_its_config():
    from swerve.zoo import describe

    config = {"training": {"config": {"kind": "gan", "dataset": "emoji"}}, "data": {"dataset": "emoji"}}
    assert describe("not-a-zoo-model", config) == "gan on emoji"

"""pix2pix: U-Net and PatchGAN, pair transforms, training and exact resume, bends on the translator."""

from __future__ import annotations

import json

import pytest
import torch

from swerve.bundle import Bundle, DataSpec, load
from swerve.data.pairs import blur, downsample, edges, grey, lineart
from swerve.diverge.bend import bend_bundle
from swerve.errors import BundleError, ConfigError
from swerve.models.pix2pix import PatchDiscriminator, Pix2PixConfig, UNetGenerator
from swerve.train.config import TrainConfig
from swerve.train.trainer import Trainer
from swerve.translate import make_input, translate
from tests.conftest import blobs

SMALL = dict(kind="pix2pix", width=4, batch_size=16, log_every=1, sample_every=0, checkpoint_every=0, ema=0.0)


def _step_picture() -> torch.Tensor:
    x = torch.full((1, 1, 8, 8), -1.0)
    x[..., 4:] = 1.0  # dark left half, bright right half: one vertical edge between columns 3 and 4
    return x


def test_edges_mark_the_step_and_nothing_else() -> None:
    e = edges(_step_picture())[0, 0]
    assert torch.allclose(e[:, 3:5], torch.ones(8, 2))  # the two columns beside the step: the strongest
    assert torch.allclose(e[:, :3], -torch.ones(8, 3)) and torch.allclose(e[:, 5:], -torch.ones(8, 3))
    art = lineart(_step_picture())[0, 0]
    assert (art[:, 3:5] == -1).all() and (art[:, :3] == 1).all() and (art[:, 5:] == 1).all()


def test_the_other_transforms_keep_shapes_and_values() -> None:
    rgb = torch.rand(2, 3, 8, 8) * 2 - 1
    assert grey(rgb).shape == (2, 1, 8, 8)
    assert torch.allclose(grey(torch.ones(1, 3, 4, 4)), torch.ones(1, 1, 4, 4))
    flat = torch.full((1, 3, 8, 8), 0.3)
    assert torch.allclose(blur(flat), flat) and torch.allclose(downsample(flat), flat)
    assert blur(_step_picture())[0, 0, 0, 3] > -1  # the step is smeared


@pytest.mark.parametrize("size, levels", [(32, 5), (28, 2), (16, 4)])
def test_translation_output_shape(size: int, levels: int) -> None:
    cfg = Pix2PixConfig(image_size=size, in_channels=1, channels=3, width=4)
    assert cfg.levels == levels
    g, d = UNetGenerator(cfg).eval(), PatchDiscriminator(cfg)
    y = g(torch.randn(2, 1, size, size))
    assert y.shape == (2, 3, size, size) and y.abs().max() <= 1
    logits = d(torch.randn(2, 1, size, size), y)
    assert logits.shape[:2] == (2, 1) and logits.shape[-1] > 1  # one logit per patch
    with pytest.raises(ConfigError, match="reads pictures"):
        g(torch.randn(2, 3, size, size))
    with pytest.raises(ConfigError, match="even"):
        Pix2PixConfig(image_size=7)
    with pytest.raises(ConfigError, match="PatchGAN"):
        Pix2PixConfig(image_size=8, d_layers=2)


def test_training_lowers_l1_and_resumes_bit_exactly(tmp_path) -> None:
    data = blobs(n=64)
    cfg = TrainConfig(
        steps=6, params={"transform": "edges", "d_layers": 1}, lr_g=2e-3, **{**SMALL, "checkpoint_every": 3}
    )
    Trainer(cfg, tmp_path / "full", data=data, progress=False).fit()
    Trainer(cfg.replace(steps=3), tmp_path / "split", data=data, progress=False).fit()
    Trainer(cfg, tmp_path / "split", resume=True, data=data, progress=False).fit()
    for role in ("generator", "discriminator"):
        a = (tmp_path / "full" / "bundle" / f"{role}.safetensors").read_bytes()
        b = (tmp_path / "split" / "bundle" / f"{role}.safetensors").read_bytes()
        assert a == b
    bundle = load(tmp_path / "full" / "bundle")
    assert bundle.latent is None and bundle.extra["translation"] == {"transform": "edges", "in_channels": 1}
    with pytest.raises(BundleError, match="translates pictures"):
        bundle.sample(4)
    out = translate(bundle, make_input(bundle, data.x[:5]))
    assert out.shape == (5, 1, 8, 8)


def test_l1_only_exports_no_discriminator_and_learns(tmp_path) -> None:
    data = blobs(n=64)
    cfg = TrainConfig(
        steps=30, params={"transform": "blur", "adversarial": False, "d_layers": 1}, lr_g=3e-3, **SMALL
    )
    Trainer(cfg, tmp_path, data=data, progress=False).fit()
    bundle = load(tmp_path / "bundle")
    assert set(bundle.networks) == {"generator"}
    rows = [json.loads(line) for line in (tmp_path / "stats.jsonl").read_text().splitlines()]
    assert set(rows[0]) == {"step", "l1", "seconds"}  # no adversarial terms
    assert sum(r["l1"] for r in rows[-5:]) < 0.7 * sum(r["l1"] for r in rows[:5])
    with pytest.raises(ConfigError, match="unknown pix2pix setting"):
        Trainer(
            TrainConfig(steps=1, params={"lambda": 3}, **SMALL), tmp_path / "x", data=data, progress=False
        )


def _translator() -> Bundle:
    torch.manual_seed(0)
    g = UNetGenerator(Pix2PixConfig(image_size=16, width=4)).eval()
    return Bundle(
        {"generator": g},
        DataSpec([1, 16, 16], dataset="blobs"),
        None,
        extra={"translation": {"transform": "edges", "in_channels": 1}},
        name="p2p",
    )


def test_a_bend_on_the_translator_changes_its_output(tmp_path, cli) -> None:
    bundle = _translator()
    source = edges(torch.rand(3, 1, 16, 16) * 2 - 1)
    plain = translate(bundle, source)
    bent = bend_bundle(bundle, [{"layer": "down1", "transform": "multiply", "params": {"factor": 3.0}}])
    changed = translate(bent, source)
    assert not torch.allclose(plain, changed, atol=1e-4)
    assert torch.equal(translate(bundle, source), plain)  # the original is untouched
    saved = bundle.save(tmp_path / "p2p")
    code, _, err = cli("bend", saved, "--bend", "down1 multiply factor=3", "--out", tmp_path / "bent")
    assert code == 0, err
    assert torch.allclose(translate(load(tmp_path / "bent"), source), changed)


def test_cli_translate_and_its_bad_input(tmp_path, cli) -> None:
    from PIL import Image

    saved = _translator().save(tmp_path / "p2p")
    pic = tmp_path / "sketch.png"
    Image.new("RGB", (50, 40), "white").save(pic)
    out = tmp_path / "out.png"
    code, _, err = cli("translate", saved, pic, "--out", out)
    assert code == 0, err
    assert Image.open(out).size[0] > Image.open(out).size[1]  # input | output side by side
    code, _, err = cli("translate", saved, pic, "--out", out, "--as-target", "--overwrite")
    assert code == 0, err
    junk = tmp_path / "junk.png"
    junk.write_text("no")
    for args, words in [
        (("fashion-gan", pic, "--out", tmp_path / "a.png"), "not a translation model"),
        ((saved, junk, "--out", tmp_path / "b.png"), "not a picture"),
        ((saved, pic, "--out", out), "--overwrite"),
        ((saved, pic, "--out", tmp_path / "c.jpg"), ".png"),
    ]:
        code, _, err = cli("translate", *args)
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and words in lines[0], err
    assert not (tmp_path / "a.png").exists() and not (tmp_path / "b.png").exists()


def _write_pairs(root, n: int = 20, lonely: bool = False) -> None:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    (root / "A").mkdir(parents=True)
    (root / "B").mkdir()
    for i in range(n):
        target = (rng.random((12, 12)) * 255).astype(np.uint8)
        Image.fromarray(target).save(root / "B" / f"{i:03d}.png")
        Image.fromarray(255 - target).save(
            root / "A" / f"{i:03d}.jpg" if i == 0 else root / "A" / f"{i:03d}.png"
        )
    if lonely:
        Image.fromarray(target).save(root / "B" / "extra.png")


def test_paired_folders_train_a_translator_of_the_target_shape(tmp_path) -> None:
    from swerve.data import load_dataset

    _write_pairs(tmp_path / "pairs")
    data = load_dataset(f"pairs:{tmp_path / 'pairs'}", image_size=8)
    assert data.x.shape == (20, 2, 8, 8)
    assert torch.allclose(data.x[1:, 1], -data.x[1:, 0], atol=0.02)  # A is the negative of B, side by side
    cfg = TrainConfig(
        steps=2, dataset=f"pairs:{tmp_path / 'pairs'}", image_size=8, params={"d_layers": 1}, **SMALL
    )
    Trainer(cfg, tmp_path / "run", progress=False).fit()
    bundle = load(tmp_path / "run" / "bundle")
    assert bundle.data.shape == [1, 8, 8] and bundle.extra["translation"]["transform"] == "paired"
    assert translate(bundle, data.x[:3, 1:]).shape == (3, 1, 8, 8)
    with pytest.raises(ConfigError, match="input picture, not a target"):
        make_input(bundle, data.x[:3, :1])
    with pytest.raises(ConfigError, match="carries its own inputs"):
        Trainer(cfg.replace(params={"transform": "edges", "d_layers": 1}), tmp_path / "r2", progress=False)


def test_paired_folders_without_partners_are_refused(tmp_path) -> None:
    from swerve.data import load_dataset
    from swerve.errors import DataError

    _write_pairs(tmp_path / "pairs", n=3, lonely=True)
    with pytest.raises(DataError, match="no partner, e.g. 'extra'"):
        load_dataset(f"pairs:{tmp_path / 'pairs'}", image_size=8)
    with pytest.raises(DataError, match="not a folder"):
        load_dataset(f"pairs:{tmp_path / 'nowhere'}", image_size=8)

"""The trainer: every architecture learns, resume is exact, Ctrl-C is clean, bad configs are refused."""

from __future__ import annotations

import json
import os
import signal

import pytest
import torch

import swerve
from swerve.data import load_dataset, ring_modes
from swerve.errors import ConfigError, SwerveError
from swerve.train import TrainConfig, Trainer
from swerve.train.config import lr_factor
from swerve.zoo.recipes import RECIPES
from tests.conftest import blobs

SMALL = dict(batch_size=32, width=8, latent_dim=8, log_every=1, sample_every=0, checkpoint_every=0, seed=1)


def _stats(run_dir) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "stats.jsonl").read_text().splitlines()]


def _mean(rows, key, first, last):
    return sum(r[key] for r in rows[first:last]) / (last - first)


@pytest.mark.parametrize(
    "changes",
    [
        dict(objective="ns", conditional=True),
        dict(objective="hinge", spectral_norm=True),
        dict(objective="wgan-gp", n_critic=2, ema=0.0),
    ],
    ids=["ns-conditional", "hinge-sn", "wgan-gp"],
)
def test_gan_discriminator_learns_to_separate(tmp_path, changes):
    cfg = TrainConfig(steps=30, lr_d=1e-3, **{**SMALL, **changes})
    Trainer(cfg, tmp_path, data=blobs(), progress=False).fit()
    rows = _stats(tmp_path)
    gap = [r["d_real"] - r["d_fake"] for r in rows]
    assert sum(gap[-5:]) / 5 > sum(gap[:3]) / 3 + 0.1
    bundle = swerve.load(tmp_path / "bundle", device="cpu")
    assert {"generator", "discriminator"} <= set(bundle.networks)


def test_mlp_gan_trains_on_points(tmp_path):
    data = load_dataset("gaussians25", n=2000)
    cfg = TrainConfig(
        dataset="gaussians25",
        arch="mlp",
        latent_dim=2,
        width=32,
        depth=2,
        objective="wgan-gp",
        gp_weight=0.1,
        n_critic=2,
        ema=0.0,
        steps=40,
        batch_size=64,
        log_every=1,
        sample_every=0,
        checkpoint_every=0,
        lr_d=1e-3,
    )
    Trainer(cfg, tmp_path, data=data, progress=False).fit()
    rows = _stats(tmp_path)
    assert (
        _mean(rows, "d_real", 35, 40) - _mean(rows, "d_fake", 35, 40) > rows[0]["d_real"] - rows[0]["d_fake"]
    )


def test_vae_loss_falls(tmp_path):
    cfg = TrainConfig(kind="vae", steps=40, lr_g=2e-3, **SMALL)
    Trainer(cfg, tmp_path, data=blobs(), progress=False).fit()
    rows = _stats(tmp_path)
    assert _mean(rows, "loss", 35, 40) < 0.7 * _mean(rows, "loss", 0, 5)
    bundle = swerve.load(tmp_path / "bundle", device="cpu")
    assert set(bundle.networks) == {"generator", "encoder"}


def test_classifier_learns(tmp_path):
    cfg = TrainConfig(kind="classifier", steps=40, lr_d=3e-3, **SMALL)
    Trainer(cfg, tmp_path, data=blobs(), progress=False).fit()
    rows = _stats(tmp_path)
    assert _mean(rows, "accuracy", 35, 40) > 0.9
    assert _mean(rows, "loss", 35, 40) < 0.5 * _mean(rows, "loss", 0, 3)


def test_resume_reproduces_the_uninterrupted_run(tmp_path):
    cfg = TrainConfig(steps=20, conditional=True, **{**SMALL, "checkpoint_every": 10})
    data = blobs()
    Trainer(cfg, tmp_path / "full", data=data, progress=False).fit()
    Trainer(cfg.replace(steps=10), tmp_path / "split", data=data, progress=False).fit()
    Trainer(cfg, tmp_path / "split", resume=True, data=data, progress=False).fit()
    assert _stats(tmp_path / "full") == [
        {**row, "seconds": full["seconds"]}
        for row, full in zip(_stats(tmp_path / "split"), _stats(tmp_path / "full"), strict=True)
    ]
    a = (tmp_path / "full" / "bundle" / "generator.safetensors").read_bytes()
    b = (tmp_path / "split" / "bundle" / "generator.safetensors").read_bytes()
    assert a == b


def test_ctrl_c_saves_and_resume_continues_exactly(tmp_path):
    cfg = TrainConfig(steps=16, kind="vae", **SMALL)
    data = blobs()
    Trainer(cfg, tmp_path / "full", data=data, progress=False).fit()

    def interrupt(record):
        if record["step"] == 7:
            os.kill(os.getpid(), signal.SIGINT)

    result = Trainer(cfg, tmp_path / "cut", data=data, progress=False, on_log=interrupt).fit()
    assert result.interrupted and result.step == 7
    resumed = Trainer(cfg, tmp_path / "cut", resume=True, data=data, progress=False).fit()
    assert not resumed.interrupted and resumed.step == 16
    full, cut = _stats(tmp_path / "full"), _stats(tmp_path / "cut")
    assert [r["loss"] for r in full] == [r["loss"] for r in cut]


def test_resume_refuses_a_changed_config(tmp_path):
    cfg = TrainConfig(steps=3, **SMALL)
    Trainer(cfg, tmp_path, data=blobs(), progress=False).fit()
    with pytest.raises(ConfigError, match="lr_g=0.0002, now 0.001"):
        Trainer(cfg.replace(lr_g=1e-3), tmp_path, resume=True, data=blobs(), progress=False)
    with pytest.raises(SwerveError, match="already holds a run"):
        Trainer(cfg, tmp_path, data=blobs(), progress=False)
    # more steps is allowed: that is what resuming is for
    assert Trainer(cfg.replace(steps=5), tmp_path, resume=True, data=blobs(), progress=False).fit().step == 5


def test_resume_without_a_checkpoint(tmp_path):
    with pytest.raises(SwerveError, match="nothing to resume"):
        Trainer(TrainConfig(**SMALL), tmp_path, resume=True, data=blobs(), progress=False)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("batch_size", -3, "batch_size must be a positive integer"),
        ("batch_size", "big", "batch_size must be an integer"),
        ("lr_g", 0, "lr_g must be positive"),
        ("objective", "wasserstein", "objective must be one of"),
        ("ema", 1.5, r"ema must be in \[0, 1\)"),
        ("betas", [0.5], "betas must be two numbers"),
        ("betas", [True, 0.9], "betas must be two numbers"),
        ("conditional", "yes", "conditional must be true or false"),
        ("classes", [1, -2], "classes must be a list"),
    ],
)
def test_bad_config_values(field, value, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig.from_dict({field: value})


def test_config_files(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("kind: vae\nsteps: 12\nlatent_dim: 4\n")
    assert TrainConfig.from_file(good).steps == 12
    typo = tmp_path / "typo.yaml"
    typo.write_text("stepz: 12\n")
    with pytest.raises(ConfigError, match="unknown config field"):
        TrainConfig.from_file(typo)
    broken = tmp_path / "broken.yaml"
    broken.write_text("steps: [1,\n")
    with pytest.raises(ConfigError, match="not valid"):
        TrainConfig.from_file(broken)
    with pytest.raises(ConfigError, match="does not exist"):
        TrainConfig.from_file(tmp_path / "missing.yaml")


def test_data_that_does_not_fit_the_model(tmp_path):
    points = load_dataset("ring", n=500)
    with pytest.raises(ConfigError, match="arch 'dcgan' models square images"):
        Trainer(TrainConfig(**SMALL), tmp_path, data=points, progress=False)
    with pytest.raises(ConfigError, match="arch 'mlp' models points"):
        Trainer(TrainConfig(arch="mlp", **SMALL), tmp_path, data=blobs(), progress=False)
    with pytest.raises(ConfigError, match="image_size 30 is not supported"):
        Trainer(TrainConfig(**SMALL), tmp_path, data=blobs(size=30), progress=False)
    assert not (tmp_path / "checkpoint").exists()


@pytest.mark.slow
def test_wgan_gp_recipe_covers_every_mode_of_the_ring(tmp_path):
    """The zoo's 2-D WGAN-GP recipe, trained from scratch for 200 steps on the 8-Gaussian ring, covers every
    mode: each holds at least 5% of the samples within 0.2 of its centre. (The 25 Gaussians need ~4,000 steps,
    minutes on a small machine; the shipped model made by the full recipe is checked in test_zoo.py.)"""
    cfg = RECIPES["gaussians25-wgangp"].replace(
        dataset="ring", steps=200, sample_every=0, checkpoint_every=0, log_every=0
    )
    Trainer(cfg, tmp_path, data=load_dataset("ring", n=20_000), progress=False).fit()
    x = swerve.load(tmp_path / "bundle", device="cpu").sample(4000, seed=0).x
    distance, nearest = torch.cdist(x, ring_modes()).min(dim=1)
    close = distance <= 0.2
    counts = torch.bincount(nearest[close], minlength=8)
    assert close.float().mean() > 0.5 and (counts >= 0.05 * len(x)).all(), counts.tolist()


def test_yaml_exponent_numbers_are_numbers(tmp_path):
    """PyYAML reads 1e-4 as a string; a config that says lr_g: 1e-4 still means the number."""
    path = tmp_path / "lr.yaml"
    path.write_text("lr_g: 1e-4\nlr_d: 2.5e-4\n")
    cfg = TrainConfig.from_file(path)
    assert cfg.lr_g == 1e-4 and cfg.lr_d == 2.5e-4
    with pytest.raises(ConfigError, match="lr_g must be a number"):
        TrainConfig.from_dict({"lr_g": "fast"})


def test_a_kill_between_the_two_renames_keeps_the_previous_checkpoint(tmp_path):
    """Replacing a checkpoint is two renames; a run killed between them still resumes from the old one."""
    cfg = TrainConfig(steps=4, **{**SMALL, "checkpoint_every": 2})
    Trainer(cfg, tmp_path, data=blobs(), progress=False).fit()
    (tmp_path / "checkpoint").rename(tmp_path / ".checkpoint.old")
    resumed = Trainer(cfg.replace(steps=6), tmp_path, resume=True, data=blobs(), progress=False)
    assert resumed.step == 4
    assert resumed.fit().step == 6


def test_learning_rates_decay_linearly_to_zero_and_resume_exactly(tmp_path):
    cfg = TrainConfig(steps=20, lr_decay_start=10, conditional=True, **{**SMALL, "checkpoint_every": 5})
    assert [lr_factor(cfg, s) for s in (0, 9, 10, 15, 19)] == [1.0, 1.0, 1.0, 0.5, 0.1]
    data = blobs()
    seen: list[float] = []
    full = Trainer(cfg, tmp_path / "full", data=data, progress=False)
    full.on_log = lambda record: seen.append(full.task.optimizers["generator"].param_groups[0]["lr"])
    full.fit()
    # the rate each step trained with (step i logs after it): 2e-4 to step 10, then down to 2e-5
    assert seen[:11] == pytest.approx([2e-4] * 11) and seen[15] == pytest.approx(1e-4)
    assert seen[-1] == pytest.approx(2e-5)
    assert all(a >= b for a, b in zip(seen, seen[1:], strict=False))

    # interrupted (Ctrl-C) mid-decay and resumed: the same weights, byte for byte
    def interrupt(record):
        if record["step"] == 15:
            os.kill(os.getpid(), signal.SIGINT)

    assert Trainer(cfg, tmp_path / "split", data=data, progress=False, on_log=interrupt).fit().step == 15
    Trainer(cfg, tmp_path / "split", resume=True, data=data, progress=False).fit()
    a = (tmp_path / "full" / "bundle" / "generator.safetensors").read_bytes()
    assert a == (tmp_path / "split" / "bundle" / "generator.safetensors").read_bytes()


def test_a_decay_may_be_added_on_resume_only_where_it_has_not_begun(tmp_path):
    data = blobs()
    cfg = TrainConfig(steps=20, lr_decay_start=10, conditional=True, **{**SMALL, "checkpoint_every": 5})
    Trainer(cfg, tmp_path / "full", data=data, progress=False).fit()
    # a constant-rate run of 10 steps, continued with the decay: the run above, byte for byte
    Trainer(cfg.replace(steps=10, lr_decay_start=None), tmp_path / "late", data=data, progress=False).fit()
    Trainer(cfg, tmp_path / "late", resume=True, data=data, progress=False).fit()
    a = (tmp_path / "full" / "bundle" / "generator.safetensors").read_bytes()
    assert a == (tmp_path / "late" / "bundle" / "generator.safetensors").read_bytes()
    # a decay that would have changed steps already taken is refused
    with pytest.raises(ConfigError, match="lr_decay_start"):
        Trainer(
            cfg.replace(steps=30, lr_decay_start=5), tmp_path / "late", resume=True, data=data, progress=False
        )
    with pytest.raises(ConfigError, match="lr_decay_start"):
        TrainConfig(steps=10, lr_decay_start=10)

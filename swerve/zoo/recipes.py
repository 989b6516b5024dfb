"""The recipes that build the zoo: one TrainConfig per shipped model.

``swerve zoo build NAME`` trains a recipe from scratch on the CPU and writes the bundle into the package (or
``--out``); the recipe is stored inside the bundle's config, so every shipped model says how it was made.
"""

from __future__ import annotations

import os
from typing import Any

from swerve.errors import ConfigError
from swerve.train.config import TrainConfig

# 2-D WGAN-GP, after the WGAN-GP toy protocol (critic iterations, penalty weight 0.1, batch 256, Adam betas
# (0.5, 0.9)) but with 128-unit ReLU layers and a 10x learning rate, so it converges in minutes on a CPU.
_TOY = dict(
    kind="gan",
    arch="mlp",
    latent_dim=2,
    width=128,
    d_width=128,
    depth=3,
    objective="wgan-gp",
    gp_weight=0.1,
    n_critic=5,
    lr_g=1e-3,
    lr_d=1e-3,
    betas=[0.5, 0.9],
    batch_size=256,
    ema=0.0,
    sample_every=1000,
    checkpoint_every=1000,
)

# The inspiring-set models (swerve.diverge.inspiring, .can): trained without Sandal (5) and Sneaker (7), so a
# classifier that knows all ten classes can count how many of their samples fall in the classes never shown.
_HELD_OUT_TRAINING = [0, 1, 2, 3, 4, 6, 8, 9]
_HELD_OUT = dict(
    dataset="fashion-mnist", classes=_HELD_OUT_TRAINING, latent_dim=64, width=32, steps=1500, ema=0.999
)

# The colour zoo: emoji at 48x48 (swerve.data.emoji), conditional on the 9 groups of emoji-test.txt. The GAN
# is sized to train in under 2.5 h on one busy CPU thread: a narrow DCGAN (a FastGAN-style step costs about
# 2.4x more: benchmarks/small_data.py --variants diffaugment,fastgan, docs/benchmarks.md), DiffAugment on
# everything D sees (Zhao et al. 2020: 3,324 training images is small data) and an EMA generator.
_EMOJI = dict(dataset="emoji", image_size=48)
_EMOJI_GAN = dict(
    **_EMOJI,
    conditional=True,
    arch="dcgan",
    latent_dim=64,
    width=16,
    batch_size=32,
    augment="diffaugment",
    ema=0.999,
    log_every=25,
    sample_every=250,
    checkpoint_every=100,
)

# Character-level WGAN-GP (Gulrajani et al. 2017, language model: Adam betas (0.5, 0.9), penalty weight 10),
# narrower and shallower than the paper's (512 wide, 5 blocks, 10 critic steps) and with a higher learning
# rate, so it trains in about 15 minutes on one shared CPU thread (621 steps were what 13.5 minutes gave).
_TEXT = dict(
    kind="gan",
    arch="charcnn",
    objective="wgan-gp",
    gp_weight=10.0,
    n_critic=5,
    latent_dim=64,
    lr_g=5e-4,
    lr_d=5e-4,
    betas=[0.5, 0.9],
    batch_size=64,
    ema=0.0,
    sample_every=100,
    checkpoint_every=200,
)

# 32-character sentences of the fortunes: 2 critic steps per G step (5 cost 1.5x the time per step in a
# 40-step trial) and a 2x learning rate, so the model reads as words (common short words, spaces, word-like
# runs) after the 30 minutes it was given on one shared CPU thread (at load 7-10).
_FORTUNES = dict(
    _TEXT,
    width=64,
    depth=2,
    n_critic=2,
    lr_g=1e-3,
    lr_d=1e-3,
    log_every=50,
    sample_every=100,
    checkpoint_every=100,
)

RECIPES: dict[str, TrainConfig] = {
    "fashion-gan": TrainConfig(
        name="fashion-gan",
        dataset="fashion-mnist",
        conditional=True,
        latent_dim=64,
        width=32,
        objective="ns",
        steps=4000,
        batch_size=64,
        ema=0.999,
    ),
    "fashion-vae": TrainConfig(
        name="fashion-vae",
        kind="vae",
        dataset="fashion-mnist",
        latent_dim=16,
        width=32,
        vae_sigma=0.3,
        steps=4000,
        batch_size=64,
        lr_g=1e-3,
    ),
    "fashion-classifier": TrainConfig(
        name="fashion-classifier",
        kind="classifier",
        dataset="fashion-mnist",
        width=32,
        steps=1500,
        batch_size=128,
        lr_d=1e-3,
        sample_every=0,
    ),
    "gaussians25-wgangp": TrainConfig(name="gaussians25-wgangp", dataset="gaussians25", steps=5000, **_TOY),
    "swissroll-wgangp": TrainConfig(name="swissroll-wgangp", dataset="swissroll", steps=5000, **_TOY),
    "digits-gan": TrainConfig(
        name="digits-gan",
        dataset="digits",
        conditional=True,
        latent_dim=32,
        width=32,
        steps=3000,
        batch_size=64,
    ),
    "fashion-heldout-gan": TrainConfig(name="fashion-heldout-gan", **_HELD_OUT),
    # The same data, size and steps as fashion-heldout-gan, so the two compare like for like.
    "fashion-heldout-can": TrainConfig(
        name="fashion-heldout-can",
        kind="can",
        params={"ambiguity_weight": 1.0, "ambiguity": "paper"},
        **_HELD_OUT,
    ),
    # Digits that are not (swerve.diverge.digits_not), on Fashion-MNIST: a winner-take-all sparse autoencoder.
    "fashion-wta-ae": TrainConfig(
        name="fashion-wta-ae",
        kind="sparse-ae",
        dataset="fashion-mnist",
        params={"binarize": True},
        width=32,
        depth=2,
        steps=400,
        batch_size=32,
        lr_g=1e-3,
        ema=0.0,
        sample_every=0,
    ),
    # Training without data (swerve.diverge.nodata): the reference re-run's settings, at 28x28 grey.
    "nodata-gan": TrainConfig(
        name="nodata-gan",
        kind="nodata",
        dataset="none",
        image_size=28,
        channels=1,
        latent_dim=64,
        width=32,
        lr_g=0.01,
        lr_d=0.01,
        betas=[0.0, 0.99],
        batch_size=10,
        steps=1500,
        ema=0.0,
        params={"variance_weight": 1.0, "variant": "adversarial"},
    ),
    "emoji-gan": TrainConfig(name="emoji-gan", steps=10000, **_EMOJI_GAN),
    # The feature space of the colour metrics (FD, precision/recall, class agreement) for the emoji models.
    "emoji-classifier": TrainConfig(
        name="emoji-classifier",
        kind="classifier",
        **_EMOJI,
        width=16,
        steps=500,
        batch_size=64,
        lr_d=1e-3,
        sample_every=0,
        checkpoint_every=100,
    ),
    # pix2pix (swerve.train.pix2pix): Fashion-MNIST's Sobel edges -> the grey picture, at 32 x 32.
    "fashion-edges2grey": TrainConfig(
        name="fashion-edges2grey",
        kind="pix2pix",
        dataset="fashion-mnist",
        image_size=32,
        width=16,
        steps=800,
        batch_size=32,
        ema=0.0,
        sample_every=0,
        checkpoint_every=200,
        params={"transform": "edges", "max_width": 128},  # 128: the zoo stays small
    ),
    # pix2pix on the emoji (swerve.data.emoji): their line art (thresholded Sobel edges, dark on white) -> the
    # colour emoji, at 64 x 64. Steps from a timing run (40 steps: 0.3 s/step at load ~2); the shipped build
    # took 27 min on one CPU thread at load ~10: 1,533 steps in 17 min, then resumed (bit-exact) for the rest;
    # an uninterrupted `swerve zoo build` remade the same weights, byte for byte, in 31 min at load ~12.
    "emoji-lineart2colour": TrainConfig(
        name="emoji-lineart2colour",
        kind="pix2pix",
        dataset="emoji",
        image_size=64,
        width=16,
        steps=3000,
        batch_size=16,
        ema=0.0,
        log_every=25,
        sample_every=250,
        checkpoint_every=100,
        params={"transform": "lineart", "max_width": 128},
    ),
    "words-wgangp": TrainConfig(name="words-wgangp", dataset="words", width=64, depth=2, steps=621, **_TEXT),
    "fortunes-wgangp": TrainConfig(name="fortunes-wgangp", dataset="fortunes", steps=1643, **_FORTUNES),
}

# Zoo models made by fine-tuning another (swerve.diverge.finetune): name -> (base, FinetuneConfig values).
# emoji-gan-b is emoji-gan trained on, for a short while, on the Smileys & Emotion group alone (cross-domain
# fine-tuning): it shares emoji-gan's architecture and weight basin, so the two blend out of the box.
# 60 steps: at 200 its D overfits the ~150 smileys (FD 958, 32% of samples near-copies); 120 gave FD 528.
FINETUNED: dict[str, tuple[str, dict[str, Any]]] = {
    "emoji-gan-b": (
        "emoji-gan",
        dict(
            method="cross-domain",
            name="emoji-gan-b",
            dataset="emoji",
            classes=[0],
            steps=60,
            batch_size=16,
            trail_every=50,
            ema=0.99,
            measure_quality=False,
        ),
    ),
}


def zoo_recipes() -> list[str]:
    """Every model the zoo can build: trained recipes and fine-tuned ones."""
    return sorted({*RECIPES, *FINETUNED})


def train_config(
    preset: str | None, path: str | os.PathLike | None, overrides: dict[str, Any] | None = None
) -> TrainConfig:
    """The config a training command runs: a recipe by name (``preset``) or a config file (exactly one of
    them), with ``overrides`` on top."""
    if (path is None) == (preset is None):
        raise ConfigError("give a config file or --preset NAME (one of them)")
    if preset is not None:
        if preset not in RECIPES:
            raise ConfigError(f"no preset {preset!r}; presets: {', '.join(RECIPES)}")
        values = RECIPES[preset].to_dict()
    else:
        values = TrainConfig.from_file(path).to_dict()
    values.update(overrides or {})
    return TrainConfig.from_dict(values)

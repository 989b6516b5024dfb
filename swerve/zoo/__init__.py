"""The zoo: small models swerve ships, each built by ``swerve zoo build NAME`` from a recipe in recipes.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

BUNDLES = Path(__file__).parent / "bundles"

# One line per recipe for `swerve zoo list`; a model without one is described from its config.
DESCRIPTIONS = {
    "fashion-gan": "class-conditional DCGAN on Fashion-MNIST (projection D), keeps its discriminator",
    "fashion-vae": "convolutional VAE on Fashion-MNIST, 16-d latent",
    "fashion-classifier": "the domain classifier; its features are the space metrics use",
    "gaussians25-wgangp": "2-D WGAN-GP on the 25 Gaussians",
    "swissroll-wgangp": "2-D WGAN-GP on the Swiss roll",
    "digits-gan": "class-conditional DCGAN on scikit-learn's 8x8 digits",
    "fashion-heldout-gan": "DCGAN trained without Sandal and Sneaker (held-out classes)",
    "fashion-heldout-can": "creative adversarial network on the same eight classes",
    "fashion-wta-ae": "winner-take-all sparse autoencoder, for Digits that are not",
    "nodata-gan": "two generators and a discriminator trained without data",
    "emoji-gan": "class-conditional DCGAN on the 9 emoji groups, 48x48 colour, DiffAugment",
    "emoji-gan-b": "emoji-gan fine-tuned on Smileys & Emotion: a partner to blend with",
    "emoji-classifier": "the domain classifier for emoji; the feature space of the colour metrics",
    "fashion-edges2grey": "pix2pix: Sobel edges (or a sketch) to a 32x32 Fashion-MNIST picture",
    "words-wgangp": "character-level WGAN-GP on dictionary words (text)",
}


def zoo_names() -> list[str]:
    """Names of the shipped bundles."""
    if not BUNDLES.is_dir():
        return []
    return sorted(p.name for p in BUNDLES.iterdir() if (p / "config.json").is_file())


def zoo_path(name: str) -> Path | None:
    """The directory of zoo model ``name``, or None if swerve ships no model of that name."""
    if "/" in name or name.startswith("."):
        return None
    path = BUNDLES / name
    return path if (path / "config.json").is_file() else None


def read_config(name: str) -> dict[str, Any] | None:
    """The ``config.json`` of zoo model ``name`` as plain JSON (nothing built, no torch), or None."""
    path = zoo_path(name)
    return json.loads((path / "config.json").read_text()) if path else None


def describe(name: str, config: dict[str, Any] | None = None) -> str:
    """One line saying what zoo model ``name`` is: its own description, else what its config records."""
    if name in DESCRIPTIONS:
        return DESCRIPTIONS[name]
    config = config if config is not None else read_config(name)
    recipe = ((config or {}).get("training") or {}).get("config") or {}
    kind, dataset = (
        recipe.get("kind"),
        recipe.get("dataset") or ((config or {}).get("data") or {}).get("dataset"),
    )
    return (
        " ".join(part for part in (kind, "on" if kind and dataset else "", dataset) if part)
        or "(no description)"
    )

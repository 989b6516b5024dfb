"""Novelty from an inspiring set: train on some classes, count what lands in the others (Cherti, Kégl &
Kazakçı, "Out-of-class novelty generation", ICTAI 2017).

A model sees only the training classes; a classifier that knows *all* classes then says how many of the
model's samples it would put in the classes the model never saw. The metrics (count at several θ, max,
objectness) are :func:`swerve.measure.out_of_class`; this module trains such a model and runs the same
harness over every method's samples, so a GAN, a CAN, a novelty search and real images are judged alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from swerve.bundle import Bundle
from swerve.errors import ConfigError
from swerve.measure import class_probabilities, out_of_class
from swerve.measure.novelty import THETAS
from swerve.train import TrainConfig, Trainer

# Sandal and Sneaker: the classes the zoo's fashion-heldout-gan and fashion-heldout-can never saw.
FASHION_HELD_OUT = (5, 7)


def training_classes(num_classes: int, held_out: Sequence[int]) -> list[int]:
    """The classes a held-out model trains on: all but ``held_out`` (which must be valid and not all)."""
    held = sorted(set(held_out))
    if not held or any(not 0 <= c < num_classes for c in held):
        raise ConfigError(f"held-out classes must be ids in 0..{num_classes - 1}, got {list(held_out)}")
    kept = [c for c in range(num_classes) if c not in held]
    if len(kept) < 2:
        raise ConfigError("hold out fewer classes: at least two must remain to train on")
    return kept


def train_held_out(
    config: TrainConfig,
    held_out: Sequence[int],
    num_classes: int,
    run_dir: str | Path,
    resume: bool = False,
    progress: bool = True,
) -> Bundle:
    """Train ``config`` (a GAN, a CAN, ...) on all classes but ``held_out``; resumable like any run."""
    cfg = config.replace(classes=training_classes(num_classes, held_out))
    trainer = Trainer(cfg, run_dir, resume=resume, progress=progress)
    result = trainer.fit()
    bundle = trainer.export()
    bundle.record("diverge-held-out", held_out=sorted(held_out), kind=cfg.kind, steps=result.step)
    bundle.training["interrupted"] = result.interrupted
    bundle.save(Path(run_dir) / "bundle")
    return bundle


def out_of_class_scores(
    samples: torch.Tensor, classifier: nn.Module, held_out: Sequence[int], thetas: Sequence[float] = THETAS
) -> dict[str, float]:
    """Out-of-class count@θ, max and objectness of ``samples`` under ``classifier``."""
    return out_of_class(class_probabilities(classifier, samples), held_out, thetas)


def held_out_harness(
    methods: dict[str, torch.Tensor],
    classifier: nn.Module,
    held_out: Sequence[int],
    thetas: Sequence[float] = THETAS,
) -> list[dict[str, Any]]:
    """One row per method (name -> samples): its out-of-class scores, computed identically for each."""
    if not methods:
        raise ConfigError("the harness needs at least one method's samples")
    rows = []
    for name, samples in methods.items():
        if len(samples) == 0:
            raise ConfigError(f"method {name!r} has no samples to judge")
        rows.append(
            {"method": name, "n": len(samples), **out_of_class_scores(samples, classifier, held_out, thetas)}
        )
    return rows

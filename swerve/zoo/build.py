"""Build a zoo model: train its recipe, measure it, and write the bundle."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from swerve.bundle import Bundle, check_bundle_target
from swerve.errors import ConfigError
from swerve.measure import class_agreement
from swerve.train import TrainConfig, Trainer
from swerve.zoo.recipes import RECIPES


def build(
    name: str,
    target: Path,
    run_dir: Path,
    resume: bool = False,
    progress: bool = True,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Train recipe ``name`` in ``run_dir`` and save its bundle at ``target``; return a summary.

    An existing bundle at ``target`` is replaced only with ``overwrite`` (anything else never)."""
    if name not in RECIPES:
        raise ConfigError(f"no zoo recipe {name!r}; recipes: {', '.join(RECIPES)}")
    check_bundle_target(target, overwrite)  # before training, not after it
    trainer = recipe_trainer(RECIPES[name], run_dir, resume=resume, progress=progress)
    result = trainer.fit()
    summary: dict[str, Any] = {"name": name, "step": result.step, "interrupted": result.interrupted}
    if result.interrupted:
        return summary
    bundle = trainer.export()
    if "classifier" in bundle.networks:
        bundle.training["test_accuracy"] = test_accuracy(bundle)
        summary["test_accuracy"] = bundle.training["test_accuracy"]
    bundle.save(target, overwrite)
    summary.update(bundle=str(target), stats=result.last_stats)
    return summary


def recipe_trainer(
    config: TrainConfig,
    run_dir: Path,
    resume: bool = False,
    progress: bool = True,
    on_log: Callable[[dict[str, Any]], None] | None = None,
) -> Trainer:
    """The trainer for a recipe (or a variation of one); no-data runs get a stand-in data set that only
    carries the images' shape."""
    data = None
    if config.kind == "nodata":
        from swerve.diverge.nodata import blank_data

        data = blank_data(config)
    return Trainer(config, run_dir, resume=resume, data=data, progress=progress, on_log=on_log)


def test_accuracy(bundle: Bundle) -> float:
    """Accuracy of the bundle's classifier on its dataset's test split."""
    from swerve.data import load_dataset

    test = load_dataset(bundle.data.dataset, split="test")
    return class_agreement(bundle.classifier, test.x, test.labels)

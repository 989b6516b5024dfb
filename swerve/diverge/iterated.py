"""Iterated learning, after *Datasets That Are Not* (Wu, Kastner, Cooijmans, Huang & Courville, NeurIPS 2022
ML4CD workshop): a model's own samples, optionally filtered for novelty, join its training set, and it is
trained again; round after round the scope of what it makes can widen.

The paper has no public code, so the choices are ours and exposed: ``rounds``; ``samples_per_round``;
``keep`` (the fraction of each round's samples kept, the most novel first: mean distance to their 3 nearest
training images in the extractor's features; 1 keeps all); ``steps_per_round``; and ``warm_start`` (each round
continues from the last round's weights, which is what makes it affordable on a CPU; off retrains from
scratch). Every round is measured with :func:`swerve.measure.novelty_quality` against real images, so the
scope of round r sits next to round 0, the model one started from. Each round is an ordinary trainer run in
``run_dir/round_r``: an interrupted round resumes, finished rounds are not run again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from swerve.bundle import Bundle, load
from swerve.data import Dataset
from swerve.errors import ConfigError
from swerve.measure import extract_features, knn_distance, novelty_quality, sparseness
from swerve.outputs import claim_folder
from swerve.train import TrainConfig, Trainer
from swerve.train.checkpoint import find_checkpoint
from swerve.utils import json_text, write_text_atomic


def novelty_filter(
    samples: torch.Tensor, data: torch.Tensor, extractor: nn.Module, keep: float, max_reference: int = 5000
) -> torch.Tensor:
    """Indices of the ``keep`` fraction of ``samples`` furthest (3-NN, in features) from ``data``."""
    if not 0 < keep <= 1:
        raise ConfigError(f"keep must lie in (0, 1], got {keep!r}")
    n_keep = max(1, round(keep * len(samples)))
    if n_keep == len(samples):
        return torch.arange(len(samples))
    reference = extract_features(extractor, data[:: max(1, len(data) // max_reference)])
    score = knn_distance(extract_features(extractor, samples), reference, k=3)
    return score.topk(n_keep).indices


def scope(
    bundle: Bundle, reference: torch.Tensor, extractor: nn.Module, n: int, seed: int
) -> dict[str, float]:
    """What a model makes, measured: novelty/quality against real images and the samples' own spread."""
    x = bundle.sample(n, seed=seed).x
    values = dict(novelty_quality(x, reference, extractor, seed=seed).values)
    values["sparseness"] = sparseness(extract_features(extractor, x))
    return values


def iterated_learning(
    bundle: Bundle,
    data: Dataset,
    run_dir: str | Path,
    extractor: nn.Module,
    reference: torch.Tensor,
    rounds: int = 3,
    samples_per_round: int = 2000,
    keep: float = 0.5,
    steps_per_round: int = 500,
    warm_start: bool = True,
    measure_n: int = 1000,
    seed: int = 0,
    progress: bool = True,
    on_round: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[Bundle, list[dict[str, Any]]]:
    """Run the rounds on a trained GAN ``bundle`` (made by swerve's trainer) and its training ``data``.

    Returns the last round's bundle, with one history entry per round, and one row per round (round 0 is
    the starting model) of what was added and the scope measured. Stops early, returning the rounds done,
    when a round is interrupted (run again to resume it).
    """
    config_values = bundle.training.get("config")
    if not config_values or config_values.get("kind") != "gan":
        raise ConfigError(f"{bundle.name}: iterated learning needs a GAN trained by swerve (its config)")
    if rounds < 1 or samples_per_round < 1 or steps_per_round < 1:
        raise ConfigError("rounds, samples_per_round and steps_per_round must be positive")
    run_dir = claim_folder(run_dir, "run")  # a new folder or an earlier iterated run, never a user's
    settings = dict(
        rounds=rounds,
        samples_per_round=samples_per_round,
        keep=keep,
        steps_per_round=steps_per_round,
        warm_start=warm_start,
        seed=seed,
    )
    rows = [
        {"round": 0, "added": 0, "dataset": len(data), **scope(bundle, reference, extractor, measure_n, seed)}
    ]
    current, x, labels = bundle, data.x, data.labels
    for r in range(1, rounds + 1):
        made = current.sample(samples_per_round, seed=seed + r)
        kept = novelty_filter(made.x, x, extractor, keep)
        x = torch.cat([x, made.x[kept]])
        if labels is not None:
            sampled = made.labels if made.labels is not None else torch.zeros(len(made.x), dtype=torch.long)
            labels = torch.cat([labels, sampled[kept].cpu()])
        round_data = Dataset(x, labels, data.classes, f"{data.name}+round{r}")
        cfg = TrainConfig.from_dict(
            {
                **config_values,
                "name": f"{bundle.name}-round{r}",
                "steps": steps_per_round,
                "seed": seed + r,
                "sample_every": 0,
                "checkpoint_every": max(1, steps_per_round // 4),
                "log_every": min(50, steps_per_round),
            }
        )
        round_dir = run_dir / f"round_{r}"
        if (round_dir / "done.json").exists():
            current = load(round_dir / "bundle")
            rows.append(json.loads((round_dir / "done.json").read_text()))
            continue
        resume = find_checkpoint(round_dir / "checkpoint") is not None
        trainer = Trainer(cfg, round_dir, resume=resume, data=round_data, progress=progress)
        if warm_start and trainer.step == 0:
            _warm_start(trainer, current)
        result = trainer.fit()
        if result.interrupted:
            break
        new = trainer.export()
        new.name, new.history = bundle.name, list(current.history)
        new.record("diverge-iterate", round=r, added=len(kept), **settings)
        new.save(round_dir / "bundle")
        row = {
            "round": r,
            "added": len(kept),
            "dataset": len(x),
            **scope(new, reference, extractor, measure_n, seed),
        }
        write_text_atomic(round_dir / "done.json", json_text(row) + "\n")
        rows.append(row)
        if on_round is not None:
            on_round(row)
        current = new
    if current is not bundle:
        current.save(run_dir / "bundle")
    return current, rows


def _warm_start(trainer: Trainer, previous: Bundle) -> None:
    """Copy the previous round's generator (into G and its EMA) and discriminator into a fresh run."""
    nets = trainer.task.networks
    for role, source in (
        ("generator", "generator"),
        ("generator_ema", "generator"),
        ("discriminator", "discriminator"),
    ):
        if role in nets and source in previous.networks:
            nets[role].load_state_dict(previous.networks[source].state_dict())

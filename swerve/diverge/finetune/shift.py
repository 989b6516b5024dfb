"""Continual domain shift (Mal Som, *Strange Fruit*, after Broad et al. 2021, section 4).

Each round a fraction of the training set is replaced by the model's own samples, so the data drifts
towards what the model makes and the model towards its own quirks, until it collapses. A round's
replacement is a pure function of the seed, the round and the generator at that moment; it is saved beside
the run so that a resumed run replays the same data.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from swerve.utils import atomic_path, make_generator


def round_path(run_dir: Path, index: int) -> Path:
    return run_dir / "shift" / f"round_{index:04d}.safetensors"


@torch.no_grad()
def replace_with_samples(
    x: torch.Tensor,
    labels: torch.Tensor | None,
    generator: nn.Module,
    latent_sample,
    fraction: float,
    seed: int,
    index: int,
) -> dict[str, torch.Tensor]:
    """Round ``index``'s replacement: which rows of ``x`` to overwrite and the samples to put there.

    The rows are chosen at random (seeded by ``seed`` and ``index``); a conditional generator draws each
    replacement in the label of the row it replaces, so the class balance is kept.
    """
    gen = make_generator(seed * 7919 + index)
    n = max(1, round(fraction * len(x)))
    rows = torch.randperm(len(x), generator=gen)[:n]
    device = next(generator.parameters()).device
    z = latent_sample(n, gen).to(device)
    was = generator.training
    generator.eval()
    y = labels[rows].to(device) if labels is not None else None
    out = torch.cat([
        (generator(z[i : i + 256], y[i : i + 256]) if y is not None else generator(z[i : i + 256])).cpu()
        for i in range(0, n, 256)
    ])  # fmt: skip
    generator.train(was)
    return {"rows": rows, "x": out}


def save_round(run_dir: Path, index: int, replacement: dict[str, torch.Tensor]) -> None:
    with atomic_path(round_path(run_dir, index)) as tmp:
        save_file({k: v.contiguous() for k, v in replacement.items()}, tmp)


def load_round(run_dir: Path, index: int) -> dict[str, torch.Tensor]:
    return load_file(round_path(run_dir, index))


def apply_round(x: torch.Tensor, replacement: dict[str, torch.Tensor]) -> None:
    """Overwrite ``x`` in place with a round's replacement."""
    x[replacement["rows"].to(x.device)] = replacement["x"].to(x.device, x.dtype)

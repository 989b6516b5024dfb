"""Diverge while making, on Fashion-MNIST: every method's novelty and quality next to the zoo GAN's.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/novelty.py [--quick]

One row per method, 500 samples each (novelty search: its archive), all measured identically in the
fashion-classifier's features against 2,000 real test images (swerve.diverge.compare):
- novelty: mean distance to the 3 nearest real images, relative to real-to-real (1 = as far as real data is);
- spread: sparseness, each sample's mean distance to its 10 nearest fellow samples;
- precision / recall (k=3), Fréchet distance (FD) in those features;
- out-of-class count@0.9 and max for Sandal + Sneaker (5, 7), the classes the held-out models never saw;
- "real test images" are test images of the eight classes other than Sandal and Sneaker; the reference set
  is drawn from the same test split, so real rows may meet their own copies there;
- seconds: wall-clock of making the samples (training included for iterated learning), on a shared CPU.
Zoo models used: fashion-gan (the baseline), fashion-heldout-gan, fashion-heldout-can, fashion-wta-ae,
nodata-gan, fashion-classifier (build any with `swerve zoo build NAME`).
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import torch

import swerve
from swerve.data import load_dataset
from swerve.diverge.compare import measure_samples, reference_images
from swerve.diverge.digits_not import fixed_points, white_ratio
from swerve.diverge.inspiring import FASHION_HELD_OUT, out_of_class_scores
from swerve.diverge.iterated import iterated_learning
from swerve.diverge.novelty import search_bundle
from swerve.zoo import zoo_path

N = 500


def methods(quick: bool) -> dict[str, Callable[[], torch.Tensor]]:
    gan = swerve.load("fashion-gan")
    clf = swerve.load("fashion-classifier").classifier
    budget = 1000 if quick else 2500

    def search(method: str, cost_per_code: int, **quality: Any) -> torch.Tensor:
        """An archive of about N codes: each generation adds N * cost / budget of them."""
        per_gen = N * cost_per_code // budget
        archive = search_bundle(
            gan, clf, method=method, budget=budget, population=50, add_per_generation=per_gen, **quality
        )
        return archive.x

    out: dict[str, Callable[[], torch.Tensor]] = {
        "fashion-gan (baseline)": lambda: gan.sample(N, seed=0).x,
        "novelty search, evolution": lambda: search("evolution", 50),
        "novelty search, gradient": lambda: search("gradient", 100),
        "novelty search, evolution, D >= 0.3": lambda: search(
            "evolution", 50, quality="discriminator", quality_min=0.3
        ),
        "iterated learning, 2 rounds": lambda: iterated(gan, clf, quick),
    }
    if zoo_path("fashion-wta-ae"):
        ae = swerve.load("fashion-wta-ae").networks["autoencoder"]
        ratio = white_ratio(load_dataset("fashion-mnist").x)
        out["digits that are not (fixed points)"] = lambda: fixed_points(ae, N, ratio, max_iter=50).x
    for name, label in (
        ("fashion-heldout-gan", "GAN without Sandal, Sneaker"),
        ("fashion-heldout-can", "CAN without Sandal, Sneaker"),
        ("nodata-gan", "trained without data"),
    ):
        if zoo_path(name):
            bundle = swerve.load(name)
            out[label] = lambda b=bundle: b.sample(N, seed=0).x
    return out


def iterated(gan, clf, quick: bool) -> torch.Tensor:
    data = load_dataset("fashion-mnist")
    reference = reference_images("fashion-mnist", 1000, seed=1)
    with tempfile.TemporaryDirectory() as run_dir:
        final, _ = iterated_learning(
            gan,
            data,
            run_dir,
            clf,
            reference,
            rounds=2,
            samples_per_round=1000,
            keep=0.5,
            steps_per_round=30 if quick else 100,
            measure_n=200,
            progress=False,
        )
    return final.sample(N, seed=0).x


def main() -> None:
    quick = "--quick" in sys.argv
    clf = swerve.load("fashion-classifier").classifier
    reference = reference_images("fashion-mnist", 2000, seed=0)
    test = load_dataset("fashion-mnist", split="test")
    held = torch.isin(test.labels, torch.tensor(FASHION_HELD_OUT))
    rows = []
    real = {"real test images": test.x[~held][-N:], "real Sandal + Sneaker": test.x[held][-N:]}
    for name, make in [*((k, (lambda v=v: v)) for k, v in real.items()), *methods(quick).items()]:
        started = time.perf_counter()
        x = make()
        seconds = time.perf_counter() - started
        values = measure_samples(x, reference, clf)
        ooc = out_of_class_scores(x, clf, FASHION_HELD_OUT)
        rows.append((name, len(x), values, ooc, seconds))
        print(f"  done: {name} ({seconds:.1f}s)", file=sys.stderr)
    head = (
        f"{'method':<38} {'n':>4} {'novelty':>7} {'spread':>7} {'prec':>5} {'recall':>6} {'FD':>7} "
        f"{'ooc@.9':>6} {'ooc max':>7} {'seconds':>7}"
    )
    print(head)
    for name, n, v, o, s in rows:
        print(
            f"{name:<38} {n:>4} {v['novelty']:>7.2f} {v['sparseness']:>7.2f} {v['precision']:>5.2f} "
            f"{v['recall']:>6.2f} {v['fd']:>7.1f} {o['count@0.9']:>6.3f} {o['max']:>7.3f} {s:>7.1f}"
        )


if __name__ == "__main__":
    main()

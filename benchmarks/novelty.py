"""Diverge while making, on Fashion-MNIST: every method's novelty and quality next to the zoo GAN's.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/novelty.py [--quick]

One row per method, measured identically in the fashion-classifier's features against 2,000 real test
images (swerve.diverge.compare):
- novelty: mean distance to the 3 nearest real images, relative to real-to-real (1 = as far as real data is);
- spread: sparseness, each sample's mean distance to its 10 nearest fellow samples;
- precision / recall (k=3), Fréchet distance (FD) in those features;
- out-of-class count@0.9 and max for Sandal + Sneaker (5, 7), shown only for models that never saw those
  classes (the held-out GAN and CAN, and the GAN trained without data), and for real Sandal + Sneaker images
  as the reference: a model trained on them makes them, so the count says nothing about its novelty there;
- "real test images" are test images of the eight classes other than Sandal and Sneaker; the reference set
  is drawn from the same test split, so real rows may meet their own copies there;
- seconds: wall-clock of making the samples (training included for iterated learning), on a shared CPU.
Rows: 500 samples each, except where a method's output has another size (n column). Novelty search keeps an
archive of about 500 codes from a budget of 2,500 generator evaluations (1,000 with --quick); its baseline
is random sampling at the same budget: the 500 most novel of 2,500 random samples of the GAN, novelty being
the search's own (mean distance to the 10 nearest others in the same features), with and without the
search's quality floor. "Digits that are not" is the method's output: the converged fixed points (from
1,000 noise images, at most 100 iterations) in the k-means clusters the classifier does not recognise.
Zoo models used: fashion-gan (the baseline), fashion-heldout-gan, fashion-heldout-can, fashion-wta-ae,
nodata-gan, fashion-classifier (build any with `swerve zoo build NAME`).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import torch

import swerve
from swerve.data import load_dataset
from swerve.diverge.compare import measure_samples, reference_images
from swerve.diverge.digits_not import digits_that_are_not, white_ratio
from swerve.diverge.inspiring import FASHION_HELD_OUT, out_of_class_scores
from swerve.diverge.iterated import iterated_learning
from swerve.diverge.novelty import discriminator_quality, feature_behaviour, search_bundle
from swerve.measure import novelty_scores
from swerve.zoo import zoo_path

N = 500
NOVELTY_K = 10  # the k of novelty search's own novelty (swerve.diverge.novelty), used by its baseline too
QUALITY_MIN = 0.3
# Rows whose samples come from a model that never saw Sandal or Sneaker (or are such real images).
UNSEEN = {"real Sandal + Sneaker", "GAN without Sandal, Sneaker", "CAN without Sandal, Sneaker"}
UNSEEN |= {"trained without data"}


def most_novel_of_random(gan, clf, budget: int, quality_min: float | None = None) -> torch.Tensor:
    """The N most novel of ``budget`` random samples (novelty as the search's, among those samples), only
    among samples whose discriminator quality reaches ``quality_min`` when it is given."""
    samples = gan.sample(budget, seed=1)
    behaviour = feature_behaviour(clf)
    with torch.no_grad():
        b = torch.cat([behaviour(part) for part in samples.x.split(500)])
        nov = novelty_scores(b, b, k=NOVELTY_K, exclude_self=True)
        if quality_min is not None:
            q = discriminator_quality(gan.discriminator)(samples.x, samples.labels)
            nov[q < quality_min] = -float("inf")
    top = nov.topk(min(N, int(torch.isfinite(nov).sum()))).indices
    return samples.x[top]


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
        f"random, {N} most novel of {budget}": lambda: most_novel_of_random(gan, clf, budget),
        "novelty search, evolution": lambda: search("evolution", 50),
        "novelty search, gradient": lambda: search("gradient", 100),
        f"random, most novel of {budget}, D >= {QUALITY_MIN}": lambda: most_novel_of_random(
            gan, clf, budget, QUALITY_MIN
        ),
        f"novelty search, evolution, D >= {QUALITY_MIN}": lambda: search(
            "evolution", 50, quality="discriminator", quality_min=QUALITY_MIN
        ),
        "iterated learning, 2 rounds": lambda: iterated(gan, clf, quick),
    }
    if zoo_path("fashion-wta-ae"):
        ae = swerve.load("fashion-wta-ae").networks["autoencoder"]
        ratio = white_ratio(load_dataset("fashion-mnist").x)
        out["digits that are not (novel clusters)"] = lambda: digits_that_are_not(
            ae, clf, ratio, n=2 * N, max_iter=100
        ).novel()
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
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="novelty-search budget 1,000 and shorter iterated learning"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    clf = swerve.load("fashion-classifier").classifier
    reference = reference_images("fashion-mnist", 2000, seed=0)
    test = load_dataset("fashion-mnist", split="test")
    held = torch.isin(test.labels, torch.tensor(FASHION_HELD_OUT))
    rows = []
    real = {"real test images": test.x[~held][-N:], "real Sandal + Sneaker": test.x[held][-N:]}
    for name, make in [*((k, (lambda v=v: v)) for k, v in real.items()), *methods(args.quick).items()]:
        started = time.perf_counter()
        x = make()
        seconds = time.perf_counter() - started
        if len(x) < 4:
            print(f"  {name}: only {len(x)} samples, too few to measure", file=sys.stderr)
            continue
        values = measure_samples(x, reference, clf)
        ooc = out_of_class_scores(x, clf, FASHION_HELD_OUT) if name in UNSEEN else None
        rows.append((name, len(x), values, ooc, seconds))
        print(f"  done: {name} ({seconds:.1f}s)", file=sys.stderr)
    head = (
        f"{'method':<42} {'n':>4} {'novelty':>7} {'spread':>7} {'prec':>5} {'recall':>6} {'FD':>7} "
        f"{'ooc@.9':>6} {'ooc max':>7} {'seconds':>7}"
    )
    print(head)
    for name, n, v, o, s in rows:
        ooc = f"{o['count@0.9']:>6.3f} {o['max']:>7.3f}" if o else f"{'-':>6} {'-':>7}"
        print(
            f"{name:<42} {n:>4} {v['novelty']:>7.2f} {v['sparseness']:>7.2f} {v['precision']:>5.2f} "
            f"{v['recall']:>6.2f} {v['fd']:>7.1f} {ooc} {s:>7.1f}"
        )


if __name__ == "__main__":
    main()

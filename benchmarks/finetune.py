"""Seconds per fine-tuning step on the zoo's fashion-gan for every method, and each trail's novelty path.

One run of each method from the same bundle, seed and batch size. A step's time excludes the trail entries
(their time is its own column: sampling the grid, the metrics, writing the files); domain shift's rounds of
replacing data are inside its steps. The path is the trail's metrics, measured in the features of the shipped
fashion-classifier against 256 real test images: novelty (k-NN distance to the data relative to real-to-real,
1 = as far as real data), precision (quality) and Fréchet distance. Run:

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/finetune.py [--steps 40] [--every 10] [--batch-size 16]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import swerve
from swerve.diverge.finetune import FinetuneConfig, FinetuneTrainer

METHODS = {
    "cross-domain": dict(dataset="digits"),  # the 8x8 digits, upsampled to 28x28
    "domain-shift": dict(dataset="fashion-mnist", classes=[5, 7, 9], shift_every=10, shift_fraction=0.2),
    "uncanny": dict(loss="inverted"),
    "guided": dict(scorer="fashion-classifier", target=[8], beta=0.5),  # towards "Bag", D as anchor
    "nada": dict(clip="tiny", source="clothes", text="a bag", adaptive_layers=2),  # random tiny CLIP
}


def run(method: str, args: argparse.Namespace) -> tuple[float, float, list[dict]]:
    cfg = FinetuneConfig(
        method=method, steps=args.steps, trail_every=args.every, batch_size=args.batch_size, seed=0,
        **METHODS[method],
    )  # fmt: skip
    bundle = swerve.load("fashion-gan", device="cpu")
    with tempfile.TemporaryDirectory() as tmp:
        trainer = FinetuneTrainer(bundle, cfg, tmp, progress=False)
        entry_times: list[float] = []
        save = trainer.save_preview

        def timed_save():
            start = time.perf_counter()
            out = save()
            entry_times.append(time.perf_counter() - start)
            return out

        trainer.save_preview = timed_save
        start = time.perf_counter()
        result = trainer.fit()
        total = time.perf_counter() - start
        entries = sum(entry_times)
        return (total - entries) / result.step, entries / max(1, len(entry_times)), result.trail.metrics()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()
    results = {m: run(m, args) for m in METHODS}
    print(f"fashion-gan, batch {args.batch_size}, {args.steps} steps, a trail entry every {args.every}\n")
    print(f"{'method':<14} {'s/step':>8} {'s/entry':>8}")
    for method, (per_step, per_entry, _) in results.items():
        print(f"{method:<14} {per_step:>8.3f} {per_entry:>8.3f}")
    print("\nnovelty / precision / Fréchet distance along each trail")
    steps = [m["step"] for m in next(iter(results.values()))[2]]
    print(f"{'method':<14} " + " ".join(f"{'step ' + str(s):>18}" for s in steps))
    for method, (_, _, path) in results.items():
        cells = [f"{m['novelty']:.2f}/{m['precision']:.2f}/{m['fd']:>5.0f}" for m in path]
        print(f"{method:<14} " + " ".join(f"{c:>18}" for c in cells))


if __name__ == "__main__":
    main()

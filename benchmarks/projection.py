"""Projecting held-out real pictures into the zoo's models: how well each remakes them, and at what cost.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/projection.py [--n 8] [--steps 200] [--restarts 4]

For the first ``n`` Fashion-MNIST test images (never seen in training), each model is asked to remake the
picture by: the best of 1,000 random latents from its prior (by pixel MSE; the class the domain classifier
guesses, for the conditional GAN), the VAE's encoder alone (its mean), and projection
(swerve.diverge.project: Adam on pixel MSE + 0.1 x feature distance, ``restarts`` starts). Reported per
method: pixel MSE and feature distance (squared distance of the unit-length domain-classifier features,
swerve's feature space), mean ± sd over the images, and seconds per image (CPU, one thread, shared machine).
An emoji GAN (another data set) is not measured here; the script says whether the zoo has one.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from swerve.bundle import load
from swerve.data import load_dataset
from swerve.diverge.project import Loss, best_random, feature_network, pick_label, project
from swerve.zoo import zoo_names


def stats(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.4f} ± {sd:.4f}"


def errors(loss: Loss, x: torch.Tensor) -> tuple[float, float]:
    with torch.no_grad():
        return float(loss.pixel(x)), float(loss.feature(x))


def run(
    name: str, images: torch.Tensor, steps: int, restarts: int
) -> list[tuple[str, dict[str, list[float]]]]:
    bundle = load(name)
    net, why = feature_network(bundle)
    if net is None:
        raise SystemExit(why)
    rows: dict[str, dict[str, list[float]]] = {}

    def add(method: str, x: torch.Tensor, seconds: float, loss: Loss) -> None:
        mse, feat = errors(loss, x)
        row = rows.setdefault(method, {"mse": [], "feature": [], "seconds": []})
        row["mse"].append(mse)
        row["feature"].append(feat)
        row["seconds"].append(seconds)

    for i, target in enumerate(images):
        target = target[None]
        loss = Loss(target, net, 0.1)
        label = pick_label(bundle, target, net, None)
        start = time.perf_counter()
        _, z = best_random(bundle, target, n=1000, seed=i, label=label)
        x = bundle.sample(1, z=z, labels=label).x
        add("best of 1,000 random", x, time.perf_counter() - start, loss)
        if "encoder" in bundle.networks:
            start = time.perf_counter()
            result = project(bundle, target, steps=0, restarts=1, space="encoder")
            add("encoder alone", result.x, time.perf_counter() - start, loss)
        start = time.perf_counter()
        result = project(bundle, target, steps=steps, restarts=restarts, seed=i)
        add(
            f"projection ({result.space}, {steps} steps x {restarts})",
            result.x,
            time.perf_counter() - start,
            loss,
        )
        print(f"  {name} image {i}: projection MSE {result.pixel_mse:.4f}", flush=True)
    return list(rows.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--restarts", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(1)
    images = load_dataset("fashion-mnist", split="test", n=args.n, progress=False).x
    models = ["fashion-gan", "fashion-vae"]
    emoji = [m for m in zoo_names() if m.startswith("emoji")]
    if not emoji:
        print("no emoji model in this zoo: measured on Fashion-MNIST only")
    print(f"{args.n} held-out Fashion-MNIST test images; mean ± sd over images")
    print("| model | method | pixel MSE | feature distance | s / image |\n|---|---|---|---|---|")
    lines = []
    for name in models:
        for method, row in run(name, images, args.steps, args.restarts):
            lines.append(
                f"| {name} | {method} | {stats(row['mse'])} | {stats(row['feature'])} | "
                f"{statistics.mean(row['seconds']):.2f} |"
            )
    print("\n".join(lines))


if __name__ == "__main__":
    main()

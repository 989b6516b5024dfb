"""Small-data GAN training: the same GAN on a few hundred emoji without augmentation, with DiffAugment
(Zhao et al. 2020) and with ADA (Karras et al. 2020), FD over training steps.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/small_data.py [--n 500] [--steps 1000] [--every 250]
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/small_data.py --n 0 --variants diffaugment,fastgan

The ``fastgan`` variant is the same recipe with the FastGAN-style pair (Liu et al. 2021; DiffAugment too), so
the second command is the architecture comparison behind the emoji-gan recipe: DCGAN against FastGAN on all
the training emoji (``--n 0``), FD at the same steps and the seconds each step costs.

The GAN is the emoji-gan recipe (swerve.zoo.recipes) trained on ``--n`` training emoji drawn with a fixed
seed; FD is measured in emoji-classifier's features (build it first: ``swerve zoo build emoji-classifier``)
between 450 EMA samples (50 per group) and the held-out emoji. The last line states the small-data gain as
the ratio FD(no augmentation) / FD(method) at the last step (> 1: the method helps). The papers report large
FID gains at this size after far longer training than a CPU run allows; short runs show the early trend.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

import swerve
from swerve.data import load_dataset
from swerve.measure import frechet_distance
from swerve.train import Trainer
from swerve.zoo import zoo_names
from swerve.zoo.recipes import RECIPES

VARIANTS = {
    "none": dict(augment=""),
    "diffaugment": dict(augment="diffaugment"),
    "ada": dict(augment="ada"),
    "fastgan": dict(augment="diffaugment", arch="fastgan"),
}


@torch.no_grad()
def fd_of(trainer: Trainer, classifier: torch.nn.Module, reference: torch.Tensor, k: int) -> float:
    g = trainer.task.export()["generator"].eval()
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(450, trainer.config.latent_dim, generator=gen)
    y = torch.arange(450) % k
    fake = torch.cat([g(z[i : i + 150], y[i : i + 150]) for i in range(0, 450, 150)])
    return frechet_distance(reference, classifier.features(fake))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="training emoji (0: all of them)")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--every", type=int, default=250, help="FD every this many steps")
    parser.add_argument("--variants", default="none,diffaugment,ada")
    parser.add_argument("--ada-kimg", type=float, default=20.0, help="ADA's speed (short runs need a fast p)")
    args = parser.parse_args()
    if "emoji-classifier" not in zoo_names():
        raise SystemExit("needs the emoji-classifier zoo model: swerve zoo build emoji-classifier")
    recipe = RECIPES["emoji-gan"]
    train = load_dataset("emoji", image_size=recipe.image_size, progress=False)
    test = load_dataset("emoji", image_size=recipe.image_size, split="test", progress=False)
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(0))
    subset = train.take(order[: args.n or None])
    classifier = swerve.load("emoji-classifier", device="cpu").classifier.eval()
    with torch.no_grad():
        reference = classifier.features(test.x)
    k = len(train.classes)
    table: dict[str, list[float]] = {}
    seconds: dict[str, float] = {}
    checkpoints = list(range(args.every, args.steps + 1, args.every))
    for name in args.variants.split(","):
        cfg = recipe.replace(
            name=f"small-{name}",
            log_every=0,
            sample_every=0,
            checkpoint_every=0,
            ada_kimg=args.ada_kimg,
            **VARIANTS[name],
        )
        run = Path(tempfile.mkdtemp(prefix=f"small-{name}-"))
        table[name], start = [], time.perf_counter()
        for i, step in enumerate(checkpoints):
            trainer = Trainer(cfg.replace(steps=step), run, resume=i > 0, data=subset, progress=False)
            trainer.fit()
            table[name].append(fd_of(trainer, classifier, reference, k))
            print(f"{name:<12} step {step:>5}  FD {table[name][-1]:8.2f}", flush=True)
        seconds[name] = time.perf_counter() - start
    sizes = f"{len(subset)} training emoji, 450 samples vs {len(test)} held-out"
    print(f"\nFD in emoji-classifier features, {sizes}")
    print(f"{'step':>6} " + " ".join(f"{n:>12}" for n in table))
    for i, step in enumerate(checkpoints):
        print(f"{step:>6} " + " ".join(f"{table[n][i]:>12.2f}" for n in table))
    print("seconds " + " ".join(f"{seconds[n]:>12.0f}" for n in table))
    rates = " ".join(f"{seconds[n] / args.steps:>12.2f}" for n in table)
    print(f"s/step  {rates}  (FD passes included)")
    if "none" in table:
        for name in table:
            if name != "none":
                gain = table["none"][-1] / table[name][-1]
                print(f"small-data gain of {name}: FD(none) / FD({name}) = {gain:.2f}")


if __name__ == "__main__":
    main()

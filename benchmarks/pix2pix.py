"""pix2pix against the L1-only U-Net (Isola et al. 2017's ablation: the adversarial loss sharpens), for a
zoo translation recipe: Fashion-MNIST edges -> picture at 32 x 32 (fashion-edges2grey, the default), or emoji
line art -> colour emoji at 64 x 64 (emoji-lineart2colour).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/pix2pix.py [--recipe NAME] [--steps 300] [--n 500]

Both models are trained here from the same config (the recipe's, with ``--steps``), differing only in
``adversarial``; the shipped zoo model (the recipe's full steps) is measured beside them when present.
On the first ``n`` held-out test pictures, each translates the inputs (made by the recipe's transform) back
to a picture: mean L1 to the target (pixels in [-1, 1]); Fréchet distance (FD) between translated and target
pictures in swerve's feature space (the data set's shipped domain classifier's unit-length features, pictures
resized to its size); the same FD for the inputs themselves, as a reference; inference milliseconds per
picture (batch 1, median of 50, CPU, one thread, shared machine); parameters and weight-file size of G.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from swerve.bundle import Bundle, load
from swerve.data import load_dataset
from swerve.data.pairs import pair_transform
from swerve.measure.features import DOMAIN_CLASSIFIERS, extract_features, get_extractor
from swerve.measure.fidelity import frechet_distance
from swerve.train.trainer import Trainer
from swerve.translate import make_input, translate
from swerve.zoo import zoo_path
from swerve.zoo.recipes import RECIPES


def features(x: torch.Tensor, dataset: str) -> torch.Tensor:
    ex = get_extractor(dataset)
    size = load(DOMAIN_CLASSIFIERS[dataset]).data.shape[-1]
    small = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return extract_features(ex.load(), small, normalise=ex.normalise)


def ms_per_picture(bundle: Bundle, source: torch.Tensor) -> float:
    times = []
    for i in range(50):
        start = time.perf_counter()
        translate(bundle, source[i : i + 1])
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def row(name: str, bundle: Bundle, source: torch.Tensor, target: torch.Tensor, real: torch.Tensor) -> str:
    out = translate(bundle, source).clamp(-1, 1)
    l1 = float((out - target).abs().mean())
    fd = frechet_distance(real, features(out, bundle.data.dataset))
    g = bundle.generator
    params = sum(p.numel() for p in g.parameters())
    size = sum(t.numel() * t.element_size() for t in g.state_dict().values()) / 2**20
    ms = ms_per_picture(bundle, source)
    return f"| {name} | {l1:.4f} | {fd:.3f} | {ms:.2f} | {params:,} | {size:.2f} MB |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--recipe", default="fashion-edges2grey", choices=["fashion-edges2grey", "emoji-lineart2colour"]
    )
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args()
    torch.set_num_threads(1)
    recipe = RECIPES[args.recipe]
    data, size = recipe.dataset, recipe.image_size
    train = load_dataset(data, image_size=size, progress=False)
    test = load_dataset(data, split="test", n=args.n, image_size=size, progress=False).x[: args.n]
    real = features(test, data)
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            for adversarial in (True, False):
                cfg = recipe.replace(
                    steps=args.steps,
                    seed=seed,
                    checkpoint_every=0,
                    params={**recipe.params, "adversarial": adversarial},
                )
                run = Path(tmp) / f"{adversarial}-{seed}"
                start = time.perf_counter()
                Trainer(cfg, run, data=train, progress=False).fit()
                minutes = (time.perf_counter() - start) / 60
                bundle = load(run / "bundle")
                source = make_input(bundle, test)
                name = f"{'pix2pix' if adversarial else 'L1 only'}, {args.steps} steps, seed {seed}"
                lines.append(row(f"{name} ({minutes:.1f} min)", bundle, source, test, real))
                print(lines[-1], flush=True)
    if zoo_path(args.recipe) is not None:
        bundle = load(args.recipe)
        name = f"zoo {args.recipe} (pix2pix, {recipe.steps} steps)"
        lines.append(row(name, bundle, make_input(bundle, test), test, real))
    inputs = pair_transform(recipe.params["transform"]).fn(test)
    inputs_fd = frechet_distance(real, features(inputs.expand(-1, test.shape[1], -1, -1), data))
    print(f"\n{len(test)} held-out test pictures; FD of the inputs themselves: {inputs_fd:.3f}")
    print("| model | L1 | FD | ms / picture | G parameters | G weights |\n|---|---|---|---|---|---|")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""The zoo's report card: one row per shipped model with the number that says it does its job.

    .venv/bin/python benchmarks/zoo_quality.py

- fashion-gan: how often the zoo classifier agrees with the class the GAN was asked for (1,000 samples);
  mean discriminator logit on held-out real images and on samples.
- fashion-vae: reconstruction MSE on 1,000 test images, against predicting the mean image.
- fashion-classifier: accuracy on the 10,000 test images.
- gaussians25 / swissroll: % high-quality samples and modes covered (see swerve.measure.toys), 5,000 samples.
- digits-gan: agreement of a nearest-class-mean classifier (pixel space) with the class asked for.
"""

from __future__ import annotations

import torch

import swerve
from swerve.data import load_dataset
from swerve.measure import class_agreement, gaussians25_scores, swissroll_scores
from swerve.zoo import BUNDLES, zoo_names


@torch.no_grad()
def card(name: str) -> str:
    bundle = swerve.load(name, device="cpu")
    if name == "fashion-gan":
        classifier = swerve.load("fashion-classifier", device="cpu").classifier
        s = bundle.sample(1000, seed=0)
        agree = class_agreement(classifier, s.x, s.labels)
        test = load_dataset("fashion-mnist", split="test")
        d = bundle.discriminator
        real, fake = d(test.x[:1000], test.labels[:1000]).mean().item(), d(s.x, s.labels).mean().item()
        agreement = f"classifier agrees with the class asked for: {100 * agree:.1f}%"
        return f"{agreement}; mean D logit {real:.2f} on real test images, {fake:.2f} on samples"
    if name == "fashion-vae":
        x = load_dataset("fashion-mnist", split="test").x[:1000]
        mse = ((bundle.generator(bundle.encoder(x)[0]) - x) ** 2).mean().item()
        base = ((x.mean(0, keepdim=True) - x) ** 2).mean().item()
        return f"reconstruction MSE {mse:.4f} (mean image: {base:.4f})"
    if name == "fashion-classifier":
        test = load_dataset("fashion-mnist", split="test")
        acc = class_agreement(bundle.classifier, test.x, test.labels)
        return f"test accuracy {100 * acc:.1f}%"
    if name.startswith("gaussians25"):
        s = gaussians25_scores(bundle.sample(5000, seed=0).x)
        return f"{s['% high quality']:.1f}% high quality, {s['modes covered']}/25 modes covered"
    if name.startswith("swissroll"):
        return f"{swissroll_scores(bundle.sample(5000, seed=0).x)['% high quality']:.1f}% high quality"
    if name == "digits-gan":
        real = load_dataset("digits")
        means = torch.stack([real.x[real.labels == c].mean(0).flatten() for c in range(10)])
        s = bundle.sample(1000, seed=0)
        agree = (torch.cdist(s.x.flatten(1), means).argmin(1) == s.labels).float().mean().item()
        return f"nearest-class-mean agrees with the class asked for: {100 * agree:.1f}%"
    return ""


def main() -> None:
    print(f"{'model':<20} {'steps':>6} {'size':>8}  result")
    for name in zoo_names():
        bundle = swerve.load(name, device="cpu")
        size = sum(f.stat().st_size for f in (BUNDLES / name).iterdir()) / 2**20
        print(f"{name:<20} {bundle.training['steps']:>6} {size:>6.1f}MB  {card(name)}")


if __name__ == "__main__":
    main()

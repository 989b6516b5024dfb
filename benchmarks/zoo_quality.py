"""The zoo's report card: one row per shipped model with the number that says it does its job.

    .venv/bin/python benchmarks/zoo_quality.py

- fashion-gan: how often the zoo classifier agrees with the class the GAN was asked for (1,000 samples);
  mean discriminator logit on held-out real images and on samples.
- fashion-vae: reconstruction MSE on 1,000 test images, against predicting the mean image.
- fashion-classifier: accuracy on the 10,000 test images.
- gaussians25 / swissroll: % high-quality samples and modes covered (see swerve.measure.toys), 5,000 samples.
- digits-gan: agreement of a nearest-class-mean classifier (pixel space) with the class asked for.
- emoji-gan, emoji-gan-b (colour): agreement of emoji-classifier with the group asked for (900 samples, 100
  per group); FD and precision/recall in emoji-classifier's features against the held-out emoji (whole
  skin-tone/hair variant groups held out, so no variant of a test emoji was trained on); memorisation: the
  share of samples closer (in pixels) to their nearest training image than the 5% closest held-out images
  are to theirs (about 5% or less when the model does not copy). A grid of samples beside their nearest
  training images is written to --grids (default runs/zoo_quality/NAME-nearest.png).
- emoji-classifier: accuracy on the held-out emoji.

A path to an emoji GAN bundle (a training run's `bundle`, a snapshot) gets the colour rows too, named by
its folder.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

import swerve
from swerve.data import load_dataset
from swerve.measure import (
    class_agreement,
    frechet_distance,
    gaussians25_scores,
    memorisation,
    nearest_rows,
    precision_recall,
    swissroll_scores,
)
from swerve.zoo import BUNDLES, zoo_names

GRIDS = Path("runs/zoo_quality")


def emoji_splits(size: int) -> tuple:
    """The emoji training and held-out splits at ``size``, checked to share no near-duplicate group."""
    train = load_dataset("emoji", image_size=size, progress=False)
    test = load_dataset("emoji", image_size=size, split="test", progress=False)
    shared = set(train.groups.tolist()) & set(test.groups.tolist())
    if shared:
        raise SystemExit(f"emoji splits share {len(shared)} variant groups; memorisation would be biased")
    return train, test


@torch.no_grad()
def colour_card(name: str, bundle) -> str:
    """The colour rows: class agreement, FD and precision/recall in emoji-classifier's features,
    memorisation in pixels, and the sample / nearest-training-image grid."""
    from swerve.look.grid import make_grid, save_image, upscale

    if "emoji-classifier" not in zoo_names():
        return "not measured: emoji-classifier (the feature space) is not built"
    classifier = swerve.load("emoji-classifier", device="cpu").classifier.eval()
    train, test = emoji_splits(bundle.data.shape[-1])
    s = bundle.sample(900, seed=0)
    agree = class_agreement(classifier, s.x, s.labels)
    f_fake, f_test = classifier.features(s.x), classifier.features(test.x)
    fd = frechet_distance(f_test, f_fake)
    pr = precision_recall(f_test, f_fake)
    mem = memorisation(s.x.flatten(1), train.x.flatten(1), test.x.flatten(1), quantile=0.05)
    # samples (one per group, 3 rows) beside their nearest training images, in pixels
    pick = torch.cat([torch.arange(c, 900, 9)[:3] for c in range(9)])
    pairs = torch.stack([s.x[pick], train.x[nearest_rows(s.x[pick], train.x)]], dim=1).flatten(0, 1)
    GRIDS.mkdir(parents=True, exist_ok=True)
    save_image(upscale(make_grid(pairs, nrow=6)), GRIDS / f"{name}-nearest.png")
    real_fd = frechet_distance(f_test, classifier.features(train.x[:900]))
    return (
        f"group agreement {100 * agree:.1f}%; FD {fd:.2f} (train vs held-out: {real_fd:.2f}); "
        f"precision {pr['precision']:.2f} recall {pr['recall']:.2f}; "
        f"memorised {100 * mem['copies']:.1f}% (held-out: 5%; median nearest-image distance "
        f"{mem['median_sample_distance']:.1f} vs held-out {mem['median_test_distance']:.1f})"
    )


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
    if name.startswith("emoji-gan") or Path(name).is_dir() and bundle.data.dataset == "emoji":
        return colour_card(Path(name).name if Path(name).is_dir() else name, bundle)
    if name == "emoji-classifier":
        test = load_dataset("emoji", image_size=bundle.data.shape[-1], split="test", progress=False)
        return f"held-out accuracy {100 * class_agreement(bundle.classifier, test.x, test.labels):.1f}%"
    return ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "names", nargs="*", help="zoo models (default: all), or emoji GAN bundle folders, to measure"
    )
    parser.add_argument("--grids", type=Path, default=GRIDS, help="where the nearest-image grids go")
    args = parser.parse_args()
    globals()["GRIDS"] = args.grids
    print(f"{'model':<20} {'steps':>6} {'size':>8}  result")
    for name in args.names or zoo_names():
        bundle = swerve.load(name, device="cpu")
        folder = Path(name) if Path(name).is_dir() else BUNDLES / name
        size = sum(f.stat().st_size for f in folder.iterdir()) / 2**20
        print(f"{name:<20} {bundle.training['steps']:>6} {size:>6.1f}MB  {card(name)}")


if __name__ == "__main__":
    main()

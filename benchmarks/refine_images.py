"""Refining the zoo's Fashion-MNIST GAN and VAE: DGflow against DOT, DDLS, DRS and MH-GAN, in one run.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/refine_images.py [--n 500] [--seed 0]

For each model the same ``n`` latents (and, for the conditional GAN, the same labels) go through every method;
the table shows, in the shipped domain classifier's features against ``n`` real test images
(swerve.measure.novelty_quality): Fréchet distance (FD, the FID form), precision, recall and novelty, then
critic gradient and generator evaluations per sample and seconds (CPU, single thread, on a shared machine).

Critics. fashion-gan was trained with the logistic loss, so its discriminator is a density-ratio estimator
and every method uses it (DGflow does so for such GANs). fashion-vae has no critic: a binary discriminator
is trained on data against its samples (swerve.refine.ratio; steps and accuracy printed) and every method
uses that. MH runs chains of 64 proposals here (the paper's 640 would take hours on a CPU); everything else
runs at its paper's settings. Two creative rows on the GAN, measured like the rest: the reverse flow (away
from the data) and a flow towards the classifier's log-odds for "Bag".

Last, the cost of one DGflow step against one plain forward + backward of G and D (parameter gradients, as
in training), on the same batch: the bar is ≤ 1.25×.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import swerve
from swerve.data import load_dataset
from swerve.measure import class_agreement, novelty_quality
from swerve.refine import (
    class_critic,
    discriminator_critic,
    fit_ratio,
    initial_latents,
    ratio_critic,
    run_method,
)
from swerve.refine.core import Timer, latent_gradient
from swerve.refine.dgflow import velocity_factor

ROWS = [
    ("DOT", "dot", {}),
    ("DDLS", "ddls", {}),
    ("DRS", "drs", {}),
    ("MH (k=64)", "mh", {"k": 64}),
    ("DGflow-KL", "dgflow", {"divergence": "kl", "eta": 0.1}),  # the paper's fixed step
    ("DGflow-JS", "dgflow", {"divergence": "js", "eta": 0.1}),
    ("DGflow-logD", "dgflow", {"divergence": "logd", "eta": 0.1}),
]
TARGET = "Bag"


def measure(x: torch.Tensor, reference: torch.Tensor, extractor: torch.nn.Module) -> dict[str, float]:
    values = novelty_quality(x, reference, extractor).values
    return {k: values[k] for k in ("fd", "precision", "recall", "novelty")}


def run(name: str, n: int, seed: int, reference: torch.Tensor, classifier_bundle) -> list[dict]:
    bundle = swerve.load(name, device="cpu")
    extractor = classifier_bundle.classifier
    rows: list[dict] = []
    if "discriminator" in bundle.networks:
        critic = discriminator_critic(bundle.discriminator)
    else:
        train = load_dataset("fashion-mnist", split="train")
        with Timer() as t:
            info = fit_ratio(bundle, train.x, train.labels, steps=500, batch_size=128, seed=seed)
        critic = ratio_critic(bundle)
        rows.append(
            {
                "method": f"(ratio estimator: {info['steps']} steps, accuracy "
                f"{info['final_accuracy']:.2f}, {t.seconds:.0f} s)"
            }
        )
    z, labels = initial_latents(bundle, n, seed)
    with Timer() as t:
        base = bundle.sample(n, seed=seed, z=z, labels=labels).x
    rows.append(
        {"method": "base", **measure(base, reference, extractor), "grad": 0, "gen": 1, "seconds": t.seconds}
    )
    todo = list(ROWS)
    if bundle.num_classes:
        target = classifier_bundle.data.classes.index(TARGET)
        todo += [
            ("DGflow-KL reverse", "dgflow", {"reverse": True, "eta": 0.1}),
            (f"DGflow-KL → {TARGET}", "dgflow", {"critic": class_critic(extractor, target)}),
        ]
    for row, method, settings in todo:
        settings = dict(settings)
        use = settings.pop("critic", critic)
        out = run_method(method, bundle, use, z, labels=labels, seed=seed, **settings)
        rows.append(
            {
                "method": row,
                **measure(out.x, reference, extractor),
                "grad": out.grad_evals,
                "gen": out.gen_evals,
                "seconds": out.seconds,
            }
        )
        if bundle.num_classes and row.startswith("DGflow-KL"):
            rows[-1]["method"] += (
                f" ({100 * class_agreement(extractor, out.x, torch.full((n,), target)):.0f}% {TARGET})"
            )
    return rows


def step_cost(name: str, batch: int = 256, repeats: int = 7) -> tuple[float, float]:
    """Median seconds of one DGflow step and of one plain forward+backward of G and D, same batch."""
    bundle = swerve.load(name, device="cpu")
    g, d = bundle.generator.eval(), bundle.discriminator.eval()
    critic = discriminator_critic(d)
    z, labels = initial_latents(bundle, batch, 0)
    noise = torch.randn_like(z)

    def plain() -> None:
        g.zero_grad(set_to_none=True)
        d.zero_grad(set_to_none=True)
        critic(g(z, labels) if labels is not None else g(z), labels).sum().backward()

    def flow_step() -> None:
        _, logits, grad = latent_gradient(g, critic, z, labels)
        _ = z + 0.1 * velocity_factor("kl", logits)[:, None] * grad + (2 * 0.01 * 0.1) ** 0.5 * noise

    times = {}
    for label, fn in (("plain", plain), ("dgflow", flow_step)):
        fn()  # warm-up
        samples = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - start)
        times[label] = statistics.median(samples)
    return times["dgflow"], times["plain"]


def print_table(name: str, rows: list[dict]) -> None:
    print(f"\n{name}")
    print(
        f"{'method':<34} {'FD':>7} {'prec':>5} {'recall':>6} {'novelty':>7} {'grad/s':>6} {'G/s':>6} "
        f"{'seconds':>8}"
    )
    for r in rows:
        if "fd" not in r:
            print(r["method"])
            continue
        print(
            f"{r['method']:<34} {r['fd']:>7.2f} {r['precision']:>5.2f} {r['recall']:>6.2f} "
            f"{r['novelty']:>7.3f} {r['grad']:>6.0f} {r['gen']:>6.1f} {r['seconds']:>8.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    test = load_dataset("fashion-mnist", split="test")
    pick = torch.randperm(len(test), generator=torch.Generator().manual_seed(12345))[: args.n]
    reference = test.x[pick]
    classifier = swerve.load("fashion-classifier", device="cpu")
    print(
        f"n = {args.n} samples per method, seed {args.seed}; features: fashion-classifier; "
        f"reference: {args.n} test images"
    )
    for name in ("fashion-gan", "fashion-vae"):
        print_table(name, run(name, args.n, args.seed, reference, classifier))
    step, plain = step_cost("fashion-gan")
    print(
        f"\none DGflow step {1000 * step:.1f} ms vs one plain forward+backward of G and D "
        f"{1000 * plain:.1f} ms (batch 256, fashion-gan): {step / plain:.2f}x (bar: <= 1.25x)"
    )


if __name__ == "__main__":
    main()

"""Refining the zoo's 2-D WGAN-GP models: DGflow against DOT, DDLS, DRS and MH-GAN, in one run.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/refine_2d.py [--n 5000] [--seed 0] [BUNDLE ...]

For each of gaussians25-wgangp and swissroll-wgangp (or the 2-D bundles named): the same ``n`` latents go
through every method, and one table shows % high-quality samples, modes covered (25 Gaussians), the KDE
log-likelihood of 2,000 held-out real points (bandwidth 0.05, swerve.measure.toys), critic gradient
evaluations and generator evaluations per sample, and seconds (CPU, single thread). Given several
generators of one dataset (independently trained by the same recipe: ``swerve train --preset
gaussians25-wgangp --seed 1``), it then prints each method's % HQ (and modes) as mean ± sd [min–max] over
them.

Critics. The zoo's toys are WGAN-GP models, and their nets are ReLU 128-unit MLPs with a Gaussian latent
rather than the protocol's leaky-ReLU 256/512-unit nets with a uniform latent (swerve/zoo/recipes.py).
A WGAN critic is a Lipschitz potential defined up to an additive constant, not a log density ratio. The
methods that read it only through its gradient, DGflow-KL (as the DGflow authors' code does for its WGAN-GP
models) and DOT (as its paper does), read the raw critic; the methods that need a calibrated density ratio
(DDLS, DRS, MH, and DGflow-JS / log D, whose factor sigmoid(d) moves with the constant) read a corrector
trained by logistic regression on top of the frozen critic (swerve.refine.ratio, 1,000 steps, seed 0; its
cost is printed). The "critic" column says which. Every method runs at its paper's settings (swerve's
defaults); DOT twice: in latent space (swerve's default) and by the paper's 2-D protocol (space=data: 100
updates in data space, K_eff averaged over 10 estimates, samples clipped to [-2, 2]). "DGflow-KL, step
control" is swerve's default DGflow, whose step size is set per sample (benchmarks/dgflow_steps.py). The
last five rows, reported whatever they show, are DGflow-KL at smaller step sizes and with the corrector
instead of the raw critic; benchmarks/dgflow_2d_diagnosis.py explains them against the exact density ratio
of the 25 Gaussians.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import swerve
from swerve.errors import SwerveError
from swerve.measure import kde_log_likelihood
from swerve.refine import discriminator_critic, fit_ratio, initial_latents, ratio_critic, run_method
from swerve.refine.scores import TOYS

MODELS = ["gaussians25-wgangp", "swissroll-wgangp"]
# (row name, method, settings, critic): "ratio" is the corrected density ratio, "critic" the raw WGAN critic.
ROWS = [
    ("DOT, latent", "dot", {}, "critic"),
    ("DOT, data (paper's 2-D)", "dot", {"space": "data"}, "critic"),
    ("DDLS", "ddls", {}, "ratio"),
    ("DRS", "drs", {}, "ratio"),
    ("MH", "mh", {}, "ratio"),
    # the paper's fixed step (η = 0.1); benchmarks/dgflow_steps.py compares it with the step control
    ("DGflow-KL", "dgflow", {"divergence": "kl", "eta": 0.1}, "critic"),
    ("DGflow-JS", "dgflow", {"divergence": "js", "eta": 0.1}, "ratio"),
    ("DGflow-logD", "dgflow", {"divergence": "logd", "eta": 0.1}, "ratio"),
    ("DGflow-KL, step control", "dgflow", {"divergence": "kl"}, "critic"),  # swerve's default (eta=None)
    ("DGflow-KL, η=0.05", "dgflow", {"divergence": "kl", "eta": 0.05}, "critic"),
    ("DGflow-KL, η=0.01", "dgflow", {"divergence": "kl", "eta": 0.01}, "critic"),
    ("DGflow-KL", "dgflow", {"divergence": "kl", "eta": 0.1}, "ratio"),
    ("DGflow-KL, η=0.05", "dgflow", {"divergence": "kl", "eta": 0.05}, "ratio"),
    ("DGflow-KL, η=0.01", "dgflow", {"divergence": "kl", "eta": 0.01}, "ratio"),
]
CRITIC_NAMES = {"critic": "WGAN", "ratio": "corr."}


def evaluate(dataset: str, x: torch.Tensor, held_out: torch.Tensor) -> dict[str, float]:
    scores = dict(TOYS[dataset][1](x))
    scores["KDE LL"] = kde_log_likelihood(x, held_out)
    return scores


def run(name: str, n: int, seed: int) -> tuple[str, list[dict]]:
    try:
        bundle = swerve.load(name, device="cpu")
    except SwerveError as exc:
        raise SystemExit(str(exc)) from None
    dataset = bundle.data.dataset
    if dataset not in TOYS:
        raise SystemExit(f"{name} is a model of {dataset!r}; this benchmark scores {', '.join(TOYS)}")
    make_data = TOYS[dataset][0]
    train = make_data(20000, seed=1).x  # the ratio estimator's real data
    held_out = make_data(2000, seed=12345).x  # only for the KDE log-likelihood
    start = time.perf_counter()
    info = fit_ratio(bundle, train, corrector=True, steps=1000, seed=seed)
    ratio_seconds = time.perf_counter() - start
    critics = {"ratio": ratio_critic(bundle), "critic": discriminator_critic(bundle.discriminator)}
    z, labels = initial_latents(bundle, n, seed)
    start = time.perf_counter()
    base = bundle.sample(n, seed=seed, z=z).x
    rows = [
        {
            "method": "base",
            "critic": "",
            **evaluate(dataset, base, held_out),
            "grad": 0,
            "gen": 1,
            "seconds": time.perf_counter() - start,
        }
    ]
    for row, method, settings, critic in ROWS:
        out = run_method(method, bundle, critics[critic], z, labels=labels, seed=seed, **settings)
        rows.append(
            {
                "method": row,
                "critic": CRITIC_NAMES[critic],
                **evaluate(dataset, out.x, held_out),
                "grad": out.grad_evals,
                "gen": out.gen_evals,
                "seconds": out.seconds,
            }
        )
    rows.append(
        {
            "method": f"(corrector training: {info['steps']} steps, accuracy {info['final_accuracy']:.2f})",
            "seconds": ratio_seconds,
        }
    )
    return dataset, rows


def print_table(name: str, rows: list[dict]) -> None:
    modes = "modes covered" in rows[0]
    print(f"\n{name}")
    head = f"{'method':<24} {'critic':<6} {'% HQ':>6} " + (f"{'modes':>5} " if modes else "")
    head += f"{'KDE LL':>7} "
    print(head + f"{'grad/sample':>11} {'G evals/sample':>14} {'seconds':>8}")
    for r in rows:
        if "% high quality" not in r:
            print(f"{r['method']:<67} {r['seconds']:>8.2f}")
            continue
        line = f"{r['method']:<24} {r['critic']:<6} {r['% high quality']:>6.1f} "
        line += f"{r['modes covered']:>5d} " if modes else ""
        line += f"{r['KDE LL']:>7.3f} {r['grad']:>11.0f} {r['gen']:>14.1f} {r['seconds']:>8.2f}"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "models", nargs="*", default=MODELS, help="2-D toy bundles (default: the zoo's two WGAN-GP models)"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"n = {args.n} samples per method, seed {args.seed}, the same latents for every method")
    by_dataset: dict[str, list[list[dict]]] = {}
    for name in args.models:
        dataset, rows = run(name, args.n, args.seed)
        print_table(name, rows)
        by_dataset.setdefault(dataset, []).append(rows)
    for dataset, runs in by_dataset.items():
        if len(runs) > 1:
            print_spread(dataset, runs)


def spread(values: list[float]) -> str:
    """mean ± sd [min–max] of one column over the generators."""
    v = np.array(values, dtype=float)
    return f"{v.mean():6.1f} ± {v.std():4.1f} [{v.min():5.1f}–{v.max():5.1f}]"


def print_spread(dataset: str, runs: list[list[dict]]) -> None:
    """Each method's % HQ (and modes) over independently trained generators of one dataset."""
    modes = "modes covered" in runs[0][0]
    print(f"\n{dataset}, {len(runs)} generators: mean ± sd [min–max]")
    print(f"{'method':<24} {'critic':<6} {'% HQ':>28}" + (f" {'modes':>28}" if modes else ""))
    for i, r in enumerate(runs[0]):
        if "% high quality" not in r:
            continue
        hq = spread([rows[i]["% high quality"] for rows in runs])
        line = f"{r['method']:<24} {r['critic']:<6} {hq:>28}"
        if modes:
            line += f" {spread([rows[i]['modes covered'] for rows in runs]):>28}"
        print(line)


if __name__ == "__main__":
    main()

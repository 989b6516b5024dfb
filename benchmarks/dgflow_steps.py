"""DGflow's step size on the 2-D toys: the paper's fixed η against swerve's per-sample step control and DOT,
over several independently trained generators.

    OMP_NUM_THREADS=1 python benchmarks/dgflow_steps.py [--n 2000] [--seed 0] [BUNDLE ...]

BUNDLE: 2-D WGAN-GP bundles of the 25 Gaussians or the Swiss roll (default: the zoo's two; more seeds of
the same recipe come from ``RECIPES[name].replace(seed=s)``). For every bundle the same ``n`` latents go
through DOT (its paper's settings), DGflow-KL with fixed η = 0.1 (the paper's) and η = 0.01, and DGflow-KL
with the step control (swerve's default, ``eta=None``, whose noise anneals to zero by the last step) and
the same control with constant noise (``anneal=False``), all reading the raw WGAN critic. Per method and
dataset it prints % high quality and modes covered (25 Gaussians) as mean ± sd [min–max] over the bundles,
then "no worse than DOT" for % HQ and modes in every bundle, and generator evaluations per sample.

``--horizons`` adds, per bundle, the % HQ of the noiseless flow integrated finely (η = 0.005) after flow
times T = η · steps of 0.025, 0.1, 0.5 and 2.5 (the paper's 25 × 0.1): where it falls as T grows, following
the critic longer moves samples off the data, whatever the step size; and each row's median latent move.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

import swerve
from swerve.errors import SwerveError
from swerve.refine import discriminator_critic, initial_latents, run_method
from swerve.refine.scores import TOYS

MODELS = ["gaussians25-wgangp", "swissroll-wgangp"]
ROWS = [
    ("DOT", "dot", {}),
    ("DGflow-KL, η = 0.1 (paper)", "dgflow", {"eta": 0.1}),
    ("DGflow-KL, η = 0.01", "dgflow", {"eta": 0.01}),
    ("DGflow-KL, step control", "dgflow", {}),
    ("DGflow-KL, control, flat γ", "dgflow", {"anneal": False}),
]
FINE_ETA, HORIZONS = 0.005, (0.025, 0.1, 0.5, 2.5)


def run(name: str, n: int, seed: int, horizons: bool) -> tuple[str, dict[str, dict[str, float]]]:
    """One bundle: every row's scores on the same latents (and the noiseless flow's over time)."""
    try:
        bundle = swerve.load(name, device="cpu")
    except SwerveError as exc:
        raise SystemExit(str(exc)) from None
    dataset = bundle.data.dataset
    if dataset not in TOYS:
        raise SystemExit(f"{name} is a model of {dataset!r}; this benchmark scores {', '.join(TOYS)}")
    critic = discriminator_critic(bundle.discriminator.eval())
    z, labels = initial_latents(bundle, n, seed)
    found = {"base": dict(TOYS[dataset][1](bundle.sample(n, seed=seed, z=z).x), gen=1.0)}
    moves = {}  # each row's median latent displacement
    for row, method, settings in ROWS:
        out = run_method(method, bundle, critic, z, labels=labels, seed=seed, **settings)
        found[row] = dict(TOYS[dataset][1](out.x), gen=out.gen_evals)
        moves[row] = float((out.z - z).norm(dim=1).median())
    if horizons:
        steps = round(HORIZONS[-1] / FINE_ETA)
        out = run_method(
            "dgflow", bundle, critic, z, seed=seed, eta=FINE_ETA, gamma=0.0, steps=steps, trajectory=True
        )
        cells = "  ".join(
            f"T = {t}: {TOYS[dataset][1](out.trajectory[round(t / FINE_ETA)])['% high quality']:.1f}%"
            for t in HORIZONS
        )
        print(f"  {name}, noiseless flow (η = {FINE_ETA}): {cells}", flush=True)
        cells = "  ".join(f"{row.split(',')[-1].strip()}: {move:.3f}" for row, move in moves.items())
        print(f"  {name}, median latent move: {cells}", flush=True)
    return dataset, found


def summary(values: list[float]) -> str:
    v = np.array(values, dtype=float)
    return f"{v.mean():6.1f} ± {v.std():4.1f} [{v.min():5.1f}–{v.max():5.1f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--horizons", action="store_true", help="the noiseless flow's %% HQ over flow time")
    parser.add_argument(
        "models", nargs="*", default=MODELS, help="2-D toy bundles (zoo names or directories)"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"n = {args.n} samples per method and bundle, latent seed {args.seed}, the raw WGAN critic")
    by_dataset: dict[str, list[tuple[str, dict]]] = {}
    for name in args.models:
        dataset, found = run(name, args.n, args.seed, args.horizons)
        by_dataset.setdefault(dataset, []).append((name, found))
        cells = "  ".join(
            f"{row.split(',')[-1].strip()}: {r['% high quality']:.1f}%"
            + (f"/{r['modes covered']}" if "modes covered" in r else "")
            for row, r in found.items()
        )
        print(f"  {name}: {cells}", flush=True)
    for dataset, results in by_dataset.items():
        modes = "modes covered" in results[0][1]["base"]
        print(f"\n{dataset}, {len(results)} generators: mean ± sd [min–max]")
        print(
            f"{'method':<28} {'% high quality':>28} "
            + (f"{'modes covered':>28} " if modes else "")
            + "G/sample"
        )
        for row in ["base"] + [r[0] for r in ROWS]:
            hq = [found[row]["% high quality"] for _, found in results]
            line = f"{row:<28} {summary(hq):>28} "
            if modes:
                line += f"{summary([found[row]['modes covered'] for _, found in results]):>28} "
            print(line + f"{np.mean([found[row]['gen'] for _, found in results]):8.1f}")
        for row in [r[0] for r in ROWS[1:]]:
            hq_ok = all(
                found[row]["% high quality"] >= found["DOT"]["% high quality"] for _, found in results
            )
            text = f"{row}: % HQ ≥ DOT's in every generator: {hq_ok}"
            if modes:
                mode_ok = all(
                    found[row]["modes covered"] >= found["DOT"]["modes covered"] for _, found in results
                )
                text += f"; modes ≥ DOT's in every generator: {mode_ok}"
            print(text)


if __name__ == "__main__":
    main()

"""Do creative samples light up larger anomalous subsets of nodes? (Cintas et al., IJCAI 2022)

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/creativity.py [--seeds 5] [--quick]

The experiment of the subset-scanning paper on Fashion-MNIST with the zoo VAE (``fashion-vae``), repeated
over several seeds, each seed drawing everything afresh:

1. background: activations of normal samples (prior latents through the plain decoder);
2. three test pools made from fresh latents: normal samples, a second normal pool (the *null* control), and
   samples of the creative decoder (:mod:`swerve.diverge.creative`, default parameters: ``blocks.0``,
   fraction 0.25, strength 1, top 0.1, its seed the run's);
3. for each decoder layer (``stem``, ``blocks.0``, ``blocks.1``) and pixel space: empirical p-values against
   the background, then
   - group scans of equal-size groups drawn independently from each pool: detection power is the ROC-AUC of
     creative-group scores against normal-group scores (0.5 = chance), and the *null* AUC is the same for
     second-normal groups against the same normal groups, so it shows how far from 0.5 a group AUC of this
     many groups wanders when nothing differs; and the size of the anomalous subset (samples × nodes);
   - one-sample scans of every test sample: ROC-AUC, creative and null, the same way.

Every AUC is reported as mean ± standard deviation [min–max] over the seeds. The creative decoder rewrites
``blocks.0``, so ``stem`` (computed before it) is a second control. A claim holds only where it holds in every
seed: a layer beats pixel space when its group AUC is above pixel space's in each seed (a paired comparison),
and it detects creativity when its creative AUC is above its own null AUC in each seed. Novelty and quality
of the first seed's pools in the domain classifier's features are printed for context.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import swerve
from swerve.data import load_dataset
from swerve.diverge.creative import Creative, creative_decoder
from swerve.measure import measure_samples
from swerve.measure.scan import PValues, empirical_pvalues, scan_group, scan_individual
from swerve.measure.scan.activations import PIXELS, sample_activations
from swerve.measure.scan.power import roc_auc
from swerve.utils import make_generator

LAYERS = ["stem", "blocks.0", "blocks.1", PIXELS]
AFTER_REWRITE = ["blocks.0", "blocks.1"]
SIZES = {  # background, pool, group size, groups per pool, restarts, one-sample scans per pool
    "full": (300, 100, 10, 12, 2, 40),
    "quick": (150, 40, 8, 6, 1, 20),
}


def group_scores(pv: PValues, size: int, groups: int, seed: int, restarts: int) -> tuple[list, list]:
    """Group-scan scores of ``groups`` groups of ``size`` rows drawn independently, and the subset sizes."""
    gen = make_generator(seed)
    scores, subsets = [], []
    for g in range(groups):
        rows = torch.randperm(pv.shape[0], generator=gen)[:size]
        found = scan_group(pv.subset(rows=rows), restarts=restarts, seed=seed + g)
        scores.append(found.score)
        subsets.append(len(found.samples) * len(found.nodes))
    return scores, subsets


def one_seed(vae: swerve.Bundle, seed: int, sizes: tuple[int, ...], measure: bool) -> dict[str, dict]:
    """Every number of one seed, per layer: AUCs (creative, null) and mean subset sizes."""
    n_bg, n_pool, size, groups, restarts, n_single = sizes
    base = 10 * seed
    _, background = sample_activations(vae, n_bg, LAYERS, seed=base + 1)
    normal_x, normal = sample_activations(vae, n_pool, LAYERS, seed=base + 2)
    _, null = sample_activations(vae, n_pool, LAYERS, seed=base + 3)
    with creative_decoder(vae.generator, Creative(seed=seed)):
        creative_x, creative = sample_activations(vae, n_pool, LAYERS, seed=base + 4)
    out = {}
    for layer in LAYERS:
        pvs = {name: empirical_pvalues(pool[layer], background[layer]) for name, pool in
               (("normal", normal), ("null", null), ("creative", creative))}  # fmt: skip
        # The same group draws (seed) in every pool; the normal groups are the reference of both AUCs.
        scored = {name: group_scores(pv, size, groups, seed, restarts) for name, pv in pvs.items()}
        first = slice(0, n_single)
        single = {name: scan_individual(pv.subset(rows=first)).scores for name, pv in pvs.items()}
        ref = torch.tensor(scored["normal"][0])
        out[layer] = {
            "nodes": normal[layer].shape[1],
            "group": roc_auc(ref, torch.tensor(scored["creative"][0])),
            "group_null": roc_auc(ref, torch.tensor(scored["null"][0])),
            "single": roc_auc(single["normal"], single["creative"]),
            "single_null": roc_auc(single["normal"], single["null"]),
            "subset_normal": statistics.fmean(scored["normal"][1]),
            "subset_creative": statistics.fmean(scored["creative"][1]),
        }
    if measure:
        real = load_dataset("fashion-mnist", split="test").x[:1000]
        for name, x in (("normal", normal_x.x), ("creative", creative_x.x)):
            m = measure_samples(x, real, "fashion-mnist", seed=seed)
            print(
                f"  seed {seed} {name:>8} samples: FD {m['fd']:.3f}, precision {m['precision']:.2f}, "
                f"recall {m['recall']:.2f}, novelty {m['novelty']:.2f} "
                f"({m.features.extractor} features, {m.features.normalise})"
            )
    return out


def spread(values: list[float]) -> str:
    """mean ± sd [min–max] of a few numbers."""
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.2f} ± {sd:.2f} [{min(values):.2f}–{max(values):.2f}]"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=5, help="how many seeds (each draws everything afresh)")
    parser.add_argument("--first-seed", type=int, default=0, help="the first seed; the others follow it")
    parser.add_argument("--quick", action="store_true", help="smaller pools (a smoke run, noisier numbers)")
    args = parser.parse_args()
    if args.seeds < 2:
        parser.error("--seeds must be at least 2: one seed gives no spread")
    sizes = SIZES["quick" if args.quick else "full"]
    n_bg, n_pool, size, groups, restarts, n_single = sizes
    torch.set_num_threads(1)
    vae = swerve.load("fashion-vae", device="cpu")
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    print(f"fashion-vae, creative decoder {Creative().to_dict()} (seed = the run's seed)")
    print(
        f"seeds {seeds[0]}..{seeds[-1]}; per seed: background {n_bg} normal samples; pools of {n_pool} "
        f"normal, {n_pool} normal (null) and {n_pool} creative; {groups} groups of {size} from each pool; "
        f"one-sample scans of the first {n_single} of each pool"
    )
    print(f"scan: Berk-Jones, alpha_max 0.5, upper tail, fractional ties, {restarts} restarts; CPU, 1 thread")
    start = time.perf_counter()
    runs = []
    for seed in seeds:
        runs.append(one_seed(vae, seed, sizes, measure=seed == seeds[0]))
        print(f"  seed {seed} done ({time.perf_counter() - start:.0f} s)", flush=True)
    col = lambda layer, key: [run[layer][key] for run in runs]  # noqa: E731
    print(f"\nmean ± sd [min–max] over {len(seeds)} seeds")
    print(
        f"{'layer':<9} {'nodes':>6}  {'group AUC: creative':<25} {'null':<25} "
        f"{'1-sample AUC: creative':<25} {'null':<25} {'subset size: normal':>19} {'creative':>9}"
    )
    for layer in LAYERS:
        print(
            f"{layer:<9} {runs[0][layer]['nodes']:>6}  {spread(col(layer, 'group')):<25} "
            f"{spread(col(layer, 'group_null')):<25} {spread(col(layer, 'single')):<25} "
            f"{spread(col(layer, 'single_null')):<25} {statistics.fmean(col(layer, 'subset_normal')):>19.0f} "
            f"{statistics.fmean(col(layer, 'subset_creative')):>9.0f}"
        )
    print("(subset size: samples x nodes of a group's anomalous subset, mean over groups and seeds)")
    print(f"\nwall time {time.perf_counter() - start:.0f} s")
    print("\nThe paper's finding, layer by layer after the rewrite (a claim holds if it holds in each seed):")
    verdicts = []
    for layer in AFTER_REWRITE:
        above_null = [a > b for a, b in zip(col(layer, "group"), col(layer, "group_null"), strict=True)]
        diff = [a - b for a, b in zip(col(layer, "group"), col(PIXELS, "group"), strict=True)]
        pairs = zip(col(layer, "subset_creative"), col(layer, "subset_normal"), strict=True)
        larger = [c > n for c, n in pairs]
        verdicts += [all(above_null), all(d > 0 for d in diff), all(larger)]
        print(
            f"- {layer}: group AUC above its null in {sum(above_null)}/{len(seeds)} seeds; above pixel space "
            f"in {sum(d > 0 for d in diff)}/{len(seeds)} (paired difference {spread(diff)}); creative "
            f"subsets larger in {sum(larger)}/{len(seeds)}"
        )
    overall = "HELD" if all(verdicts) else "HELD IN PART" if any(verdicts) else "DID NOT HOLD"
    print(f"Overall: {overall}.")


if __name__ == "__main__":
    main()

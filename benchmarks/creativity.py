"""Do creative samples light up larger anomalous subsets of nodes? (Cintas et al., IJCAI 2022)

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/creativity.py [--quick]

The experiment of the subset-scanning paper on Fashion-MNIST with the zoo VAE (``fashion-vae``):

1. background: activations of normal samples (prior latents through the plain decoder);
2. two test pools made from fresh latents: normal samples, and samples of the creative decoder
   (:mod:`swerve.diverge.creative`, default parameters: ``blocks.0``, fraction 0.25, strength 1, top 0.1);
3. for each decoder layer (``stem``, ``blocks.0``, ``blocks.1``) and pixel space: empirical p-values against
   the background, then
   - group scans of equal-size groups drawn independently from each pool — detection power (ROC-AUC of the
     group scores, 0.5 = chance) and the size of the anomalous subset (samples, nodes);
   - one-sample scans of every test sample — ROC-AUC and the mean number of anomalous nodes.

The creative decoder rewrites ``blocks.0``, so ``stem`` (computed before it) cannot tell the pools apart: its
AUC near 0.5 is the experiment's own control. Nothing here is tuned to the paper's claim; the numbers are
printed as they come, followed by a plain statement of whether the claim held. Novelty and quality of both
pools in the domain classifier's features are printed for context.
"""

from __future__ import annotations

import argparse
import time

import torch

import swerve
from swerve.data import load_dataset
from swerve.diverge.creative import Creative, creative_decoder
from swerve.measure import measure_samples
from swerve.measure.scan import empirical_pvalues, scan_individual
from swerve.measure.scan.activations import PIXELS, sample_activations
from swerve.measure.scan.power import detection_power, roc_auc

LAYERS = ["stem", "blocks.0", "blocks.1", PIXELS]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller pools (a smoke run, noisier numbers)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    n_bg, n_pool, group, groups = (150, 60, 10, 20) if args.quick else (400, 200, 20, 40)
    torch.manual_seed(args.seed)
    vae = swerve.load("fashion-vae", device="cpu")
    config = Creative(seed=args.seed)
    start = time.perf_counter()
    _, background = sample_activations(vae, n_bg, LAYERS, seed=args.seed + 1)
    normal_x, normal = sample_activations(vae, n_pool, LAYERS, seed=args.seed + 2)
    with creative_decoder(vae.generator, config):
        creative_x, creative = sample_activations(vae, n_pool, LAYERS, seed=args.seed + 3)
    print(f"fashion-vae, creative decoder {config.to_dict()}")
    print(f"background {n_bg} normal samples; pools {n_pool} normal + {n_pool} creative; groups of {group}")
    print("scan: Berk-Jones, alpha_max 0.5, upper tail, fractional ties, 5 restarts; CPU, one thread\n")
    head = f"{'layer':<9} {'nodes':>6} {'group AUC':>9} {'group subset: normal':>21} {'creative':>15}"
    print(head + f" {'1-sample AUC':>12} {'nodes/sample: normal':>20} {'creative':>9}")
    results = {}
    for layer in LAYERS:
        pv_normal = empirical_pvalues(normal[layer], background[layer])
        pv_creative = empirical_pvalues(creative[layer], background[layer])
        power = detection_power(pv_normal, pv_creative, group, groups=groups, seed=args.seed, restarts=5)
        single_n = scan_individual(pv_normal)
        single_c = scan_individual(pv_creative)
        auc1 = roc_auc(single_n.scores, single_c.scores)
        ns, cs = power["normal_sizes"].mean(0), power["test_sizes"].mean(0)
        results[layer] = (power["auc"], auc1, ns, cs)
        print(
            f"{layer:<9} {normal[layer].shape[1]:>6} {power['auc']:>9.3f} "
            f"{f'{ns[0]:.1f} x {ns[1]:.0f}':>21} {f'{cs[0]:.1f} x {cs[1]:.0f}':>15} {auc1:>12.3f} "
            f"{single_n.sizes().double().mean():>20.0f} {single_c.sizes().double().mean():>9.0f}"
        )
    print("(group subset: mean samples x nodes of the anomalous subset found in a group)")
    real = load_dataset("fashion-mnist", split="test").x[:1000]
    for name, x in (("normal", normal_x.x), ("creative", creative_x.x)):
        m = measure_samples(x, real, "fashion-mnist", seed=args.seed)
        print(
            f"{name:>9} samples: FD {m['fd']:.3f}, precision {m['precision']:.2f}, "
            f"recall {m['recall']:.2f}, novelty {m['novelty']:.2f} "
            f"({m.features.extractor} features, {m.features.normalise})"
        )
    print(f"\nwall time {time.perf_counter() - start:.0f} s")
    print("\nThe paper's finding, layer by layer after the rewrite (stem comes before it: the control):")
    pixel_auc = results[PIXELS][0]
    verdicts = []
    for layer in ("blocks.0", "blocks.1"):
        group_auc, _, n_size, c_size = results[layer]
        larger = c_size[0] * c_size[1] > n_size[0] * n_size[1]
        stronger = group_auc > pixel_auc
        verdicts += [larger, stronger]
        print(
            f"- {layer}: creative groups' anomalous subsets are larger (samples x nodes): "
            f"{'yes' if larger else 'no'}; detection power above pixel space ({group_auc:.3f} vs "
            f"{pixel_auc:.3f}): {'yes' if stronger else 'no'}"
        )
    overall = "HELD" if all(verdicts) else "HELD IN PART" if any(verdicts) else "DID NOT HOLD"
    print(f"Overall: {overall}.")


if __name__ == "__main__":
    main()

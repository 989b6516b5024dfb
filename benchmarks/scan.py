"""swerve's subset scanner against the SubsetScanningDetector of IBM's Adversarial Robustness Toolbox (ART).

    OMP_NUM_THREADS=1 python benchmarks/scan.py [--quick] [--repeats 5] [--no-scaling]

ART is *not* a dependency of swerve. To include it, make a separate environment that sees swerve's and
add ART there only:

    python -m venv /tmp/artenv
    echo "$(python -c 'import site; print(site.getsitepackages()[0])')" \\
        > /tmp/artenv/lib/python3.11/site-packages/swerve-env.pth   # see swerve's packages
    /tmp/artenv/bin/pip install adversarial-robustness-toolbox
    OMP_NUM_THREADS=1 PYTHONPATH=. /tmp/artenv/bin/python benchmarks/scan.py

Without ART the script says so in one line and times swerve alone.

Inputs: ReLU activations (half of them exact zeros, so ties matter) of 1,000 background and 1,000 test
samples × 4,096 nodes, with an anomalous block (100 samples × 400 nodes shifted up). One run times, on the
same arrays: the background sort and the p-value ranges of every test entry; the one-sample scan of every
test sample; and group scans of the test set in 20 groups of 50 (ART's default 10 restarts) — the
detection-power workload. "swerve, ART conventions" uses p_max only and ART's α grids, so its scores must
equal ART's: the p-value ranges, every one-sample score, α* and node subset, and the first (deterministic)
ascent of every group scan are compared. "swerve defaults" (fractional ties, a fixed grid of 50
thresholds) does more work per scan and is timed for reference. The three run ``--repeats`` times,
interleaved in a rotating order, and every speed-up is a ratio within one repeat, printed as min / median /
max over the repeats, so a machine whose load changes shows it as spread. The bars (p-values ≥ 8× ART,
end to end ≥ 10× ART, the default fractional one-sample scan ≤ 2× ART's time) are then checked against
every repeat's ratio and each is printed as met or missed. Then the scaling with samples and nodes (one
run each). ``--quick`` uses a quarter of the samples and of the nodes.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from swerve.measure.scan import empirical_pvalues, scan_group, scan_individual

try:
    from art.defences.detector.evasion.subsetscanning.detector import SubsetScanningDetector
    from art.defences.detector.evasion.subsetscanning.scanner import Scanner
except ImportError:
    SubsetScanningDetector = Scanner = None

GROUP = 50
RESTARTS = 10


def activations(n_bg: int, n_test: int, nodes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    bg = np.maximum(rng.standard_normal((n_bg, nodes)), 0).astype(np.float32)
    test = rng.standard_normal((n_test, nodes)).astype(np.float32)
    test[: n_test // 10, : nodes // 10] += 1.0
    return bg, np.maximum(test, 0)


def load() -> str:
    """The machine's load average (1, 5, 15 minutes), so a crowded run says so."""
    return "load average " + ", ".join(f"{x:.1f}" for x in os.getloadavg())


def clock(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def art_run(bg: np.ndarray, test: np.ndarray, restarts: int = RESTARTS) -> dict:
    """ART on the same arrays, through its own functions (its detector needs a classifier: bypassed)."""
    det = object.__new__(SubsetScanningDetector)
    det._layer_name = "activations"
    det._get_activations = lambda x, layer, batch_size: x
    out = {}
    det.sorted_bgd_activations, t_sort = clock(lambda: np.sort(bg, axis=0))
    out["pv"], t_pv = clock(lambda: det._calculate_pvalue_ranges(test))
    out["times"] = {"p-values": t_sort + t_pv}
    out["single"], out["times"]["one-sample scans"] = clock(
        lambda: [Scanner.fgss_individ_for_nets(p) for p in out["pv"]]
    )
    np.random.seed(0)
    groups = [out["pv"][i : i + GROUP] for i in range(0, len(test), GROUP)]
    out["groups"], out["times"]["group scans"] = clock(
        lambda: [Scanner.fgss_for_nets(g, restarts=restarts) for g in groups]
    )
    return out


def swerve_run(bg: np.ndarray, test: np.ndarray, art: bool, restarts: int = RESTARTS) -> dict:
    bg_t, test_t = torch.from_numpy(bg), torch.from_numpy(test)
    ties, single_alphas, group_alphas = ("pmax", "art", "art") if art else ("fractional", None, 50)
    out = {}
    out["pv"], t_pv = clock(lambda: empirical_pvalues(test_t, bg_t, ties=ties))
    out["times"] = {"p-values": t_pv}
    out["single"], out["times"]["one-sample scans"] = clock(
        lambda: scan_individual(out["pv"], alphas=single_alphas)
    )
    rows = [torch.arange(i, min(i + GROUP, len(test))) for i in range(0, len(test), GROUP)]
    out["groups"], out["times"]["group scans"] = clock(
        lambda: [scan_group(out["pv"].subset(rows=r), alphas=group_alphas, restarts=restarts) for r in rows]
    )
    return out


def total(run: dict) -> float:
    return sum(run["times"].values())


def compare(art: dict, ours: dict) -> None:
    """ART's numbers against swerve's with ART's conventions."""
    pv = ours["pv"]
    same_pv = np.array_equal(art["pv"][:, :, 0], pv.pmin().numpy()) and np.array_equal(
        art["pv"][:, :, 1], pv.pmax().numpy()
    )
    scores = np.array([s[0] for s in art["single"]])
    alphas = np.array([s[3] for s in art["single"]])
    single = ours["single"]
    diff = np.abs(scores - single.scores.numpy()).max()
    same_alpha = np.array_equal(alphas, single.alphas.numpy())
    same_nodes = all(
        np.array_equal(s[2], np.flatnonzero(m))
        for s, m in zip(art["single"], single.nodes.numpy(), strict=True)
    )
    print(f"p-value ranges identical:                 {same_pv}")
    print(
        f"one-sample scores, max |ART - swerve|:    {diff:.2e}   (α* identical: {same_alpha}, "
        f"node subsets identical: {same_nodes})"
    )
    first_art = [
        Scanner.fgss_for_nets(p, restarts=1)[0]
        for p in (art["pv"][i : i + GROUP] for i in range(0, len(scores), GROUP))
    ]
    first_ours = [
        scan_group(
            pv.subset(rows=torch.arange(i, min(i + GROUP, len(scores)))), alphas="art", restarts=1
        ).score
        for i in range(0, len(scores), GROUP)
    ]
    gdiff = np.abs(np.array(first_art) - np.array(first_ours)).max()
    print(f"group scans, first ascent, max |diff|:    {gdiff:.2e}   ({len(first_art)} groups)")
    best_art = np.array([g[0] for g in art["groups"]])
    best_ours = np.array([g.score for g in ours["groups"]])
    print(
        f"group scans, best of {RESTARTS} restarts (random):   ART mean {best_art.mean():.2f}, "
        f"swerve mean {best_ours.mean():.2f} (restart draws differ)"
    )


def spread(values: list[float]) -> str:
    """min / median / max of a list of ratios."""
    v = np.array(values)
    return f"{v.min():5.1f}× / {np.median(v):5.1f}× / {v.max():5.1f}×"


BARS = (  # (what, stage, whose time over whose, at least or at most, the bar)
    ("p-values, ART / swerve (ART conv.)", "p-values", ("art", "ours"), ">=", 8.0),
    ("end to end, ART / swerve (ART conv.)", "end to end", ("art", "ours"), ">=", 10.0),
    ("fractional one-sample scan, swerve defaults / ART", "one-sample scans", ("default", "art"), "<=", 2.0),
)


def verdicts(runs: list[dict], seconds) -> None:
    """Each bar against every repeat's paired ratio: met only if every repeat meets it."""
    print("bars (each must hold in every repeat):")
    for what, stage, (top, bottom), sense, bar in BARS:
        ratios = np.array([seconds(r[top], stage) / seconds(r[bottom], stage) for r in runs])
        ok = ratios >= bar if sense == ">=" else ratios <= bar
        worst = ratios.min() if sense == ">=" else ratios.max()
        verdict = "met" if ok.all() else f"MISSED in {int((~ok).sum())} of {len(ratios)} repeats"
        sign = "≥" if sense == ">=" else "≤"
        print(f"  {what + ':':<52} {sign} {bar:4.1f}×  worst {worst:5.1f}×  {verdict}")


def paired(bg: np.ndarray, test: np.ndarray, repeats: int, have_art: bool) -> list[dict]:
    """``repeats`` interleaved runs of ART, swerve with ART's conventions and swerve's defaults on the same
    arrays, the order rotating each time, so a loaded machine slows all three alike within a repeat."""
    runs = []
    for r in range(repeats):
        jobs = {
            "art": (lambda: art_run(bg, test)) if have_art else None,
            "ours": lambda: swerve_run(bg, test, art=True),
            "default": lambda: swerve_run(bg, test, art=False),
        }
        names = [k for k, v in jobs.items() if v is not None]
        names = names[r % len(names) :] + names[: r % len(names)]
        runs.append({name: jobs[name]() for name in names})
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a quarter of the sizes")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved repeats (ratios: min/median/max)")
    parser.add_argument("--no-scaling", action="store_true", help="only the main comparison")
    args = parser.parse_args()
    scale = 4 if args.quick else 1
    n, j = 1000 // scale, 4096 // scale
    have_art = Scanner is not None
    if not have_art:
        print("ART is not installed in this environment: timing swerve alone (see the docstring to add it).")
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); "
        f"background {n}, test {n} × {j} nodes; {args.repeats} interleaved repeats; {load()}"
    )
    bg, test = activations(n, n, j)
    runs = paired(bg, test, args.repeats, have_art)
    print(f"after the repeats: {load()}")
    stages = list(runs[0]["ours"]["times"]) + ["end to end"]

    def seconds(run: dict, stage: str) -> float:
        return run["times"].get(stage, total(run))

    print(
        f"\n{'stage (median s)':<34} {'ART':>7} {'swerve, ART conv.':>18} {'swerve defaults':>16}   "
        f"{'ART / swerve, ART conv.: min / median / max':>44}"
    )
    for stage in stages:
        label = {
            "one-sample scans": f"one-sample scans ({n})",
            "group scans": f"group scans ({n // GROUP} × {GROUP}, {RESTARTS} restarts)",
        }.get(stage, stage)
        med = {k: float(np.median([seconds(r[k], stage) for r in runs])) for k in runs[0]}
        ratios = [seconds(r["art"], stage) / seconds(r["ours"], stage) for r in runs] if have_art else []
        art_txt = f"{med['art']:7.2f}" if have_art else f"{'-':>7}"
        print(
            f"{label:<34} {art_txt} {med['ours']:18.2f} {med['default']:16.2f}   "
            f"{spread(ratios) if ratios else '-':>44}"
        )
    if have_art:
        for stage in ("one-sample scans", "end to end"):
            ratios = [seconds(r["default"], stage) / seconds(r["art"], stage) for r in runs]
            print(f"swerve defaults / ART, {stage + ':':<18} {spread(ratios)}  (min / median / max)")
        print()
        if args.quick:
            print("(the bars below are set for the full sizes: without --quick)")
        verdicts(runs, seconds)
        print()
        compare(runs[0]["art"], runs[0]["ours"])
    if args.no_scaling:
        return
    print(
        f"\nscaling, end to end (s){'':<10} {'ART':>8} {'swerve, ART conv.':>18} {'speed-up':>9} "
        f"{'swerve defaults':>16}"
    )
    sizes = [(n // 4, j), (n // 2, j), (n, j // 4), (n, j // 2), (n, j)]
    for rows, cols in sizes:
        b, t = activations(rows, rows, cols, seed=1)
        a = total(art_run(b, t)) if have_art else None
        o = total(swerve_run(b, t, art=True))
        d = total(swerve_run(b, t, art=False))
        a_txt, speed = (f"{a:8.2f}", f"{a / o:8.1f}×") if a is not None else (f"{'-':>8}", f"{'-':>9}")
        print(f"{f'{rows} samples × {cols} nodes':<34} {a_txt} {o:18.2f} {speed} {d:16.2f}")
    print("(background = test size; group scans in groups of 50 with 10 restarts; one run each)")


if __name__ == "__main__":
    main()

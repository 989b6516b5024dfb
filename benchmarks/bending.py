"""Bent vs unbent forward latency on the zoo GAN, and the time model rewriting and glitching take.

The bar: a three-transform bend (rotate half the channels of conv:0, multiply all of conv:0, dilate a quarter
of conv:1) costs <= 1.3x the unbent forward pass, at batch 1 and at batch 64. Unbent and bent runs alternate
round by round, so drifts in machine load hit both sides alike; the ratios are the medians over rounds of
bent / unbent, each pair measured side by side. Times are this thread's CPU time (``time.thread_time``),
which other processes sharing the machine inflate less than wall-clock time (the last column, for
comparison); the ms columns are the best round of each. Run (one
thread, as the numbers in the README):

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bending.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import swerve
from swerve.diverge.bend import Bend, apply_bends
from swerve.diverge.glitch import glitch
from swerve.diverge.rewrite import paste_rewrite

THREE = [
    Bend("conv:0", "rotate", {"degrees": 30}, {"fraction": 0.5, "seed": 0}),
    Bend("conv:0", "multiply", {"factor": 2.0}),
    Bend("conv:1", "dilate", {"radius": 1}, {"fraction": 0.25, "seed": 0}),
]
EACH = [
    "translate",
    "rotate",
    "scale",
    "flip",
    "erode",
    "dilate",
    "multiply",
    "threshold",
    "sobel",
    "noise",
    "oscillate",
]


def forward_time(g: torch.nn.Module, z: torch.Tensor, y: torch.Tensor, reps: int) -> tuple[float, float]:
    """Seconds per forward pass: (wall clock, this thread's CPU time)."""
    wall, cpu = time.perf_counter(), time.thread_time()
    for _ in range(reps):
        g(z, y)
    return (time.perf_counter() - wall) / reps, (time.thread_time() - cpu) / reps


@torch.no_grad()
def compare(g: torch.nn.Module, bends: list[Bend], batch: int, rounds: int) -> dict[str, float]:
    """Best unbent and bent CPU seconds per pass, and the median over rounds of bent / unbent (CPU, wall)."""
    z = torch.randn(batch, 64, generator=torch.Generator().manual_seed(0))
    y = torch.arange(batch) % 10
    reps = max(2, 200 // batch)
    plain, bent = [], []
    for _ in range(rounds + 1):
        plain.append(forward_time(g, z, y, reps))
        with apply_bends(g, bends):
            bent.append(forward_time(g, z, y, reps))
    plain, bent = plain[1:], bent[1:]  # the first round warms caches up
    pairs = list(zip(plain, bent, strict=True))
    return {
        "plain": min(p[1] for p in plain),
        "bent": min(b[1] for b in bent),
        "cpu": statistics.median(b[1] / p[1] for p, b in pairs),
        "wall": statistics.median(b[0] / p[0] for p, b in pairs),
    }


def row(name: str, batch: int, r: dict[str, float]) -> str:
    return (
        f"{name:<36} {batch:>5} {r['plain'] * 1e3:>10.3f} {r['bent'] * 1e3:>9.3f} {r['cpu']:>8.2f}x "
        f"{r['wall']:>10.2f}x"
    )


def timed(fn, *args, **kwargs) -> float:  # noqa: ANN001
    """CPU seconds of one call."""
    start = time.thread_time()
    fn(*args, **kwargs)
    return time.thread_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    bundle = swerve.load("fashion-gan", device="cpu")
    g = bundle.generator.eval()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); fashion-gan (28x28 conditional "
        f"DCGAN); best of {args.rounds} interleaved rounds\n"
    )
    print(f"{'bend':<36} {'batch':>5} {'unbent ms':>10} {'bent ms':>9} {'CPU ratio':>9} {'wall ratio':>11}")
    for batch in (1, 64):
        print(row("three transforms (the bar: 1.3x)", batch, compare(g, THREE, batch, args.rounds)))
    for name in EACH:
        bend = [Bend("conv:0", name, channels={"fraction": 0.5, "seed": 0})]
        print(row(f"{name} (half of conv:0)", 64, compare(g, bend, 64, max(3, args.rounds // 3))))

    print(f"\n{'weight edit':<52} {'CPU s':>8}")
    mask = torch.zeros(28, 28)
    mask[10:18, 10:18] = 1
    for layer, rank, method, n in [
        ("conv:0", 1, "closed", 256),
        ("conv:1", 1, "closed", 256),
        ("conv:1", 4, "closed", 256),
        ("conv:1", 4, "optimize", 256),
    ]:
        seconds = timed(paste_rewrite, bundle, layer, 0, 1, mask, rank=rank, method=method, n=n)
        print(f"{f'rewrite {layer} rank {rank} {method} (C from {n} samples)':<52} {seconds:>8.2f}")
    for kind in ("gaussian", "zero", "shuffle", "reconnect"):
        seconds = timed(glitch, bundle, kind, 0.3, seed=0)
        print(f"{f'glitch {kind} 0.3, whole generator':<52} {seconds:>8.2f}")


if __name__ == "__main__":
    main()

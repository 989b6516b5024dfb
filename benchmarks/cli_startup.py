"""How long the command line takes to answer, beside the cost of importing torch.

Each case runs as a fresh process; its CPU time (user + system, from ``resource.getrusage`` of the finished
children) is set against ``python -c "import torch"`` measured in the same round, and the rounds interleave
the cases so a change in the machine's load hits them all alike. The bar: every help and ``zoo list`` at most
0.2x the CPU time of importing torch.

Run (from the repository root, one thread as elsewhere):
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/cli_startup.py --repeats 7
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

BAR = 0.2
CASES = {
    "import torch": ["-c", "import torch"],
    "swerve --help": ["-m", "swerve", "--help"],
    "swerve bend --help": ["-m", "swerve", "bend", "--help"],
    "swerve finetune --help": ["-m", "swerve", "finetune", "--help"],
    "swerve zoo list": ["-m", "swerve", "zoo", "list"],
}


def cpu_seconds(args: list[str]) -> tuple[float, float]:
    """CPU time (user + system) and wall time of ``python ARGS`` run to the end."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], check=True, stdout=subprocess.DEVNULL, env=os.environ.copy())
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="Interleaved rounds (at least 5).")
    repeats = max(5, parser.parse_args().repeats)
    cpu: dict[str, list[float]] = {name: [] for name in CASES}
    wall: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(repeats):
        for name, args in CASES.items():
            c, w = cpu_seconds(args)
            cpu[name].append(c)
            wall[name].append(w)
    base = cpu["import torch"]
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
        f"{repeats} interleaved rounds; CPU time = user + system of the child process"
    )
    print(f"{'case':<24}{'CPU s (median)':>15}{'wall s (median)':>16}   ratio to torch's: min / median / max")
    for name in CASES:
        ratios = [c / b for c, b in zip(cpu[name], base, strict=True)]
        verdict = (
            "" if name == "import torch" else ("  ok" if max(ratios) <= BAR else f"  above the bar {BAR}")
        )
        print(
            f"{name:<24}{statistics.median(cpu[name]):>15.3f}{statistics.median(wall[name]):>16.3f}   "
            f"{min(ratios):.3f} / {statistics.median(ratios):.3f} / {max(ratios):.3f}{verdict}"
        )


if __name__ == "__main__":
    main()

"""Sweep throughput: jobs per second of a bending sweep on 1 vs 2 local workers, and Ray's cost per job.

    OMP_NUM_THREADS=1 python benchmarks/sweep.py [--jobs-per-seed 8] [--seeds 4] [--n 64]

Every run starts from an empty results folder, so every job runs (nothing is cached). The 2-worker run
includes starting its process pool; the time a job takes inside its worker shows whether the workers had a
core each (it stays flat) or shared one with other work (it grows). Ray's start-up is timed apart and its
per-job overhead is the rest of its time per job minus the in-process time per job. Ray rows appear when
Ray is installed (swerve[ray]).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from swerve.scale import parse_spec, run_sweep


def spec(factors: int, seeds: int, n: int) -> dict:
    """Multiply one layer's activations by a range of factors (network bending), over seeds."""
    bend = {"layer": "blocks.0", "transform": "multiply", "params": {"factor": 1.0}}
    return {
        "name": "bench-bend",
        "bundle": "fashion-gan",
        "n": n,
        "seeds": list(range(seeds)),
        "metrics": ["change", "diversity"],
        "save_samples": False,
        "jobs": [
            {
                "operation": "bend",
                "params": {"bends": [bend]},
                "grid": {"bends.0.params.factor": [0.25 + 0.5 * i for i in range(factors)]},
            }
        ],
    }


def timed(parsed, workers: int, backend: str) -> tuple[float, float]:
    """Wall-clock seconds of the sweep, and the mean seconds one job took inside its worker."""
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        result = run_sweep(parsed, Path(out), workers=workers, backend=backend, progress=False)
        seconds = time.perf_counter() - start
    assert result.ran == len(parsed.jobs) and not result.failed, result.failed
    return seconds, sum(r["seconds"] for r in result.results) / len(result.results)


def ray_startup(workers: int) -> float:
    from swerve.scale.backends import make_backend

    start = time.perf_counter()
    with make_backend("ray", workers):
        pass
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs-per-seed", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--n", type=int, default=64, help="samples per job")
    args = parser.parse_args()
    parsed = parse_spec(spec(args.jobs_per_seed, args.seeds, args.n))
    jobs = len(parsed.jobs)
    timed(parse_spec(spec(1, 1, args.n)), 1, "local")  # warm-up: imports, bundle loading

    rows = []
    one, job_one = timed(parsed, 1, "local")
    rows.append(("local, 1 worker (in-process)", one, 1.0, f"{1000 * job_one:.0f} ms/job inside the worker"))
    two, job_two = timed(parsed, 2, "local")
    rows.append(
        ("local, 2 workers (pool)", two, one / two / 2, f"{1000 * job_two:.0f} ms/job inside a worker")
    )
    try:
        import ray  # noqa: F401

        have_ray = True
    except ImportError:
        have_ray = False
    if have_ray:
        for workers in (1, 2):
            startup = ray_startup(workers)
            seconds, _ = timed(parsed, workers, "ray")
            per_job = (seconds - startup) / jobs - one / jobs
            rows.append(
                (
                    f"ray, {workers} worker(s)",
                    seconds,
                    one / seconds / workers,
                    f"start-up {startup:.1f} s; overhead {1000 * per_job:+.0f} ms/job",
                )
            )

    print(f"bending sweep: {jobs} jobs of {args.n} samples (fashion-gan), {os.cpu_count()} CPU cores")
    print(f"{'backend':<32}{'seconds':>9}{'jobs/s':>9}{'efficiency':>12}  notes")
    for name, seconds, efficiency, note in rows:
        print(f"{name:<32}{seconds:>9.2f}{jobs / seconds:>9.2f}{efficiency:>11.0%}  {note}")
    if not have_ray:
        print("ray: not installed (pip install 'swerve[ray]'), no Ray rows")


if __name__ == "__main__":
    main()

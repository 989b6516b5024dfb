"""swerve's StyleGAN2/3 against NVIDIA's own code with its reference (non-CUDA) ops, on the CPU.

For each network this builds a random-weight generator with NVIDIA's code (a checkout of NVlabs/stylegan3,
as in ``stylegan_reference_check.py``), imports its pickle with swerve, checks that both give the same images
(max |difference| <= 1e-4) and times both on the same latents: ``--repeats`` paired repeats, the order of the
two alternating, each repeat giving one ratio (NVIDIA / swerve), printed as min / median / max. Times are
CPU seconds of this (single-threaded) process, which another process on a shared core inflates far less than
wall time; the load average is printed before and after. Bars: StyleGAN2 >= 2x, StyleGAN3-T/-R >= 8x.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/stylegan_vs_reference.py --stylegan3 ~/src/stylegan3 \\
        [--resolution 64] [--batch 2] [--repeats 5] [--nets 2,T,R]

Not a test: the reference code is not a dependency of swerve.
"""

from __future__ import annotations

import argparse
import os
import pickle
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from stylegan_reference_check import _randomise, _stub_unused_imports

from swerve.models.importers import import_model

BARS = {"2": 2.0, "T": 8.0, "R": 8.0}


def nvidia_generator(nets, kind: str, res: int) -> torch.nn.Module:
    """A random NVIDIA generator at the papers' widths (512-d z and w; config F / T / R)."""
    sg2, sg3 = nets
    common = dict(z_dim=512, c_dim=0, w_dim=512, img_resolution=res, img_channels=3, num_fp16_res=0)
    if kind == "2":
        return _randomise(sg2.Generator(**common, channel_base=32768, channel_max=512, conv_clamp=256))
    r_config = dict(conv_kernel=1, use_radial_filters=True, channel_base=65536, channel_max=1024)
    extra = {} if kind == "T" else r_config
    return _randomise(sg3.Generator(**common, **extra))


def cpu_seconds(fn) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stylegan3", type=Path, required=True, help="A checkout of NVlabs/stylegan3.")
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--nets", default="2,T,R", help="Comma-separated: 2 (StyleGAN2), T, R.")
    args = parser.parse_args()
    _stub_unused_imports()
    sys.path.insert(0, str(args.stylegan3))
    from training import networks_stylegan2, networks_stylegan3

    torch.manual_seed(0)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {args.resolution}px, batch "
        f"{args.batch}, {args.repeats} paired repeats; load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    print(f"{'network':<14}{'max |diff|':>11}{'NVIDIA s':>10}{'swerve s':>10}", end="")
    print("   NVIDIA / swerve: min / median / max")
    failed = []
    for kind in args.nets.split(","):
        ref = nvidia_generator((networks_stylegan2, networks_stylegan3), kind, args.resolution)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "net.pkl"
            path.write_bytes(pickle.dumps({"G_ema": ref}))
            ours = import_model(path).generator.eval()
        z = torch.randn(args.batch, 512)
        runs = {
            "ref": lambda ref=ref, z=z: ref(z, None, truncation_psi=0.7, noise_mode="const"),
            "ours": lambda ours=ours, z=z: ours(z, truncation_psi=0.7),
        }
        with torch.no_grad():
            diff = (runs["ref"]() - runs["ours"]()).abs().max().item()  # also the warm-up
            times = {"ref": [], "ours": []}
            for i in range(args.repeats):
                for name in ("ref", "ours") if i % 2 == 0 else ("ours", "ref"):
                    times[name].append(cpu_seconds(runs[name]))
        ratios = sorted(r / o for r, o in zip(times["ref"], times["ours"], strict=True))
        median = statistics.median(ratios)
        name = "StyleGAN2" if kind == "2" else f"StyleGAN3-{kind}"
        verdict = "ok" if median >= BARS[kind] and diff <= 1e-4 else f"below the {BARS[kind]:g}x bar"
        if diff > 1e-4:
            verdict = "outputs differ by more than 1e-4"
        print(
            f"{name:<14}{diff:>11.1e}{statistics.median(times['ref']):>10.2f}"
            f"{statistics.median(times['ours']):>10.2f}   "
            f"{ratios[0]:.2f}x / {median:.2f}x / {ratios[-1]:.2f}x  ({verdict})",
            flush=True,
        )
        if verdict != "ok":
            failed.append(name)
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    if failed:
        print("bars not met: " + ", ".join(failed))


if __name__ == "__main__":
    main()

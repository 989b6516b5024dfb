"""swerve's StyleGAN2/3 against NVIDIA's own code with its reference (non-CUDA) ops, on the CPU.

For each network this builds a random-weight generator with NVIDIA's code (a checkout of NVlabs/stylegan3,
as in ``stylegan_reference_check.py``), imports its pickle with swerve, checks that both give the same images
(max |difference| <= 1e-4) and times both on the same latents: ``--repeats`` paired repeats, the order of the
two alternating, each repeat giving one ratio (NVIDIA / swerve), printed as min / median / max. Times are
CPU seconds of this (single-threaded) process, which another process on a shared core inflates far less than
wall time; the load average is printed before and after. Bars: StyleGAN2 >= 2x, StyleGAN3-T/-R >= 8x.

After the timed repeats, one profiled call of each code splits its CPU time per op family (conv,
modulation/demod, up/down-sampling, filtered_lrelu, bias_act, mapping, affine, others; see
``stylegan_profile.py``). Both codes run the same torch convolutions, so unless swerve's convolutions get
cheaper than NVIDIA's, the speed-up cannot pass NVIDIA's total over swerve's convolution time: the
*ceiling*, printed as the median paired ratio divided by swerve's convolution share. A bar above the ceiling
is out of reach of everything but faster convolutions, and the verdict says so.

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
from stylegan_profile import FAMILIES, family_split
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


def print_split(split: dict, median: float, conv_share: float, ceiling: float, bar: float) -> None:
    """The per-family table of one profiled call of each code, and the ceiling it implies."""
    totals = {name: sum(split[name].values()) for name in split}
    print(f"  {'CPU ms per op family (profiled call)':<38}{'NVIDIA':>14}{'swerve':>14}")
    for family in FAMILIES:
        cells = "".join(
            f"{split[name][family] * 1e3:>8.0f} ({split[name][family] / totals[name]:>3.0%})"
            for name in ("ref", "ours")
        )
        print(f"  {family:<38}{cells}")
    print(f"  {'total':<38}{totals['ref'] * 1e3:>8.0f}{'':>6}{totals['ours'] * 1e3:>8.0f}")
    why = "only faster convolutions can reach the bar" if ceiling < bar else "the bar is below it"
    print(
        f"  ceiling = NVIDIA total / swerve's convolutions = {median:.2f}x / {conv_share:.0%}"
        f" = {ceiling:.2f}x ({why})",
        flush=True,
    )


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
            split = {name: family_split(runs[name], net) for name, net in (("ref", ref), ("ours", ours))}
        ratios = sorted(r / o for r, o in zip(times["ref"], times["ours"], strict=True))
        median = statistics.median(ratios)
        conv_share = split["ours"]["conv"] / sum(split["ours"].values())
        ceiling = median / conv_share
        name = "StyleGAN2" if kind == "2" else f"StyleGAN3-{kind}"
        bar = BARS[kind]
        verdict = "bar met" if median >= bar else f"bar {bar:g}x missed"
        if median < bar and ceiling < bar:
            verdict += f"; above the ceiling {ceiling:.1f}x"
        if diff > 1e-4:
            verdict = "outputs differ by more than 1e-4"
        print(
            f"{name:<14}{diff:>11.1e}{statistics.median(times['ref']):>10.2f}"
            f"{statistics.median(times['ours']):>10.2f}   "
            f"{ratios[0]:.2f}x / {median:.2f}x / {ratios[-1]:.2f}x  ({verdict})",
            flush=True,
        )
        print_split(split, median, conv_share, ceiling, bar)
        if not verdict.startswith("bar met"):
            failed.append(name)
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    if failed:
        print("bars not met: " + ", ".join(failed))


if __name__ == "__main__":
    main()

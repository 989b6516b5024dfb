"""How close a StyleGAN2 frame comes to what this machine's convolutions can do.

1. Attainable conv throughput: every convolution of the StyleGAN2 generator (config F, ``--resolution``)
   run bare, at its own shape (``F.conv2d`` / ``F.conv_transpose2d`` on a random input, nothing else),
   with one thread and with two: GFLOP/s per distinct shape and for the whole set.
2. The generator's forward pass, counted as the same convolution FLOPs (2 per multiply-add; FIR filters,
   modulation and activations add work but are not counted), as achieved GFLOP/s and as a share of (1)
   at the same thread count. Bar: >= 50%.
3. Modulated convolution three ways at the generator's 3x3 shapes: modulating the activations around one
   batched convolution (what swerve runs), one grouped convolution with per-sample weights (the reference
   code's ``fused_modconv``), and the first in ``channels_last``.

The bare set and the generator run in ``--repeats`` paired repeats, order alternating; each repeat gives a
share, printed as min / median / max. Times are CPU seconds of the process (one thread) or wall seconds
(two threads, where CPU time would add both threads); the load average is printed.

    .venv/bin/python benchmarks/conv_peak.py [--resolution 256] [--batch 1] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from swerve.models.stylegan2 import StyleGAN2Config, StyleGAN2Generator

BAR = 0.5


def conv_calls(g: nn.Module, z: torch.Tensor) -> list[tuple[nn.Module, torch.Size, float]]:
    """(conv module, input shape, FLOPs) for every convolution one forward pass makes, in order."""
    calls = []

    def record(module, inputs, output):
        x = inputs[0]
        k = module.weight[0, 0].numel()
        if isinstance(module, nn.ConvTranspose2d):  # every input pixel meets every tap once
            macs = x.numel() * module.out_channels * k / module.groups
        else:
            macs = output.numel() * module.in_channels * k / module.groups
        calls.append((module, x.shape, 2.0 * macs))

    hooks = [
        m.register_forward_hook(record) for m in g.modules() if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)
    ]
    with torch.no_grad():
        g(z)
    for h in hooks:
        h.remove()
    return calls


def bare(calls, inputs) -> None:
    """The same convolutions with nothing around them."""
    for (module, _, _), x in zip(calls, inputs, strict=True):
        if isinstance(module, nn.ConvTranspose2d):
            F.conv_transpose2d(x, module.weight, stride=module.stride)
        else:
            F.conv2d(x, module.weight, stride=module.stride, padding=module.padding)


def clock(fn, threads: int) -> float:
    """CPU seconds with one thread (less inflated by other load), wall seconds with more."""
    read = time.process_time if threads == 1 else time.perf_counter
    start = read()
    fn()
    return read() - start


def spread(values: list[float]) -> str:
    v = sorted(values)
    return f"{v[0]:.0%} / {statistics.median(v):.0%} / {v[-1]:.0%}"


def modulated_conv_table(calls, batch: int, repeats: int) -> None:
    print(f"\n3. modulated 3x3 convolution, batch {batch}, one thread (ms, best of {repeats})")
    print(f"{'input shape':<22}{'activations':>12}{'grouped':>10}{'channels_last':>15}")
    seen = set()
    for module, shape, _ in calls:
        if isinstance(module, nn.ConvTranspose2d) or module.kernel_size != (3, 3) or shape in seen:
            continue
        seen.add(shape)
        n, cin, h, w = shape
        x, weight = torch.randn(shape), module.weight.detach()
        s, d = torch.rand(n, cin) + 0.5, torch.rand(n, module.out_channels) + 0.5
        xl = x.contiguous(memory_format=torch.channels_last)

        def activations(x=x, s=s, d=d, weight=weight):
            return F.conv2d(x * s[:, :, None, None], weight, padding=1) * d[:, :, None, None]

        def grouped(x=x, s=s, d=d, weight=weight, n=n, cin=cin, h=h, w=w):
            ws = weight.unsqueeze(0) * s[:, None, :, None, None] * d[:, :, None, None, None]
            y = F.conv2d(x.reshape(1, -1, h, w), ws.reshape(-1, cin, 3, 3), padding=1, groups=n)
            return y.reshape(n, -1, h, w)

        row = []
        for fn in (activations, grouped, lambda xl=xl: activations(xl)):
            fn()
            row.append(min(clock(fn, 1) for _ in range(repeats)) * 1e3)
        print(f"{str(tuple(shape)):<22}{row[0]:>12.1f}{row[1]:>10.1f}{row[2]:>15.1f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", default="1,2", help="Thread counts to measure, comma-separated.")
    args = parser.parse_args()
    torch.manual_seed(0)
    g = StyleGAN2Generator(StyleGAN2Config(resolution=args.resolution)).eval()
    z = torch.randn(args.batch, 512)
    calls = conv_calls(g, z)
    total = sum(f for _, _, f in calls)
    inputs = [torch.randn(shape) for _, shape, _ in calls]
    print(
        f"torch {torch.__version__}; StyleGAN2 {args.resolution}px generator, batch {args.batch}: "
        f"{len(calls)} convolutions, {total / 1e9:.1f} GFLOP; load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    print("\n1. bare convolutions (GFLOP/s, best of the repeats)")
    by_shape: dict[tuple, list] = {}
    for (module, shape, flops), x in zip(calls, inputs, strict=True):
        kind = (
            "T"
            if isinstance(module, nn.ConvTranspose2d)
            else f"{module.kernel_size[0]}x{module.kernel_size[1]}"
        )
        by_shape.setdefault((kind, tuple(shape), module.out_channels), [module, x, flops])
    results = {}
    for threads in [int(t) for t in args.threads.split(",")]:
        torch.set_num_threads(threads)
        with torch.no_grad():
            bare(calls, inputs)
            g(z)
            rates = {}
            for key, (module, x, flops) in by_shape.items():
                one = [(module, x.shape, flops)]
                rates[key] = (
                    flops / min(clock(lambda one=one, x=x: bare(one, [x]), threads) for _ in range(3)) / 1e9
                )
            shares, bare_s, g_s = [], [], []
            for i in range(args.repeats):
                order = ("bare", "g") if i % 2 == 0 else ("g", "bare")
                t = {}
                for name in order:
                    t[name] = clock(
                        (lambda: bare(calls, inputs)) if name == "bare" else (lambda: g(z)), threads
                    )
                bare_s.append(t["bare"])
                g_s.append(t["g"])
                shares.append(t["bare"] / t["g"])
        results[threads] = (rates, bare_s, g_s, shares)
    keys = list(by_shape)
    header = "".join(f"{f'{t} thread(s)':>14}" for t in results)
    print(f"{'conv':<6}{'input shape':<22}{'out ch':>7}{header}")
    for key in keys:
        kind, shape, out = key
        print(f"{kind:<6}{str(shape):<22}{out:>7}" + "".join(f"{r[0][key]:>14.1f}" for r in results.values()))
    print(f"\n2. the generator's forward pass ({total / 1e9:.1f} GFLOP of convolutions per call)")
    print(f"{'threads':<9}{'bare s':>8}{'bare GFLOP/s':>14}{'G s':>8}{'G GFLOP/s':>11}", end="")
    print("   share of bare: min / median / max")
    for threads, (_, bare_s, g_s, shares) in results.items():
        b, gm = statistics.median(bare_s), statistics.median(g_s)
        verdict = "ok" if statistics.median(shares) >= BAR else f"below the {BAR:.0%} bar"
        print(
            f"{threads:<9}{b:>8.2f}{total / b / 1e9:>14.1f}{gm:>8.2f}{total / gm / 1e9:>11.1f}   "
            f"{spread(shares)}  ({verdict})"
        )
    torch.set_num_threads(1)
    with torch.no_grad():
        modulated_conv_table(calls, args.batch, 3)
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

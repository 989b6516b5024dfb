"""StyleGAN on the CPU: milliseconds per 256x256 image, and what the plain-torch reference ops cost.

Three tables from one run:

1. ms per image for the StyleGAN2 config-F generator (rosinality's ``channel_multiplier=2``, 30M parameters)
   and the discriminator at batch 1 and 8, and StyleGAN3-T/R generators at batch 1;
2. the StyleGAN2 generator against a *plain-convolution skeleton*: the same sequence of convolution shapes
   (``F.conv2d`` / ``F.conv_transpose2d`` with one fixed weight, leaky ReLU, no modulation, no filters) -- the
   ratio is the overhead of modulation/demodulation (one weight per sample, grouped convolution), FIR
   filtering and bias_act;
3. the time inside each reference op (``upfirdn2d``, ``bias_act``, ``filtered_lrelu``) as a share of the
   whole forward pass, and ``filtered_lrelu`` against a plain 3x3 convolution (bar: <= 5x) and a bare
   ``F.leaky_relu`` of the same input.

Run (single-threaded, as the numbers in the README were taken):

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/stylegan_cpu.py [--repeats 3] [--skip-sg3]

Times are CPU time of the (single-threaded) process, best of ``--repeats``: on a shared machine wall-clock
time inflates with other load, CPU time much less (caches are still shared); the ratios are steadiest.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections import defaultdict

import torch
import torch.nn.functional as F

from swerve.models import ops
from swerve.models import stylegan3 as sg3_module
from swerve.models.stylegan2 import StyleGAN2Config, StyleGAN2Discriminator, StyleGAN2Generator
from swerve.models.stylegan3 import StyleGAN3Config, StyleGAN3Generator


def best_ms(fn, repeats: int) -> float:
    """Best of ``repeats`` runs in ms of this process's CPU time: single-threaded, that is the compute the
    call needs, much less inflated than wall-clock time when other processes share the cores."""
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times) * 1e3


def plain_skeleton(g: StyleGAN2Generator):
    """A function running the generator's convolution shapes as plain convolutions."""
    convs = []
    for res in g.synthesis.resolutions:
        block = getattr(g.synthesis, f"b{res}")
        for name in ("conv0", "conv1"):
            layer = getattr(block, name, None)
            if layer is not None:
                rgb = block.torgb.conv.weight.detach().clone()
                convs.append((layer.weight.detach().clone(), layer.up, rgb))
    const = g.synthesis.b4.const.detach()

    def run(n: int) -> torch.Tensor:
        x, img = const.expand(n, -1, -1, -1), None
        for w, up, rgb in convs:
            if up > 1:
                x = F.conv_transpose2d(x, w.transpose(0, 1), stride=2, padding=1, output_padding=1)
                img = F.interpolate(img, scale_factor=2) if img is not None else None
            else:
                x = F.conv2d(x, w, padding=1)
            x = F.leaky_relu(x, 0.2)
            y = F.conv2d(x, rgb)
            img = y if img is None or img.shape != y.shape else img + y
        return img

    return run


@contextlib.contextmanager
def op_timers():
    """Accumulate the wall time spent inside each reference op while the block runs."""
    spent: dict[str, float] = defaultdict(float)
    originals = {name: getattr(ops, name) for name in ("upfirdn2d", "bias_act", "filtered_lrelu")}

    def timed(name, fn):
        def wrapper(*args, **kwargs):
            start = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] += time.process_time() - start

        return wrapper

    patched = [ops, sg3_module]
    import swerve.models.stylegan2 as sg2_module

    patched.append(sg2_module)
    saved = []
    for module in patched:
        for name, fn in originals.items():
            if hasattr(module, name):
                saved.append((module, name, getattr(module, name)))
                setattr(module, name, timed(name, fn))
    try:
        yield spent
    finally:
        for module, name, fn in saved:
            setattr(module, name, fn)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--resolution", type=int, default=256, help="Image size (256 for the README numbers)."
    )
    parser.add_argument("--skip-sg3", action="store_true", help="Leave out the (slow) StyleGAN3 rows.")
    args = parser.parse_args()
    res, repeats = args.resolution, args.repeats
    torch.manual_seed(0)
    cfg = StyleGAN2Config(resolution=res)
    g, d = StyleGAN2Generator(cfg).eval(), StyleGAN2Discriminator(cfg).eval()
    params = sum(p.numel() for p in g.parameters()) / 1e6
    threads = torch.get_num_threads()
    print(
        f"torch {torch.__version__}, {threads} thread(s); StyleGAN2 {res}px G {params:.1f}M params",
        flush=True,
    )

    rows = []
    skeleton = plain_skeleton(g)
    with torch.no_grad():
        for n in (1, 8):
            z = torch.randn(n, cfg.z_dim)
            x = g(z)
            g_ms = best_ms(lambda z=z: g(z), repeats) / n
            d_ms = best_ms(lambda x=x: d(x), repeats) / n
            plain_ms = best_ms(lambda n=n: skeleton(n), repeats) / n
            rows.append((n, g_ms, d_ms, plain_ms))
    print(f"\n1. ms per {res}x{res} image (CPU time, best of {repeats} runs)")
    print(f"{'model':<28}{'batch 1':>10}{'batch 8':>10}")
    print(f"{'StyleGAN2 G (config F)':<28}{rows[0][1]:>10.0f}{rows[1][1]:>10.0f}")
    print(f"{'StyleGAN2 D (resnet)':<28}{rows[0][2]:>10.0f}{rows[1][2]:>10.0f}", flush=True)
    g3s = {}
    if not args.skip_sg3:
        with torch.no_grad():
            for kind in ("T", "R"):
                g3s[kind] = StyleGAN3Generator(StyleGAN3Config.preset(kind, resolution=res)).eval()
                z = torch.randn(1, 512)
                ms = best_ms(lambda z=z, g3=g3s[kind]: g3(z), max(1, repeats - 1))
                print(f"{'StyleGAN3-' + kind + ' G':<28}{ms:>10.0f}{'-':>10}", flush=True)

    print("\n2. StyleGAN2 G against plain convolutions of the same shapes (ms per image)")
    print(f"{'batch':<8}{'swerve G':>10}{'plain convs':>13}{'overhead':>10}")
    for n, g_ms, _, plain_ms in rows:
        print(f"{n:<8}{g_ms:>10.0f}{plain_ms:>13.0f}{g_ms / plain_ms:>9.2f}x", flush=True)

    with torch.no_grad(), op_timers() as spent:
        start = time.process_time()
        g(torch.randn(8, cfg.z_dim))
        shares_g = {k: v / (time.process_time() - start) for k, v in spent.items()}
    shares_3 = {}
    if g3s:
        with torch.no_grad(), op_timers() as spent3:
            start = time.process_time()
            g3s["T"](torch.randn(1, 512))
            shares_3 = {k: v / (time.process_time() - start) for k, v in spent3.items()}
    print("\n3. share of the forward pass inside each reference op")
    print(f"{'op':<16}{'SG2 G, batch 8':>16}{'SG3-T G, batch 1':>18}")
    for name in ("upfirdn2d", "bias_act", "filtered_lrelu"):
        b = shares_3.get(name)
        print(f"{name:<16}{shares_g.get(name, 0.0):>15.0%}{'' if b is None else format(b, '>17.0%')}")
    print("(filtered_lrelu's share includes the upfirdn2d and bias_act calls it makes)", flush=True)
    if g3s:
        g3 = g3s["T"]
        i = 8  # a mid-network layer; its nonlinearity's input is the convolution's (padded) output
        layer = getattr(g3.synthesis, g3.synthesis.layer_names[i])
        size = sg3_module.layer_schedule(g3.config)[i - 1]["size"] + layer.conv_kernel - 1
        h = torch.randn(1, layer.conv.out_channels, size, size)
        weight = torch.randn(h.shape[1], h.shape[1], 3, 3)
        with torch.no_grad():
            flr = best_ms(
                lambda: ops.filtered_lrelu(
                    h, layer.up_filter, layer.down_filter, layer.bias, layer.up, layer.down, layer.padding
                ),
                repeats,
            )
            lr = best_ms(lambda: F.leaky_relu(h, 0.2), repeats)
            conv = best_ms(lambda: F.conv2d(h, weight, padding=1), repeats)
        print(
            f"\nfiltered_lrelu on {tuple(h.shape)}: {flr:.1f} ms, {flr / conv:.2f}x a plain 3x3 conv of "
            f"the same shape ({conv:.1f} ms; bar <= 5x), {flr / lr:.0f}x F.leaky_relu ({lr:.2f} ms)"
        )


if __name__ == "__main__":
    main()

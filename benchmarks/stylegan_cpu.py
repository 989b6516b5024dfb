"""StyleGAN on the CPU: milliseconds per 256x256 image, and what the plain-torch reference ops cost.

Three tables from one run:

1. ms per image for the StyleGAN2 config-F generator (rosinality's ``channel_multiplier=2``, 30M parameters)
   and the discriminator at batch 1 and 8, and StyleGAN3-T/R generators at batch 1;
2. the StyleGAN2 generator against a *plain-convolution skeleton*: the same sequence of convolution shapes
   (``F.conv2d`` / ``F.conv_transpose2d`` with one fixed weight, leaky ReLU, no modulation, no filters) -- the
   ratio is the overhead of modulation/demodulation (one weight per sample, grouped convolution), FIR
   filtering and bias_act;
3. the time inside each reference op (``upfirdn2d``, ``bias_act``, ``filtered_lrelu``) as a share of the
   whole forward pass, and ``filtered_lrelu`` against a bare ``F.leaky_relu`` of the same input.

Run (single-threaded, as the numbers in the README were taken):

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/stylegan_cpu.py [--repeats 3] [--skip-sg3]

On a shared machine the absolute numbers inflate with other load; the ratios are steadier.
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
    """Best of ``repeats`` wall-clock runs, in ms (the minimum is the least disturbed by other load)."""
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
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
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - start

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
    parser.add_argument("--skip-sg3", action="store_true", help="Leave out the (slow) StyleGAN3 rows.")
    args = parser.parse_args()
    torch.manual_seed(0)
    cfg = StyleGAN2Config(resolution=256)
    g, d = StyleGAN2Generator(cfg).eval(), StyleGAN2Discriminator(cfg).eval()
    params = sum(p.numel() for p in g.parameters()) / 1e6
    threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, {threads} thread(s); StyleGAN2 256px G {params:.1f}M params")

    rows = []
    skeleton = plain_skeleton(g)
    with torch.no_grad():
        for n in (1, 8):
            z = torch.randn(n, cfg.z_dim)
            x = g(z)
            g_ms = best_ms(lambda z=z: g(z), args.repeats) / n
            d_ms = best_ms(lambda x=x: d(x), args.repeats) / n
            plain_ms = best_ms(lambda n=n: skeleton(n), args.repeats) / n
            rows.append((n, g_ms, d_ms, plain_ms))
        sg3_rows = []
        if not args.skip_sg3:
            for kind in ("T", "R"):
                g3 = StyleGAN3Generator(StyleGAN3Config.preset(kind, resolution=256)).eval()
                z = torch.randn(1, 512)
                sg3_rows.append((kind, best_ms(lambda z=z, g3=g3: g3(z), max(1, args.repeats - 1))))
        with op_timers() as spent:
            start = time.perf_counter()
            g(torch.randn(8, cfg.z_dim))
            total_g = time.perf_counter() - start
        shares_g = dict(spent)
        shares_3 = {}
        if not args.skip_sg3:
            g3 = StyleGAN3Generator(StyleGAN3Config.preset("T", resolution=256)).eval()
            with op_timers() as spent3:
                start = time.perf_counter()
                g3(torch.randn(1, 512))
                total_3 = time.perf_counter() - start
            shares_3 = {k: v / total_3 for k, v in spent3.items()}
            i = 8  # a mid-network layer; its nonlinearity's input is the convolution's (padded) output
            layer = getattr(g3.synthesis, g3.synthesis.layer_names[i])
            size = sg3_module.layer_schedule(g3.config)[i - 1]["size"] + layer.conv_kernel - 1
            h = torch.randn(1, layer.weight.shape[0], size, size)
            flr = best_ms(
                lambda: ops.filtered_lrelu(
                    h, layer.up_filter, layer.down_filter, layer.bias, layer.up, layer.down, layer.padding
                ),
                args.repeats,
            )
            lr = best_ms(lambda: F.leaky_relu(h, 0.2), args.repeats)

    print("\n1. ms per 256x256 image (best of", args.repeats, "runs)")
    print(f"{'model':<28}{'batch 1':>10}{'batch 8':>10}")
    print(f"{'StyleGAN2 G (config F)':<28}{rows[0][1]:>10.0f}{rows[1][1]:>10.0f}")
    print(f"{'StyleGAN2 D (resnet)':<28}{rows[0][2]:>10.0f}{rows[1][2]:>10.0f}")
    for kind, ms in sg3_rows:
        print(f"{'StyleGAN3-' + kind + ' G':<28}{ms:>10.0f}{'-':>10}")
    print("\n2. StyleGAN2 G against plain convolutions of the same shapes (ms per image)")
    print(f"{'batch':<8}{'swerve G':>10}{'plain convs':>13}{'overhead':>10}")
    for n, g_ms, _, plain_ms in rows:
        print(f"{n:<8}{g_ms:>10.0f}{plain_ms:>13.0f}{g_ms / plain_ms:>9.2f}x")
    print("\n3. share of the forward pass inside each reference op")
    print(f"{'op':<16}{'SG2 G, batch 8':>16}{'SG3-T G, batch 1':>18}")
    for name in ("upfirdn2d", "bias_act", "filtered_lrelu"):
        a = shares_g.get(name, 0.0) / total_g
        b = shares_3.get(name)
        print(f"{name:<16}{a:>15.0%}{'' if b is None else format(b, '>17.0%')}")
    print("(filtered_lrelu's share includes the upfirdn2d and bias_act calls it makes)")
    if not args.skip_sg3:
        print(
            f"\nfiltered_lrelu on {tuple(h.shape)}: {flr:.1f} ms vs F.leaky_relu {lr:.2f} ms "
            f"({flr / lr:.0f}x: two FIR passes at twice the rate)"
        )


if __name__ == "__main__":
    main()

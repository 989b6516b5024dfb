"""Check swerve's StyleGAN2/3 against the reference implementations, through the importers.

For each reference code base you have checked out, this builds small random networks *with that code*,
saves them the way it does (an NVIDIA pickle with ``pickle.dump``, or a rosinality ``torch.save`` of state
dicts), imports the file with swerve and prints the largest difference between the two outputs. The
reference networks run on the CPU, where their custom ops fall back to plain torch, so nothing compiles.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/stylegan_reference_check.py \\
        --stylegan3 ~/src/stylegan3 --ada ~/src/stylegan2-ada-pytorch --rosinality ~/src/stylegan2-pytorch

Not a test: the reference code is not a dependency of swerve (and is not redistributed with it).
"""

from __future__ import annotations

import argparse
import pickle
import sys
import tempfile
import types
from pathlib import Path

import torch

from swerve.models.importers import import_model


def _stub_unused_imports() -> None:
    """The reference packages import modules for features not used here (downloads, version parsing,
    compiling kernels): give them inert stand-ins so the CPU paths can run."""
    sys.modules.setdefault("requests", types.ModuleType("requests"))
    resources = types.ModuleType("pkg_resources")
    resources.parse_version = lambda s: tuple(int(p) for p in s.split("+")[0].split(".")[:3] if p.isdigit())
    sys.modules.setdefault("pkg_resources", resources)
    import torch.utils.cpp_extension as cpp

    cpp.load = lambda *args, **kwargs: types.SimpleNamespace()


def _randomise(net: torch.nn.Module) -> torch.nn.Module:
    """Non-zero noise strengths, biases and running statistics, so every path shows in the output."""
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith(("noise_strength", "noise.weight", "bias")) and "modulation" not in name:
                p.add_(torch.randn(p.shape) * 0.2)
        for name, b in net.named_buffers():
            if name.endswith("magnitude_ema"):
                b.fill_(0.6)
            elif name.endswith("w_avg"):
                b.normal_()
    return net.eval().requires_grad_(False)


def _diff(a: torch.Tensor, b: torch.Tensor) -> str:
    return f"{(a - b).abs().max().item():.1e} (|x| {a.abs().mean().item():.2f})"


def check_nvidia(root: Path, tmp: Path, flat_kwargs: bool) -> list[tuple[str, str, str]]:
    """StyleGAN2 (three architectures, with and without labels) and, for the stylegan3 repo, T and R."""
    sys.path.insert(0, str(root))
    import dnnlib

    if flat_kwargs:
        from training import networks_stylegan2 as sg2
        from training import networks_stylegan3 as sg3
    else:
        from training import networks as sg2

        sg3 = None
    rows = []
    for arch in ("skip", "resnet", "orig"):
        for c_dim in (0, 3):
            synthesis = dict(
                channel_base=256, channel_max=16, num_fp16_res=0, conv_clamp=256, architecture=arch
            )
            common = dict(
                z_dim=8,
                c_dim=c_dim,
                w_dim=8,
                img_resolution=32,
                img_channels=3,
                mapping_kwargs=dnnlib.EasyDict(num_layers=2),
            )
            if flat_kwargs:
                g = sg2.Generator(**common, **synthesis)
            else:
                g = sg2.Generator(**common, synthesis_kwargs=dnnlib.EasyDict(synthesis))
            d = sg2.Discriminator(
                c_dim=c_dim,
                img_resolution=32,
                img_channels=3,
                architecture=arch,
                channel_base=256,
                channel_max=16,
                num_fp16_res=0,
                conv_clamp=256,
                epilogue_kwargs=dnnlib.EasyDict(mbstd_group_size=4),
            )
            g, d = _randomise(g), _randomise(d)
            path = tmp / "net.pkl"
            path.write_bytes(pickle.dumps({"G_ema": g, "D": d, "training_set_kwargs": dnnlib.EasyDict()}))
            bundle = import_model(path)
            z, labels = torch.randn(4, 8), torch.tensor([0, 1, 2, 0]) if c_dim else None
            c = torch.nn.functional.one_hot(labels, c_dim).float() if c_dim else None
            with torch.no_grad():
                x = g(z, c, truncation_psi=0.7, noise_mode="const")
                ours = bundle.generator(z, labels, truncation_psi=0.7)
                d_diff = _diff(d(x, c).squeeze(1), bundle.discriminator(x, labels))
            rows.append((f"StyleGAN2 {arch}, {c_dim} classes", _diff(x, ours), d_diff))
    for kind, extra in (("T", {}), ("R", {"conv_kernel": 1, "use_radial_filters": True})) if sg3 else ():
        g = _randomise(
            sg3.Generator(
                z_dim=8,
                c_dim=0,
                w_dim=8,
                img_resolution=32,
                img_channels=3,
                mapping_kwargs=dnnlib.EasyDict(num_layers=2),
                channel_base=512,
                channel_max=16,
                num_layers=6,
                num_fp16_res=0,
                **extra,
            )
        )
        path = tmp / "net3.pkl"
        path.write_bytes(pickle.dumps({"G_ema": g}))
        bundle = import_model(path)
        z = torch.randn(4, 8)
        with torch.no_grad():
            rows.append((f"StyleGAN3-{kind}", _diff(g(z, None), bundle.generator(z)), "-"))
    sys.path.remove(str(root))
    for name in [m for m in sys.modules if m.split(".")[0] in ("training", "torch_utils", "dnnlib")]:
        del sys.modules[name]
    return rows


def check_rosinality(root: Path, tmp: Path) -> list[tuple[str, str, str]]:
    sys.path.insert(0, str(root))
    from model import Discriminator, Generator

    rows = []
    for size, multiplier in ((16, 2), (64, 1)):
        g = _randomise(Generator(size, 32, 3, channel_multiplier=multiplier))
        d = _randomise(Discriminator(size, channel_multiplier=multiplier))
        mean = torch.randn(32)
        torch.save({"g_ema": g.state_dict(), "d": d.state_dict(), "latent_avg": mean}, tmp / "r.pt")
        bundle = import_model(tmp / "r.pt")
        z = torch.randn(4, 32)
        with torch.no_grad():
            x, _ = g([z], randomize_noise=False, truncation=0.7, truncation_latent=mean)
            ours = bundle.generator(z, truncation_psi=0.7)
            rows.append(
                (
                    f"rosinality {size}px, x{multiplier}",
                    _diff(x, ours),
                    _diff(d(x).squeeze(1), bundle.discriminator(x)),
                )
            )
    sys.path.remove(str(root))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stylegan3", type=Path, help="A checkout of NVlabs/stylegan3.")
    parser.add_argument("--ada", type=Path, help="A checkout of NVlabs/stylegan2-ada-pytorch.")
    parser.add_argument("--rosinality", type=Path, help="A checkout of rosinality/stylegan2-pytorch.")
    args = parser.parse_args()
    _stub_unused_imports()
    torch.manual_seed(0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.stylegan3:
            rows += [(f"[stylegan3] {a}", b, c) for a, b, c in check_nvidia(args.stylegan3, Path(tmp), True)]
        if args.ada:
            rows += [(f"[ada] {a}", b, c) for a, b, c in check_nvidia(args.ada, Path(tmp), False)]
        if args.rosinality:
            rows += [(f"[rosinality] {a}", b, c) for a, b, c in check_rosinality(args.rosinality, Path(tmp))]
    if not rows:
        parser.error("give at least one reference checkout")
    print(f"{'network':<44}{'max |G diff|':>28}{'max |D diff|':>28}")
    for name, g_diff, d_diff in rows:
        print(f"{name:<44}{g_diff:>28}{d_diff:>28}")


if __name__ == "__main__":
    main()

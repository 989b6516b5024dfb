"""Import rosinality/stylegan2-pytorch checkpoints (``.pt`` with ``g_ema``, ``g``, ``d``, ``latent_avg``).

Such a checkpoint is a bare state dict with no architecture config, so the config is inferred from tensor
shapes: the number of mapping layers from ``style.*``, the resolution from the number of ToRGB layers, the
channel widths from each convolution. The file is read with ``torch.load(weights_only=True)``: tensors and
plain containers only (plus ``argparse.Namespace``, a bag of attributes, which training scripts store).

Parameter names map one to one onto swerve's (and NVIDIA's) StyleGAN2: ``convs.{2k}`` / ``convs.{2k+1}`` are
the two convolutions of the block at resolution 8 * 2**k, ``noises.noise_i`` the i-th layer's fixed noise.
"""

from __future__ import annotations

import argparse
import pickle
import re
from pathlib import Path

import torch
from torch import nn

from swerve.errors import BundleError
from swerve.models.importers.nvidia import load_weights
from swerve.models.importers.safe_pickle import weights_only_refusal
from swerve.models.ops import setup_filter
from swerve.models.stylegan2 import (
    StyleGAN2Config,
    StyleGAN2Discriminator,
    StyleGAN2Generator,
    estimate_w_avg,
)

State = dict[str, torch.Tensor]


_LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"  # torch.save before 1.6


def is_torch_checkpoint(path: str | Path) -> bool:
    """Whether ``path`` is a ``torch.save`` file: a zip archive, or the older format's magic number."""
    with open(path, "rb") as fh:
        head = fh.read(len(_LEGACY_MAGIC))
    return head.startswith(b"PK") or head == _LEGACY_MAGIC


def read_rosinality(path: str | Path) -> dict[str, nn.Module]:
    """The networks of a rosinality checkpoint: ``generator`` (g_ema, else g) and ``discriminator`` (d)."""
    if not is_torch_checkpoint(path):
        raise BundleError(
            f"{path} is not a torch.save checkpoint; an NVIDIA .pkl imports with --format nvidia"
        )
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        reason = weights_only_refusal(exc)
        raise BundleError(f"{path} holds more than tensors, so swerve will not load it ({reason})") from None
    except (RuntimeError, EOFError, OSError) as exc:
        reason = str(exc).split(". ")[0]  # torch's first sentence says what failed
        raise BundleError(f"{path} is not a readable PyTorch checkpoint: {reason}") from None
    if not isinstance(ckpt, dict):
        raise BundleError(f"{path} holds a {type(ckpt).__name__}, not a checkpoint dict")
    g_state = ckpt.get("g_ema") or ckpt.get("g") or (ckpt if "style.1.weight" in ckpt else None)
    if not isinstance(g_state, dict):
        raise BundleError(
            f"{path} has no generator (expected g_ema or g); it has: {', '.join(map(str, ckpt))}"
        )
    config = infer_config(g_state)
    state = generator_state(g_state, config)
    latent_avg = ckpt.get("latent_avg")
    has_avg = isinstance(latent_avg, torch.Tensor) and latent_avg.numel() == config.w_dim
    state["mapping.w_avg"] = latent_avg.reshape(-1) if has_avg else torch.zeros(config.w_dim)
    g = load_weights(StyleGAN2Generator(config), state, "generator")
    if not has_avg:  # rosinality training does not track the mean w: estimate it for truncation
        with torch.no_grad():
            g.mapping.w_avg.copy_(estimate_w_avg(g.mapping, config.z_dim))
    nets: dict[str, nn.Module] = {"generator": g}
    if isinstance(ckpt.get("d"), dict):
        d = StyleGAN2Discriminator(config)
        nets["discriminator"] = load_weights(d, discriminator_state(ckpt["d"], config), "discriminator")
    return nets


def _shape(state: State, key: str) -> tuple[int, ...]:
    if key not in state:
        raise BundleError(f"cannot infer the architecture: the checkpoint has no {key}")
    return tuple(state[key].shape)


def infer_config(g: State) -> StyleGAN2Config:
    """A StyleGAN2Config that fits the generator state dict ``g``, or a BundleError saying what does not."""
    n_mlp = len([k for k in g if re.fullmatch(r"style\.\d+\.weight", k)])
    if n_mlp == 0:
        raise BundleError(
            "cannot infer the architecture: no mapping layers (style.N.weight) in the generator"
        )
    w_dim, z_dim = _shape(g, "style.1.weight")
    n_rgb = len([k for k in g if re.fullmatch(r"to_rgbs\.\d+\.conv\.weight", k)])
    resolution = 4 * 2**n_rgb
    widths = {4: _shape(g, "input.input")[1]}
    for k in range(n_rgb):
        widths[8 * 2**k] = _shape(g, f"convs.{2 * k}.conv.weight")[1]
    channel_max = max(widths.values())
    below = [width * res for res, width in widths.items() if width < channel_max]
    channel_base = below[0] if below else channel_max * resolution
    if any(min(channel_base // r, channel_max) != width for r, width in widths.items()):
        raise BundleError(
            f"cannot infer the architecture: channel widths {widths} do not follow "
            "min(base / resolution, max), the only progression swerve's StyleGAN2 builds"
        )
    kernel = g.get("convs.0.conv.blur.kernel")
    if kernel is not None and not torch.allclose(kernel.float(), setup_filter([1, 3, 3, 1]) * 4, atol=1e-6):
        raise BundleError("cannot infer the architecture: the blur kernel is not the [1, 3, 3, 1] binomial")
    return StyleGAN2Config(
        resolution=resolution,
        channels=_shape(g, "to_rgb1.conv.weight")[1],
        z_dim=z_dim,
        w_dim=w_dim,
        mapping_layers=n_mlp,
        channel_base=channel_base,
        channel_max=channel_max,
        architecture="skip",
        d_architecture="resnet",
    )


def _modconv(dst: str, src: str, g: State, out: State) -> None:
    out[f"{dst}.weight"] = g[f"{src}.conv.weight"].squeeze(0)
    out[f"{dst}.affine.weight"] = g[f"{src}.conv.modulation.weight"]
    out[f"{dst}.affine.bias"] = g[f"{src}.conv.modulation.bias"]


def generator_state(g: State, config: StyleGAN2Config) -> State:
    """Rename a rosinality generator state dict to swerve's names (blur kernels are dropped: swerve
    rebuilds them from the config)."""
    try:
        out: State = {
            f"mapping.fc{i}.{p}": g[f"style.{i + 1}.{p}"]
            for i in range(config.mapping_layers)
            for p in ("weight", "bias")
        }
        out["synthesis.b4.const"] = g["input.input"].squeeze(0)
        layers = [("synthesis.b4.conv1", "conv1")]
        rgbs = [("synthesis.b4.torgb", "to_rgb1")]
        for k, res in enumerate(config.resolutions[1:]):
            layers += [
                (f"synthesis.b{res}.conv0", f"convs.{2 * k}"),
                (f"synthesis.b{res}.conv1", f"convs.{2 * k + 1}"),
            ]
            rgbs.append((f"synthesis.b{res}.torgb", f"to_rgbs.{k}"))
        for i, (dst, src) in enumerate(layers):
            _modconv(dst, src, g, out)
            out[f"{dst}.bias"] = g[f"{src}.activate.bias"]
            out[f"{dst}.noise_strength"] = g[f"{src}.noise.weight"].reshape(())
            out[f"{dst}.noise_const"] = g[f"noises.noise_{i}"].reshape(g[f"noises.noise_{i}"].shape[-2:])
        for dst, src in rgbs:
            _modconv(dst, src, g, out)
            out[f"{dst}.bias"] = g[f"{src}.bias"].reshape(-1)
    except KeyError as exc:
        raise BundleError(f"cannot map the rosinality generator: it has no {exc.args[0]}") from None
    return out


def discriminator_state(d: State, config: StyleGAN2Config) -> State:
    """Rename a rosinality discriminator state dict (``convs.0`` = fromRGB, then one ResBlock per
    resolution, ``final_conv``, ``final_linear``) to swerve's names."""
    res = config.resolution
    try:
        out: State = {
            f"b{res}.fromrgb.weight": d["convs.0.0.weight"],
            f"b{res}.fromrgb.bias": d["convs.0.1.bias"],
        }
        for j, r in enumerate(r for r in reversed(config.resolutions) if r > 4):
            src = f"convs.{j + 1}"
            out[f"b{r}.conv0.weight"] = d[f"{src}.conv1.0.weight"]
            out[f"b{r}.conv0.bias"] = d[f"{src}.conv1.1.bias"]
            out[f"b{r}.conv1.weight"] = d[f"{src}.conv2.1.weight"]  # conv2.0 is the blur
            out[f"b{r}.conv1.bias"] = d[f"{src}.conv2.2.bias"]
            out[f"b{r}.skip.weight"] = d[f"{src}.skip.1.weight"]
        out["b4.conv.weight"] = d["final_conv.0.weight"]
        out["b4.conv.bias"] = d["final_conv.1.bias"]
        for i, name in enumerate(("fc", "out")):
            out[f"b4.{name}.weight"] = d[f"final_linear.{i}.weight"]
            out[f"b4.{name}.bias"] = d[f"final_linear.{i}.bias"]
    except KeyError as exc:
        raise BundleError(f"cannot map the rosinality discriminator: it has no {exc.args[0]}") from None
    return out

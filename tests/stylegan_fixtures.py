"""Foreign StyleGAN files for the importer tests, written by the tests themselves.

- ``rosinality_state_dicts``: random generator and discriminator state dicts with the tensor names and
  shapes of rosinality/stylegan2-pytorch, and ``rosinality_generate`` / ``rosinality_discriminate``, a small
  independent implementation of that code's forward pass (transposed convolution then blur, fused leaky
  ReLU, ...) written from its published description, to compare swerve's imported networks against.
- ``write_nvidia_pickle``: a network pickle laid out as stylegan2-ada-pytorch / stylegan3 write them (each
  network a ``torch_utils.persistence._reconstruct_persistent_obj`` call carrying module source, class name
  and state). The stand-in reconstruct function raises if it is ever called, and the embedded module source
  would write a marker file if it were ever executed.
"""

from __future__ import annotations

import math
import pickle
import sys
import types
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# --- rosinality ------------------------------------------------------------------------------------------

BLUR = torch.tensor([1.0, 3.0, 3.0, 1.0])
BLUR = torch.outer(BLUR, BLUR) / 64


def rosinality_widths(resolution: int, base: int, cap: int) -> dict[int, int]:
    return {2**i: min(base // 2**i, cap) for i in range(2, int(math.log2(resolution)) + 1)}


def rosinality_state_dicts(
    resolution: int = 16, style_dim: int = 8, n_mlp: int = 2, base: int = 128, cap: int = 16, seed: int = 0
) -> tuple[dict, dict]:
    """Random (g, d) state dicts shaped like rosinality's Generator/Discriminator; no tensor is trivial."""
    gen = torch.Generator().manual_seed(seed)

    def rnd(*shape: int, scale: float = 1.0, mean: float = 0.0) -> torch.Tensor:
        return torch.randn(*shape, generator=gen) * scale + mean

    ch = rosinality_widths(resolution, base, cap)
    g: dict[str, torch.Tensor] = {}
    for i in range(1, n_mlp + 1):
        g[f"style.{i}.weight"] = rnd(style_dim, style_dim, scale=100.0)  # stored / lr_mul (0.01)
        g[f"style.{i}.bias"] = rnd(style_dim, scale=10.0)
    g["input.input"] = rnd(1, ch[4], 4, 4)

    def styled(prefix: str, cin: int, cout: int, up: bool) -> None:
        g[f"{prefix}.conv.weight"] = rnd(1, cout, cin, 3, 3)
        g[f"{prefix}.conv.modulation.weight"] = rnd(cin, style_dim)
        g[f"{prefix}.conv.modulation.bias"] = rnd(cin, scale=0.1, mean=1.0)
        if up:
            g[f"{prefix}.conv.blur.kernel"] = BLUR * 4
        g[f"{prefix}.noise.weight"] = rnd(1, scale=0.3)
        g[f"{prefix}.activate.bias"] = rnd(cout, scale=0.1)

    def torgb(prefix: str, cin: int, up: bool) -> None:
        if up:
            g[f"{prefix}.upsample.kernel"] = BLUR * 4
        g[f"{prefix}.conv.weight"] = rnd(1, 3, cin, 1, 1)
        g[f"{prefix}.conv.modulation.weight"] = rnd(cin, style_dim)
        g[f"{prefix}.conv.modulation.bias"] = rnd(cin, scale=0.1, mean=1.0)
        g[f"{prefix}.bias"] = rnd(1, 3, 1, 1, scale=0.1)

    styled("conv1", ch[4], ch[4], False)
    torgb("to_rgb1", ch[4], False)
    res_list = sorted(ch)[1:]
    for k, res in enumerate(res_list):
        styled(f"convs.{2 * k}", ch[res // 2], ch[res], True)
        styled(f"convs.{2 * k + 1}", ch[res], ch[res], False)
        torgb(f"to_rgbs.{k}", ch[res], True)
    sizes = [4] + [r for r in res_list for _ in range(2)]
    for i, r in enumerate(sizes):
        g[f"noises.noise_{i}"] = rnd(1, 1, r, r)

    d: dict[str, torch.Tensor] = {
        "convs.0.0.weight": rnd(ch[resolution], 3, 1, 1),
        "convs.0.1.bias": rnd(ch[resolution], scale=0.1),
    }
    for j, res in enumerate(reversed(res_list)):
        cin, cout = ch[res], ch[res // 2]
        p = f"convs.{j + 1}"
        d.update(
            {
                f"{p}.conv1.0.weight": rnd(cin, cin, 3, 3),
                f"{p}.conv1.1.bias": rnd(cin, scale=0.1),
                f"{p}.conv2.0.kernel": BLUR.clone(),
                f"{p}.conv2.1.weight": rnd(cout, cin, 3, 3),
                f"{p}.conv2.2.bias": rnd(cout, scale=0.1),
                f"{p}.skip.0.kernel": BLUR.clone(),
                f"{p}.skip.1.weight": rnd(cout, cin, 1, 1),
            }
        )
    d["final_conv.0.weight"] = rnd(ch[4], ch[4] + 1, 3, 3)
    d["final_conv.1.bias"] = rnd(ch[4], scale=0.1)
    d["final_linear.0.weight"] = rnd(ch[4], ch[4] * 16)
    d["final_linear.0.bias"] = rnd(ch[4], scale=0.1)
    d["final_linear.1.weight"] = rnd(1, ch[4])
    d["final_linear.1.bias"] = rnd(1, scale=0.1)
    return g, d


def _lrelu(x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x + bias.reshape(1, -1, *[1] * (x.ndim - 2)), 0.2) * math.sqrt(2)


def _linear(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, lr: float, act: bool) -> torch.Tensor:
    out = F.linear(x, w * (lr / math.sqrt(w.shape[1])))
    return _lrelu(out, b * lr) if act else out + b * lr


def _fir(x: torch.Tensor, kernel: torch.Tensor, pad: tuple[int, int], up: int = 1) -> torch.Tensor:
    """rosinality's upfirdn2d for up in {1, 2}, down 1: zero-stuff, pad, true convolution."""
    c = x.shape[1]
    if up == 2:
        x = _zero_stuff(x)
    x = F.pad(x, [pad[0], pad[1], pad[0], pad[1]])
    k = kernel.flip(0, 1).reshape(1, 1, *kernel.shape).repeat(c, 1, 1, 1)
    return F.conv2d(x, k, groups=c)


def _zero_stuff(x: torch.Tensor) -> torch.Tensor:
    n, c, h, w = x.shape
    out = torch.zeros(n, c, h * 2, w * 2, dtype=x.dtype)
    out[:, :, ::2, ::2] = x
    return out


def _modconv(
    x: torch.Tensor, g: dict, prefix: str, style: torch.Tensor, demod: bool, up: bool
) -> torch.Tensor:
    n, cin, h, w = x.shape
    weight = g[f"{prefix}.conv.weight"]
    _, cout, _, k, _ = weight.shape
    s = _linear(style, g[f"{prefix}.conv.modulation.weight"], g[f"{prefix}.conv.modulation.bias"], 1.0, False)
    weight = weight / math.sqrt(cin * k * k) * s.reshape(n, 1, cin, 1, 1)
    if demod:
        weight = weight * torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + 1e-8).reshape(n, cout, 1, 1, 1)
    x = x.reshape(1, n * cin, h, w)
    if up:
        weight = weight.transpose(1, 2).reshape(n * cin, cout, k, k)
        out = F.conv_transpose2d(x, weight, stride=2, groups=n)
        out = _fir(out.reshape(n, cout, *out.shape[2:]), BLUR * 4, (1, 1))
        return out
    out = F.conv2d(x, weight.reshape(n * cout, cin, k, k), padding=k // 2, groups=n)
    return out.reshape(n, cout, *out.shape[2:])


def rosinality_generate(
    g: dict, z: torch.Tensor, n_mlp: int, psi: float = 1.0, mean_latent: torch.Tensor | None = None
) -> torch.Tensor:
    """rosinality's Generator forward with its stored noise (randomize_noise=False) and truncation."""
    w = z * torch.rsqrt(z.pow(2).mean(dim=1, keepdim=True) + 1e-8)
    for i in range(1, n_mlp + 1):
        w = _linear(w, g[f"style.{i}.weight"], g[f"style.{i}.bias"], 0.01, True)
    if psi != 1:
        w = mean_latent + psi * (w - mean_latent)
    n_rgb = len([k for k in g if k.startswith("to_rgbs.") and k.endswith(".conv.weight")])

    def styled(x, prefix, style, noise, up=False):
        out = _modconv(x, g, prefix, style, True, up)
        out = out + g[f"{prefix}.noise.weight"] * noise
        return _lrelu(out, g[f"{prefix}.activate.bias"])

    def torgb(x, prefix, style, skip=None):
        out = _modconv(x, g, prefix, style, False, False) + g[f"{prefix}.bias"]
        if skip is not None:
            out = out + _fir(skip, BLUR * 4, (2, 1), up=2)
        return out

    x = g["input.input"].repeat(len(z), 1, 1, 1)
    x = styled(x, "conv1", w, g["noises.noise_0"])
    skip = torgb(x, "to_rgb1", w)
    for k in range(n_rgb):
        x = styled(x, f"convs.{2 * k}", w, g[f"noises.noise_{2 * k + 1}"], up=True)
        x = styled(x, f"convs.{2 * k + 1}", w, g[f"noises.noise_{2 * k + 2}"])
        skip = torgb(x, f"to_rgbs.{k}", w, skip)
    return skip


def rosinality_discriminate(d: dict, img: torch.Tensor) -> torch.Tensor:
    """rosinality's Discriminator forward (minibatch stddev over groups of 4)."""

    def conv(x, w, b=None, stride=1, pad=0, act=True):
        out = F.conv2d(x, w / math.sqrt(w[0].numel()), stride=stride, padding=pad)
        return _lrelu(out, b) if act else out

    x = conv(img, d["convs.0.0.weight"], d["convs.0.1.bias"])
    j = 1
    while f"convs.{j}.conv1.0.weight" in d:
        p = f"convs.{j}"
        out = conv(x, d[f"{p}.conv1.0.weight"], d[f"{p}.conv1.1.bias"], pad=1)
        out = conv(_fir(out, BLUR, (2, 2)), d[f"{p}.conv2.1.weight"], d[f"{p}.conv2.2.bias"], stride=2)
        skip = conv(_fir(x, BLUR, (1, 1)), d[f"{p}.skip.1.weight"], stride=2, act=False)
        x = (out + skip) / math.sqrt(2)
        j += 1
    n, c, h, w = x.shape
    group = min(n, 4)
    std = torch.sqrt(x.view(group, -1, 1, c, h, w).var(0, unbiased=False) + 1e-8)
    std = std.mean([2, 3, 4], keepdim=True).squeeze(2).repeat(group, 1, h, w)
    x = conv(torch.cat([x, std], 1), d["final_conv.0.weight"], d["final_conv.1.bias"], pad=1)
    x = _linear(x.flatten(1), d["final_linear.0.weight"], d["final_linear.0.bias"], 1.0, True)
    return _linear(x, d["final_linear.1.weight"], d["final_linear.1.bias"], 1.0, False).squeeze(1)


# --- NVIDIA persistent pickles ----------------------------------------------------------------------------


def _stand_in_modules(calls: list) -> dict[str, types.ModuleType]:
    """Throw-away ``torch_utils.persistence`` and ``dnnlib.util`` modules so pickle can name their globals."""
    persistence = types.ModuleType("torch_utils.persistence")

    def _reconstruct_persistent_obj(meta):  # what a real unpickler would call: must never run here
        calls.append(meta)
        raise AssertionError("the persistence hook was executed")

    _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
    persistence._reconstruct_persistent_obj = _reconstruct_persistent_obj
    util = types.ModuleType("dnnlib.util")
    easy = type("EasyDict", (dict,), {"__module__": "dnnlib.util"})
    util.EasyDict = easy
    return {
        "torch_utils": types.ModuleType("torch_utils"),
        "torch_utils.persistence": persistence,
        "dnnlib": types.ModuleType("dnnlib"),
        "dnnlib.util": util,
    }


class _Persistent:
    def __init__(self, hook, meta: dict) -> None:
        self.hook, self.meta = hook, meta

    def __reduce__(self):
        return (self.hook, (self.meta,))


def _records(module: nn.Module, hook, easy, class_name: str, kwargs: dict, src: str) -> _Persistent:
    """The persistent record of ``module`` in the reference layout: a layer's kernel (out, in, k, k) and a
    plain layer's bias sit on the layer itself, where swerve keeps them in a child ``conv``."""
    params = OrderedDict((k, v) for k, v in module.named_parameters(recurse=False))
    children = OrderedDict(module.named_children())
    conv = children.get("conv")
    if isinstance(conv, (nn.Conv2d, nn.ConvTranspose2d)):
        del children["conv"]
        transposed = isinstance(conv, nn.ConvTranspose2d)
        params["weight"] = conv.weight.transpose(0, 1) if transposed else conv.weight
        if conv.bias is not None:
            params["bias"] = conv.bias
    persistent = {
        k: v for k, v in module.named_buffers(recurse=False) if k not in module._non_persistent_buffers_set
    }
    buffers = OrderedDict((k, v.detach().clone()) for k, v in persistent.items())
    if "resample_filter" in module._buffers:  # the reference stores the fixed filter in every such layer
        buffers["resample_filter"] = module.resample_filter.clone()
    state = {
        "training": False,
        "_parameters": OrderedDict(
            (k, nn.Parameter(v.detach().clone(), requires_grad=False)) for k, v in params.items()
        ),
        "_buffers": buffers,
        "_non_persistent_buffers_set": set(),
        "_modules": OrderedDict(
            (k, _records(m, hook, easy, type(m).__name__, {}, src)) for k, m in children.items()
        ),
        "_init_args": (),
        "_init_kwargs": easy(kwargs),
        "img_size": np.asarray([4, 4]),  # numpy attributes, as the reference layers keep
        "sampling_rate": np.float64(16.0),
    }
    meta = {"type": "class", "version": 6, "module_src": src, "class_name": class_name, "state": state}
    return _Persistent(hook, meta)


def write_nvidia_pickle(path: Path, networks: dict[str, tuple[nn.Module, dict]], marker: Path) -> list:
    """Write ``{"G": ..., "G_ema": ..., "D": ...}`` as an NVIDIA network pickle. ``networks`` maps a key to
    (module, the reference constructor kwargs). Returns the list the stand-in hook appends to if called."""
    calls: list = []
    fakes = _stand_in_modules(calls)
    easy = fakes["dnnlib.util"].EasyDict
    hook = fakes["torch_utils.persistence"]._reconstruct_persistent_obj
    src = f"import pathlib\npathlib.Path({str(marker)!r}).write_text('the module source ran')\n"

    def nested(value):
        return easy({k: nested(v) for k, v in value.items()}) if isinstance(value, dict) else value

    saved = {name: sys.modules.get(name) for name in fakes}
    sys.modules.update(fakes)
    try:
        root = {
            key: _records(
                net, hook, easy, "Generator" if key.startswith("G") else "Discriminator", nested(kwargs), src
            )
            for key, (net, kwargs) in networks.items()
        }
        root["augment_pipe"] = None
        root["training_set_kwargs"] = easy(path="~/datasets/tiny.zip", resolution=16, use_labels=False)
        path.write_bytes(pickle.dumps(root, protocol=4))
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
    return calls


def stylegan3_repo_g2_kwargs(
    z_dim: int,
    w_dim: int,
    c_dim: int,
    resolution: int,
    mapping_layers: int,
    channel_base: int,
    channel_max: int,
) -> dict:
    """The generator kwargs the official stylegan3 repository's ``train.py --cfg=stylegan2`` records:
    synthesis options flat beside the others, and ``fused_modconv_default='inference_only'``, always."""
    return {
        "z_dim": z_dim,
        "c_dim": c_dim,
        "w_dim": w_dim,
        "img_resolution": resolution,
        "img_channels": 3,
        "mapping_kwargs": {"num_layers": mapping_layers},
        "channel_base": channel_base,
        "channel_max": channel_max,
        "num_fp16_res": 4,
        "conv_clamp": 256,
        "fused_modconv_default": "inference_only",
    }


def hostile_storage_pickle(marker: Path) -> bytes:
    """A network-pickle-shaped file whose one tensor storage is a ``torch.save`` zip that runs a command
    (``touch marker``) when loaded without the weights-only check."""
    import io
    import os

    class _Touch:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    buf = io.BytesIO()
    torch.save(_Touch(), buf)
    payload = buf.getvalue()
    return (
        b"\x80\x04ctorch.storage\n_load_from_bytes\nB"
        + len(payload).to_bytes(4, "little")
        + payload
        + b"\x85R."
    )

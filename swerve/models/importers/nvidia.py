"""Import NVIDIA stylegan2-ada-pytorch and stylegan3 network pickles (``.pkl``) without running them.

The pickle is read by :mod:`swerve.models.importers.safe_pickle`, which yields, for each network, its class
name, constructor arguments and tensors. The constructor arguments become a swerve config, the tensors load
into swerve's own StyleGAN2/StyleGAN3 modules (the names match, except that each layer's kernel moves into
its ``conv`` child: :func:`reference_names`), and anything the config does not account for is reported by
name instead of being guessed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from swerve.bundle import check_state
from swerve.errors import BundleError
from swerve.models.importers.safe_pickle import PersistentRecord, safe_load_pickle
from swerve.models.ops import setup_filter
from swerve.models.stylegan2 import StyleGAN2Config, StyleGAN2Discriminator, StyleGAN2Generator
from swerve.models.stylegan3 import StyleGAN3Config, StyleGAN3Generator

# Constructor arguments that only choose precision, speed or training behaviour: the fp32 reference ops
# ignore them. ``fused_modconv_default`` picks grouped or plain convolution for the same modulated conv
# (stylegan3's train.py sets it to 'inference_only' for every --cfg=stylegan2 network).
_IGNORED = {
    "fused_modconv_default",
    "num_fp16_res",
    "fp16_channels_last",
    "use_fp16",
    "w_avg_beta",
    "freeze_layers",
    "magnitude_ema_beta",
    "channels_last",
    "class_name",
}


def read_nvidia_pickle(path: str | Path) -> dict[str, nn.Module]:
    """The networks of an NVIDIA pickle as swerve modules: ``generator`` (G_ema, else G) and, when present,
    ``discriminator`` (D)."""
    root = safe_load_pickle(Path(path).read_bytes(), source=str(path))
    if not isinstance(root, dict) or not any(isinstance(v, PersistentRecord) for v in root.values()):
        raise BundleError(f"{path} holds no StyleGAN networks (expected a dict with G, G_ema and D)")
    g_record = root.get("G_ema") or root.get("G")
    if not isinstance(g_record, PersistentRecord):
        raise BundleError(f"{path} has no generator (G_ema or G); it has: {', '.join(map(str, root))}")
    nets = {"generator": _generator(g_record)}
    if isinstance(root.get("D"), PersistentRecord):
        nets["discriminator"] = _discriminator(root["D"], nets["generator"])
    return nets


def _flat_kwargs(record: PersistentRecord) -> dict[str, Any]:
    """Constructor arguments with the nested ``*_kwargs`` dicts merged in (StyleGAN3 passes synthesis
    arguments flat, StyleGAN2 nests them)."""
    if record.init_args:
        raise BundleError(f"{record.class_name} was built with positional arguments; expected keywords only")
    kwargs = dict(record.init_kwargs)
    flat = {}
    for key in ("synthesis_kwargs", "block_kwargs", "epilogue_kwargs"):
        flat.update(kwargs.pop(key, None) or {})
    mapping = kwargs.pop("mapping_kwargs", None) or {}
    flat.update({f"mapping.{k}": v for k, v in mapping.items()})
    flat.update(kwargs)
    return flat


def _take(kwargs: dict[str, Any], table: dict[str, str], what: str) -> dict[str, Any]:
    """Translate reference argument names to config fields; refuse arguments swerve does not implement."""
    out = {}
    for key, value in kwargs.items():
        if key in table:
            out[table[key]] = value
        elif value is not None and key.split(".")[-1] not in _IGNORED:
            raise BundleError(f"the {what} uses option {key}={value!r}, which swerve's implementation lacks")
    return out


_COMMON = {
    "img_resolution": "resolution",
    "img_channels": "channels",
    "c_dim": "c_dim",
    "channel_base": "channel_base",
    "channel_max": "channel_max",
    "conv_clamp": "conv_clamp",
}
_G2 = {
    **_COMMON,
    "z_dim": "z_dim",
    "w_dim": "w_dim",
    "architecture": "architecture",
    "resample_filter": "resample_filter",
    "mapping.num_layers": "mapping_layers",
    "mapping.lr_multiplier": "mapping_lr",
}
_G3 = {
    **_COMMON,
    "z_dim": "z_dim",
    "w_dim": "w_dim",
    "mapping.num_layers": "mapping_layers",
    "mapping.lr_multiplier": "mapping_lr",
    "num_layers": "num_layers",
    "num_critical": "num_critical",
    "first_cutoff": "first_cutoff",
    "first_stopband": "first_stopband",
    "last_stopband_rel": "last_stopband_rel",
    "margin_size": "margin_size",
    "output_scale": "output_scale",
    "conv_kernel": "conv_kernel",
    "use_radial_filters": "use_radial_filters",
    "filter_size": "filter_size",
    "lrelu_upsampling": "lrelu_upsampling",
}
_D2 = {
    **_COMMON,
    "architecture": "d_architecture",
    "resample_filter": "resample_filter",
    "mbstd_group_size": "mbstd_group",
    "mbstd_num_channels": "mbstd_channels",
    "mapping.num_layers": "d_mapping_layers",
}


def _generator(record: PersistentRecord) -> nn.Module:
    state = record.state_dict()
    kwargs = _flat_kwargs(record)
    if "synthesis.input.freqs" in state:
        config = StyleGAN3Config(**_take(kwargs, _G3, "StyleGAN3 generator"))
        net: nn.Module = StyleGAN3Generator(config)
    elif "synthesis.b4.const" in state:
        kwargs.setdefault("mapping.num_layers", 8)  # the reference StyleGAN2 default, absent when unchanged
        config = StyleGAN2Config(**_take(kwargs, _G2, "StyleGAN2 generator"))
        net = StyleGAN2Generator(config)
    else:
        raise BundleError(
            f"{record.class_name} in the pickle is neither a StyleGAN2 nor a StyleGAN3 generator"
        )
    return load_weights(net, state, "generator")


def _discriminator(record: PersistentRecord, generator: nn.Module) -> nn.Module:
    kwargs = _flat_kwargs(record)
    kwargs.setdefault("mapping.num_layers", 8)
    if not kwargs.get("c_dim"):
        kwargs.pop("mapping.num_layers")
    fields = _take(kwargs, _D2, "discriminator")
    g = generator.config
    config = StyleGAN2Config(**{"z_dim": g.z_dim, "w_dim": g.w_dim, **fields})
    return load_weights(StyleGAN2Discriminator(config), record.state_dict(), "discriminator")


def reference_names(net: nn.Module) -> dict[str, tuple[str, bool]]:
    """swerve key -> (the reference code's key, whether the tensor is stored transposed).

    swerve keeps each convolution in a child ``conv`` (an ``nn.Conv2d`` or ``nn.ConvTranspose2d``) so taps
    and rewriting see it; the reference stores its kernel (and a plain layer's bias) on the layer itself, as
    (out, in, k, k)."""
    names = {}
    for name, module in net.named_modules():
        conv = getattr(module, "conv", None)
        if name and isinstance(conv, (nn.Conv2d, nn.ConvTranspose2d)):
            names[f"{name}.conv.weight"] = (f"{name}.weight", isinstance(conv, nn.ConvTranspose2d))
            if conv.bias is not None:
                names[f"{name}.conv.bias"] = (f"{name}.bias", False)
    return names


def load_weights(net: nn.Module, state: dict[str, torch.Tensor], role: str) -> nn.Module:
    """Load tensors named as in the reference code into ``net`` strictly. The fixed resampling filters the
    reference stores in every layer are checked against the config (swerve rebuilds them from it)."""
    expected = setup_filter(getattr(net.config, "resample_filter", [1, 3, 3, 1]))
    own = net.state_dict()
    renamed = {ref: (key, transposed) for key, (ref, transposed) in reference_names(net).items()}
    kept = {}
    for key, value in state.items():
        if key.endswith("resample_filter") and key not in own:
            if value.shape != expected.shape or not torch.allclose(value.float(), expected, atol=1e-6):
                raise BundleError(
                    f"{role} tensor {key} is not the {list(expected.shape)} filter the config implies"
                )
            continue
        if key in renamed:
            key, transposed = renamed[key]
            value = value.transpose(0, 1) if transposed else value
        kept[key] = value
    check_state(own, kept, f"the {role} does not match swerve's architecture (as inferred from its config)")
    net.load_state_dict({k: v.float().contiguous() for k, v in kept.items()}, strict=True)
    return net.eval()

"""Which of a generator's weights a fine-tuning run may change: frozen layers and layer units.

Works on any ``nn.Module`` through ``named_modules`` names (the names :mod:`swerve.taps` uses).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from swerve import taps


def freeze_layers(model: nn.Module, names: Sequence[str]) -> list[str]:
    """Turn off gradients for the parameters of each named layer; return the frozen parameter names.

    An unknown name is a ConfigError listing the layers. Frozen layers also stop updating their buffers
    only when the model runs in eval mode, which is how the data-free methods run it.
    """
    frozen = []
    for name in names:
        name = taps.resolve_weights(model, name)  # conv:i freezes the convolution it names
        layer = taps.find_layer(model, name)
        for pname, param in layer.named_parameters():
            param.requires_grad_(False)
            frozen.append(f"{name}.{pname}")
    return frozen


def layer_units(model: nn.Module) -> list[str]:
    """The layers adaptive freezing chooses among, keeping those that hold trainable parameters.

    A model that names its blocks (``block_names``, as swerve's StyleGANs do: ``synthesis.b4``, ...) is cut
    into those blocks, the rest of their parent's children and its other top-level children, so StyleGAN-NADA
    picks among resolutions as the paper does. Any other model: its top-level children, with a
    ``Sequential`` or ``ModuleList`` child opened into its own children.
    """
    blocks = list(getattr(model, "block_names", None) or [])
    parents = {block.rsplit(".", 1)[0] for block in blocks}
    units = list(blocks)
    for name, child in model.named_children():
        if name in parents or isinstance(child, nn.Sequential | nn.ModuleList):
            units += [f"{name}.{sub}" for sub, _ in child.named_children() if f"{name}.{sub}" not in blocks]
        else:
            units.append(name)
    modules = dict(model.named_modules())
    return [u for u in units if any(p.requires_grad for p in modules[u].parameters())]

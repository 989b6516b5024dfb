"""What a generator's layers are: names, output shapes, channel counts and shortcuts, for picking a bend."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from swerve import taps
from swerve.bundle import Bundle
from swerve.errors import ConfigError


def example_inputs(generator: nn.Module, latent_dim_or_example: int | torch.Tensor, n: int = 1) -> tuple:
    """Inputs for one forward pass: ``n`` zero latents (and class 0 for a conditional generator)."""
    if isinstance(latent_dim_or_example, torch.Tensor):
        z = latent_dim_or_example
    elif isinstance(latent_dim_or_example, int) and latent_dim_or_example > 0:
        device = next((p.device for p in generator.parameters()), torch.device("cpu"))
        z = torch.zeros(n, latent_dim_or_example, device=device)
    else:
        raise ConfigError(f"expected a latent dimension or an example latent, got {latent_dim_or_example!r}")
    classes = int(getattr(getattr(generator, "config", None), "num_classes", 0) or 0)
    return (z, torch.zeros(len(z), dtype=torch.long, device=z.device)) if classes else (z,)


def shortcut_table(generator: nn.Module) -> list[dict[str, str]]:
    """What each ``linear:i`` / ``conv:i`` shortcut resolves to: ``layer`` (the module it names, whose
    weights glitching, rewriting and blending edit), its ``type``, and ``tap`` (the module whose output is
    its activation, which bends, scans and clusters read and write)."""
    modules = dict(generator.named_modules())
    return [
        {"shortcut": s.name, "layer": s.layer, "type": type(modules[s.layer]).__name__, "tap": s.tap}
        for kind in ("linear", "conv")
        for s in taps.shortcuts(generator, kind)
    ]


def layer_table(generator: nn.Module, latent_dim_or_example: int | torch.Tensor) -> list[dict[str, Any]]:
    """One row per layer that outputs a tensor: ``name``, ``shape`` (batch dim left out), ``channels``
    (dim 1 of the output), ``shortcut`` (the ``conv:i`` / ``linear:i`` whose activation this layer's output
    is, or ``""``) and ``shortcut_layer`` (the module that shortcut names, or ``""``)."""
    was_training = generator.training
    generator.eval()
    try:
        shapes = taps.output_shapes(generator, *example_inputs(generator, latent_dim_or_example))
    except (TypeError, RuntimeError, ValueError) as exc:
        raise ConfigError(f"cannot trace {type(generator).__name__} on an example latent: {exc}") from None
    finally:
        generator.train(was_training)
    at_tap = {row["tap"]: row for row in shortcut_table(generator)}
    return [
        {
            "name": name,
            "shape": list(shape[1:]),
            "channels": shape[1] if len(shape) > 1 else 1,
            "shortcut": at_tap[name]["shortcut"] if name in at_tap else "",
            "shortcut_layer": at_tap[name]["layer"] if name in at_tap else "",
        }
        for name, shape in shapes.items()
    ]


def bundle_layer_table(bundle: Bundle) -> list[dict[str, Any]]:
    """:func:`layer_table` of a bundle's generator."""
    if bundle.latent is None:
        raise ConfigError(f"bundle {bundle.name} has no latent spec, so its layers cannot be traced")
    return layer_table(bundle.generator, bundle.latent.dim)

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


def layer_table(generator: nn.Module, latent_dim_or_example: int | torch.Tensor) -> list[dict[str, Any]]:
    """One row per layer that outputs a tensor: ``name``, ``shape`` (batch dim left out), ``channels``
    (dim 1 of the output) and ``shortcut`` (its ``conv:i`` / ``linear:i`` name, or ``""``)."""
    was_training = generator.training
    generator.eval()
    try:
        shapes = taps.output_shapes(generator, *example_inputs(generator, latent_dim_or_example))
    except (TypeError, RuntimeError, ValueError) as exc:
        raise ConfigError(f"cannot trace {type(generator).__name__} on an example latent: {exc}") from None
    finally:
        generator.train(was_training)
    shortcuts = {}
    for kind in ("linear", "conv"):
        for i, name in enumerate(taps.block_names(generator, kind)):
            shortcuts.setdefault(name, f"{kind}:{i}")
    return [
        {
            "name": name,
            "shape": list(shape[1:]),
            "channels": shape[1] if len(shape) > 1 else 1,
            "shortcut": shortcuts.get(name, ""),
        }
        for name, shape in shapes.items()
    ]


def bundle_layer_table(bundle: Bundle) -> list[dict[str, Any]]:
    """:func:`layer_table` of a bundle's generator."""
    if bundle.latent is None:
        raise ConfigError(f"bundle {bundle.name} has no latent spec, so its layers cannot be traced")
    return layer_table(bundle.generator, bundle.latent.dim)

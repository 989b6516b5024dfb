"""Activations to scan: any named layer of any model, recorded through :mod:`swerve.taps` in chunks, as the
model computes them (after a bundle's edits and any active rewrite of the layer).

A layer is a ``named_modules`` name (``"blocks.1"``); ``"pixels"`` is the model's own output (for a
generator, the image), so pixel space is scanned exactly like a hidden layer. Every layer comes back as an
(N, J) float32 CPU tensor, one row per sample and one column per node (channel × position).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from swerve import taps
from swerve.bundle import Bundle, Samples
from swerve.errors import ConfigError

PIXELS = "pixels"


@torch.no_grad()
def layer_activations(
    model: nn.Module, inputs: Sequence[torch.Tensor | None], layers: Sequence[str], batch_size: int = 256
) -> dict[str, torch.Tensor]:
    """Run ``model(*inputs)`` in chunks of ``batch_size`` rows, recording ``layers`` ("pixels": output)."""
    if not layers:
        raise ConfigError("name at least one layer to record")
    named = [layer for layer in layers if layer != PIXELS]
    for layer in named:
        taps.find_layer(model, layer)
    n = len(inputs[0])
    device = next(model.parameters()).device
    parts: dict[str, list[torch.Tensor]] = {layer: [] for layer in layers}
    was_training = model.training
    model.eval()
    try:
        for start in range(0, n, batch_size):
            args = [None if t is None else t[start : start + batch_size].to(device) for t in inputs]
            with taps.record(model, named, device="cpu") as acts:
                out = model(*[a for a in args if a is not None])
            acts[PIXELS] = out.detach().cpu() if isinstance(out, torch.Tensor) else out[0].detach().cpu()
            for layer in layers:
                parts[layer].append(acts[layer].reshape(len(args[0]), -1).float())
    finally:
        model.train(was_training)
    return {layer: torch.cat(chunks) for layer, chunks in parts.items()}


def sample_activations(
    bundle: Bundle,
    n: int,
    layers: Sequence[str],
    seed: int = 0,
    labels: torch.Tensor | list[int] | int | None = None,
    batch_size: int = 256,
) -> tuple[Samples, dict[str, torch.Tensor]]:
    """``n`` samples of ``bundle`` and the activations of its generator's ``layers`` while making them.

    Goes through :meth:`Bundle.sample`, and a recorder runs after every edit of its layer (see
    :mod:`swerve.taps`): the bundle's stored bends and creative decoder, then any rewrite active on the
    generator, shape both the samples and the activations, on the scanned layer too.
    """
    named = [layer for layer in layers if layer != PIXELS]
    with taps.record(bundle.generator, named, device="cpu") as acts:
        samples = bundle.sample(n, seed=seed, labels=labels, batch_size=batch_size)
    result = {layer: acts[layer].reshape(n, -1).float() for layer in named}
    if PIXELS in layers:
        result[PIXELS] = samples.x.reshape(n, -1).float()
    return samples, {layer: result[layer] for layer in layers}

"""Stochastic model rewriting ("glitch"): seeded random edits of trained weights.

Neural Glitch (Klingemann 2018) perturbs, zeroes or exchanges a trained network's weights; Růžička's GAN
explorer "reconnects" a conv layer by swapping the weight slices of pairs of its output channels. Every kind
here draws from one seed, so a glitch is a recipe that reproduces exactly; :func:`glitch` returns a new
bundle and leaves the original alone, and :func:`glitched` edits a model in place only inside a ``with``
block, restoring every touched tensor bit-exactly on exit.

Kinds (``amount`` in brackets):
- ``gaussian``: add noise of standard deviation ``amount`` x the tensor's own standard deviation;
- ``zero``: set a random fraction ``amount`` of the entries to 0;
- ``shuffle``: permute a random fraction ``amount`` of the entries among themselves;
- ``reconnect``: pair up a random fraction ``amount`` of a conv or linear layer's output channels and swap
  their weight slices (and biases).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import torch
from torch import nn

from swerve import taps
from swerve.bundle import Bundle
from swerve.diverge.edits import derive
from swerve.errors import ConfigError
from swerve.utils import make_generator

KINDS = ("gaussian", "zero", "shuffle", "reconnect")


def _targets(model: nn.Module, layers: Sequence[str] | None, kind: str) -> dict[str, int]:
    """Parameter names to glitch, each with its output-channel dim (for ``reconnect``)."""
    prefixes = None if not layers else [taps.resolve_weights(model, name) for name in layers]
    for prefix in prefixes or []:
        taps.find_layer(model, prefix)
    modules = dict(model.named_modules())
    chosen: dict[str, int] = {}
    for name, param in model.named_parameters():
        owner = name.rpartition(".")[0]
        if prefixes is not None and not any(owner == p or owner.startswith(p + ".") for p in prefixes):
            continue
        module = modules[owner]
        if kind == "reconnect":
            if not isinstance(module, (nn.Linear, nn.modules.conv._ConvNd)):
                continue
            # A transposed convolution (or a subclass) stores its weight (in, out, ...).
            transposed = isinstance(module, nn.modules.conv._ConvTransposeNd)
            dim = int(transposed) if name.endswith("weight") else 0
            chosen[name] = dim
        elif param.is_floating_point():
            chosen[name] = 0
    if not chosen:
        what = "conv or linear layers" if kind == "reconnect" else "parameters"
        raise ConfigError(f"no {what} to glitch in {', '.join(layers or ['the model'])}")
    return chosen


def _check(kind: str, amount: float) -> None:
    if kind not in KINDS:
        raise ConfigError(f"unknown glitch kind {kind!r}; kinds: {', '.join(KINDS)}")
    if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not 0 <= amount < math.inf:
        raise ConfigError(f"glitch amount must be a finite number >= 0, got {amount!r}")
    if kind != "gaussian" and amount > 1:
        raise ConfigError(f"the {kind} glitch's amount is a fraction in [0, 1], got {amount}")


def glitch_state_dict(
    model: nn.Module, kind: str, amount: float, layers: Sequence[str] | None = None, seed: int = 0
) -> dict[str, torch.Tensor]:
    """The edited tensors (only those the glitch touches), computed from ``model``'s current weights."""
    _check(kind, amount)
    targets = _targets(model, layers, kind)
    params = dict(model.named_parameters())
    gen = make_generator(seed)
    edited: dict[str, torch.Tensor] = {}
    pairs_by_layer: dict[str, torch.Tensor] = {}
    for name, dim in targets.items():
        w = params[name].detach()
        cpu = w.cpu()
        if kind == "gaussian":
            scale = cpu.std() if cpu.numel() > 1 else cpu.abs().mean()
            edited[name] = (cpu + amount * scale * torch.randn(cpu.shape, generator=gen)).to(w)
        elif kind == "zero":
            mask = torch.rand(cpu.shape, generator=gen) < amount
            edited[name] = cpu.masked_fill(mask, 0).to(w)
        elif kind == "shuffle":
            flat = cpu.flatten().clone()
            picked = (torch.rand(flat.shape, generator=gen) < amount).nonzero().flatten()
            flat[picked] = flat[picked[torch.randperm(len(picked), generator=gen)]]
            edited[name] = flat.view_as(cpu).to(w)
        else:
            owner = name.rpartition(".")[0]
            if owner not in pairs_by_layer:  # weight and bias of a layer swap the same channels
                n_out = cpu.shape[dim]
                k = int(round(amount * n_out)) // 2 * 2
                pairs_by_layer[owner] = torch.randperm(n_out, generator=gen)[:k]
            chosen = pairs_by_layer[owner]
            order = torch.arange(cpu.shape[dim])
            order[chosen] = chosen.view(-1, 2).flip(1).flatten()
            edited[name] = cpu.index_select(dim, order).to(w)
    return edited


def glitch(
    bundle: Bundle,
    kind: str,
    amount: float,
    layers: Sequence[str] | None = None,
    seed: int = 0,
    role: str = "generator",
) -> Bundle:
    """A copy of ``bundle`` whose ``role`` network is glitched; the recipe goes into the history."""
    net = bundle.networks.get(role)
    if net is None:
        raise ConfigError(f"bundle {bundle.name} has no {role}")
    state = {**net.state_dict(), **glitch_state_dict(net, kind, amount, layers, seed)}
    return derive(
        bundle,
        {role: state},
        "glitch",
        kind=kind,
        amount=amount,
        layers=list(layers) if layers else None,
        seed=seed,
        role=role,
    )


@contextmanager
def glitched(
    model: nn.Module, kind: str, amount: float, layers: Sequence[str] | None = None, seed: int = 0
) -> Iterator[Mapping[str, torch.Tensor]]:
    """Glitch ``model`` in place inside the ``with`` block; every touched tensor is restored on exit."""
    edited = glitch_state_dict(model, kind, amount, layers, seed)
    params = dict(model.named_parameters())
    saved = {name: params[name].detach().clone() for name in edited}
    try:
        with torch.no_grad():
            for name, value in edited.items():
                params[name].copy_(value)
        yield edited
    finally:
        with torch.no_grad():
            for name, value in saved.items():
                params[name].copy_(value)

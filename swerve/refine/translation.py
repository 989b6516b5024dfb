"""DGflow (Ansari et al. 2021) on a pix2pix translator, whose discriminator is conditional: it judges an
(input, output) pair, so the flow refines the output *for its input*.

What the "latent" is: pix2pix has no latent vector (Isola et al. 2017 found the noise z ignored and kept only
dropout, which swerve switches off at inference). swerve flows the U-Net's **bottleneck**, the output of its
innermost encoder block ``down{n-1}``, flattened to a vector per picture. The encoder's other outputs, the
skip connections, stay those of the input picture; the decoder (``up{n-1}`` .. ``up0``) turns the flowed
bottleneck and the fixed skips into the output, and the critic is the mean of D's patch logits on
(input, output). Everything else is :func:`swerve.refine.dgflow.dgflow` unchanged.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from swerve import taps
from swerve.bundle import Bundle
from swerve.errors import BundleError
from swerve.models.pix2pix import UNetGenerator
from swerve.refine.core import Critic, Refined
from swerve.refine.dgflow import dgflow
from swerve.translate import input_shape


class Decoder(nn.Module):
    """The U-Net's decoder for a fixed set of input pictures: (flat bottleneck, picture index) -> output."""

    def __init__(self, g: UNetGenerator, skips: list[torch.Tensor]) -> None:
        super().__init__()
        self.g, self.skips = g, skips
        self.shape = skips[-1].shape[1:]

    def forward(self, z: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        n = self.g.config.levels
        x = z.view(len(z), *self.shape)
        for i in reversed(range(n)):
            if i < n - 1:
                x = torch.cat([x, self.skips[i][index.to(self.skips[i].device)]], dim=1)
            x = getattr(self.g, f"up{i}")(x)
        return x


@torch.no_grad()
def encode(g: UNetGenerator, source: torch.Tensor) -> list[torch.Tensor]:
    """The encoder's outputs ``down0`` .. ``down{n-1}`` for ``source``; the last is the bottleneck."""
    outs, x = [], source
    for i in range(g.config.levels):
        x = getattr(g, f"down{i}")(x)
        outs.append(x)
    return outs


def conditional_critic(d: nn.Module, source: torch.Tensor) -> Critic:
    """D's mean patch logit for (input ``source[index]``, output ``x``): the critic of the flow."""

    def critic(x: torch.Tensor, index: torch.Tensor | None) -> torch.Tensor:
        return d(source[index.to(source.device)], x).flatten(1).mean(1)

    return critic


def dgflow_translation(bundle: Bundle, source: torch.Tensor, **params: Any) -> Refined:
    """Translate input pictures ``source`` with ``bundle`` and refine the outputs by DGflow on the U-Net's
    bottleneck against its conditional D (module docstring). ``params`` go to :func:`dgflow` (steps, gamma,
    eta, divergence, seed, reverse...); the result's ``z`` holds the flowed bottlenecks, flattened."""
    if "discriminator" not in bundle.networks:
        raise BundleError(f"{bundle.name} has no discriminator (an L1-only translator): DGflow needs its D")
    g = bundle.generator
    if not isinstance(g, UNetGenerator):
        raise BundleError(f"{bundle.name}'s generator is not a pix2pix U-Net")
    shape = input_shape(bundle)
    if source.ndim != 4 or list(source.shape[1:]) != shape:
        raise BundleError(f"{bundle.name} reads pictures of shape {shape}, got {list(source.shape[1:])}")
    d = bundle.networks["discriminator"]
    was = g.training, d.training
    taps.reset_edits(g)
    g.eval(), d.eval()
    try:
        source = source.to(bundle.device)
        outs = encode(g, source)
        z = outs[-1].flatten(1).cpu()
        index = torch.arange(len(source))
        return dgflow(Decoder(g, outs), conditional_critic(d, source), z, labels=index, **params)
    finally:
        g.train(was[0]), d.train(was[1])

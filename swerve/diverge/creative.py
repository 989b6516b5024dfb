"""The creative decoder (Das, Quanz, Chen, Ahn & Shah, "Toward a Neuro-inspired Creative Decoder", 2020).

At inference, in one layer of a decoder, some *weakly* activated units are made to fire together with the
*strongly* activated ones: each sample's chosen weak channels receive the mean activation map of its
strongest channels. Nothing is trained and no data is needed; the units the network normally keeps quiet
join in, so the image moves away from the data while keeping the object's layout (the strong units still
set it). It is a stochastic, data-free form of network bending: :func:`creative_decoder` applies it for a
``with`` block (a :func:`swerve.taps.rewrite`, after the bundle's own edits); :func:`creative_bundle` stores
it in a bundle (``extra["creative"]``), whose generator then always decodes creatively (:mod:`swerve.live`).

The paper's exact layer, fraction and activation values were not available to us; swerve's defaults:
``layer="blocks.0"`` (the first upsampling block of a DCGAN-style decoder: coarse, object-level units),
``top=0.1`` (the strongest tenth of the channels set the pattern), ``fraction=0.25`` (a quarter of the
weaker half of the channels is switched on), ``strength=1.0`` (they fire as strongly as the strong units do
on average). Which weak units join in is drawn per sample from ``seed``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from swerve import taps
from swerve.bundle import Bundle, Samples
from swerve.live import CoActivate, Creative

__all__ = ["Creative", "coactivate", "creative_decoder", "creative_sample", "creative_bundle"]


def coactivate(config: Creative) -> CoActivate:
    """The rewrite: a function of a layer output (N, C, ...) that co-activates weak channels with strong ones.

    Draws from its own generator, seeded once, so a run of samples is reproducible chunk after chunk.
    """
    return CoActivate(config)


@contextmanager
def creative_decoder(model: nn.Module, config: Creative | None = None) -> Iterator[Creative]:
    """Inside the block, ``model`` (a decoder or generator) decodes creatively; outside, it is unchanged."""
    config = config or Creative()
    with taps.rewrite(model, config.layer, coactivate(config)):
        yield config


def creative_sample(
    bundle: Bundle, n: int, seed: int = 0, config: Creative | None = None, labels: torch.Tensor | None = None
) -> Samples:
    """``n`` samples of ``bundle`` through the creative decoder; the recipe records its parameters."""
    with creative_decoder(bundle.generator, config) as used:
        samples = bundle.sample(n, seed=seed, labels=labels)
    samples.recipe["creative"] = used.to_dict()
    return samples


def creative_bundle(bundle: Bundle, config: Creative | None = None) -> Bundle:
    """A copy of ``bundle`` whose generator decodes creatively (stored in ``extra["creative"]``, so it is
    saved, loaded and seen by every sampler and tap); ``bundle`` itself is left as it was."""
    config = config or Creative()
    out = bundle.edit_copy()
    out.extra["creative"] = config.to_dict()
    out.record("creative", **config.to_dict())
    out.generator  # noqa: B018  (installs the edit now, so a layer that does not exist is refused here)
    return out

"""The creative decoder (Das, Quanz, Chen, Ahn & Shah, "Toward a Neuro-inspired Creative Decoder", 2020).

At inference, in one layer of a decoder, some *weakly* activated units are made to fire together with the
*strongly* activated ones: each sample's chosen weak channels receive the mean activation map of its
strongest channels. Nothing is trained and no data is needed; the units the network normally keeps quiet
join in, so the image moves away from the data while keeping the object's layout (the strong units still
set it). It is a stochastic, data-free form of network bending, written with :func:`swerve.taps.rewrite`.

The paper's exact layer, fraction and activation values were not available to us; swerve's defaults:
``layer="blocks.0"`` (the first upsampling block of a DCGAN-style decoder: coarse, object-level units),
``top=0.1`` (the strongest tenth of the channels set the pattern), ``fraction=0.25`` (a quarter of the
weaker half of the channels is switched on), ``strength=1.0`` (they fire as strongly as the strong units do
on average). Which weak units join in is drawn per sample from ``seed``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import torch
from torch import nn

from swerve import taps
from swerve.bundle import Bundle, Samples
from swerve.errors import ConfigError


@dataclass(frozen=True)
class Creative:
    """Parameters of the creative decoder (see the module docstring for what each does and why)."""

    layer: str = "blocks.0"
    fraction: float = 0.25
    strength: float = 1.0
    top: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.fraction <= 1:
            raise ConfigError(f"fraction must be in [0, 1], got {self.fraction}")
        if not 0 < self.top <= 0.5:
            raise ConfigError(f"top must be in (0, 0.5], got {self.top}")
        if self.strength < 0:
            raise ConfigError(f"strength must be >= 0, got {self.strength}")

    def to_dict(self) -> dict:
        return asdict(self)


def coactivate(config: Creative) -> Callable[[torch.Tensor], torch.Tensor]:
    """The rewrite: a function of a layer output (N, C, ...) that co-activates weak channels with strong ones.

    Draws from its own generator, seeded once, so a run of samples is reproducible chunk after chunk.
    """
    gen: torch.Generator | None = None

    def fn(h: torch.Tensor) -> torch.Tensor:
        nonlocal gen
        if gen is None:
            gen = torch.Generator(device=h.device).manual_seed(config.seed)
        n, c = h.shape[:2]
        flat = h.reshape(n, c, -1)
        size = flat.shape[2]
        order = flat.mean(2).argsort(1, descending=True)  # channels from most to least active
        strong = order[:, : max(1, round(config.top * c))]
        weak = order[:, c // 2 :]
        k = round(config.fraction * weak.shape[1])
        if k == 0 or config.strength == 0:
            return h
        draw = torch.rand(n, weak.shape[1], generator=gen, device=h.device).argsort(1)[:, :k]
        chosen = weak.gather(1, draw)
        pattern = flat.gather(1, strong[..., None].expand(-1, -1, size)).mean(1)  # (N, positions)
        boost = (config.strength * pattern)[:, None, :].expand(n, k, size)
        return flat.scatter_add(1, chosen[..., None].expand(n, k, size), boost).reshape(h.shape)

    return fn


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

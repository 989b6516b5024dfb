"""Latent exploration: principal directions of a layer (GANSpace), seeds and interpolation.

GANSpace (Härkönen, Hertzmann, Lehtinen & Paris, NeurIPS 2020) finds the directions a generator varies along
most by principal component analysis of an intermediate layer's activations over many random latents. For a
generator whose latent is isotropic noise (BigGAN in the paper, the DCGANs here) it then transfers each
component to the latent space by linear regression of the latents on the PCA coefficients, so moving along a
latent direction moves the layer along its component. Both uses are offered: a slider can shift the latent
(``latent_offset``) or add the component directly to the layer's output (``layer_offset``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from swerve import taps
from swerve.bundle import Bundle
from swerve.errors import ConfigError
from swerve.look.walk import slerp
from swerve.utils import make_generator


@dataclass
class Directions:
    """Principal directions of ``layer``: ``components`` (k x layer size, unit rows), ``sigma`` (k,) the
    standard deviation of the activations along each, ``latent`` (k x latent dim) the regressed latent
    directions, ``explained`` (k,) the fraction of the layer's variance each accounts for."""

    layer: str
    shape: tuple[int, ...]
    components: torch.Tensor
    sigma: torch.Tensor
    latent: torch.Tensor
    explained: torch.Tensor


@torch.no_grad()
def principal_directions(bundle: Bundle, layer: str, k: int = 8, n: int = 512, seed: int = 0) -> Directions:
    """GANSpace PCA of ``layer``'s outputs over ``n`` random latents (classes cycling for a conditional
    generator), with each component's latent direction found by least squares."""
    if bundle.latent is None:
        raise ConfigError(f"bundle {bundle.name} has no latent space to explore")
    if not 1 <= k <= 32:
        raise ConfigError(f"the number of principal directions must be 1..32, got {k}")
    generator = bundle.generator
    taps.find_layer(generator, layer)
    z = bundle.latent.sample(n, make_generator(seed))
    with taps.record(generator, [layer], device="cpu") as acts:
        bundle.sample(n, z=z, seed=seed)
    if layer not in acts:
        raise ConfigError(f"layer {layer!r} does not run when {bundle.name} generates")
    y = acts[layer].flatten(1).double()
    k = min(k, y.shape[1], n - 1)
    centred = y - y.mean(0)
    # PCA through the n x n Gram matrix: layers are wider than the sample count, so this is the cheap side.
    gram = centred @ centred.T
    values, vectors = torch.linalg.eigh(gram)
    values, vectors = values.flip(0)[:k].clamp_min(1e-12), vectors.flip(1)[:, :k]
    components = (vectors.T @ centred) / values.sqrt()[:, None]
    coeffs = centred @ components.T
    sigma = coeffs.std(0)
    # Latent direction of component j: the least-squares map from the standardised coefficients to z.
    latent = torch.linalg.lstsq(coeffs / sigma, z.double() - z.double().mean(0)).solution
    explained = values / gram.trace()
    return Directions(
        layer=layer,
        shape=tuple(acts[layer].shape[1:]),
        components=components.float(),
        sigma=sigma.float(),
        latent=latent.float(),
        explained=explained.float(),
    )


def _check(directions: Directions, amounts: list[float]) -> torch.Tensor:
    if len(amounts) > len(directions.sigma):
        raise ConfigError(f"{len(amounts)} slider amounts for {len(directions.sigma)} principal directions")
    a = torch.zeros(len(directions.sigma))
    a[: len(amounts)] = torch.tensor(amounts, dtype=torch.float32)
    return a


def latent_offset(directions: Directions, amounts: list[float]) -> torch.Tensor:
    """The latent shift for slider ``amounts`` (in standard deviations of each component)."""
    return _check(directions, amounts) @ directions.latent


def layer_offset(directions: Directions, amounts: list[float]) -> torch.Tensor:
    """The shift of the layer's output (one sample's shape) for slider ``amounts``."""
    a = _check(directions, amounts) * directions.sigma
    return (a @ directions.components).reshape(directions.shape)


def seed_latent(bundle: Bundle, seed: int) -> torch.Tensor:
    """The latent vector (1 x dim) that ``bundle.sample(1, seed=seed)`` would draw."""
    if bundle.latent is None:
        raise ConfigError(f"bundle {bundle.name} has no latent space")
    return bundle.latent.sample(1, make_generator(seed))


def between(bundle: Bundle, seed_a: int, seed_b: int, t: float) -> torch.Tensor:
    """The latent a fraction ``t`` of the way from seed ``a``'s to seed ``b``'s, along the great circle."""
    if not 0.0 <= t <= 1.0:
        raise ConfigError(f"interpolation t must lie in [0, 1], got {t}")
    return slerp(seed_latent(bundle, seed_a), seed_latent(bundle, seed_b), t)

"""What every refinement method shares: the critic it reads, the result it returns, one gradient step.

A *critic* is any function ``(x, labels) -> logits`` of shape (N,): a GAN's discriminator, a trained
density-ratio estimator (ratio.py), or a classifier's log-odds for one class. Refinement methods read its
logit ``d(x)`` as an estimate of ``log p_data(x) / p_model(x)`` (or, for DOT, as a Lipschitz critic).

Every method takes the same arguments: a generator (any ``nn.Module`` taking ``z`` and, when conditional,
labels), a critic, the starting latents ``z``, and keyword settings. Every method returns a
:class:`Refined`: the refined samples and latents, plus its cost (gradient evaluations, generator
evaluations, seconds), so methods can be compared side by side on the same latents.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from swerve.errors import MAX_STEPS, ConfigError, check_number
from swerve.utils import make_generator

Critic = Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]


@dataclass
class Refined:
    """Refined samples with their latents and labels, the cost of getting them and how they were made.

    ``grad_evals`` and ``gen_evals`` count, per output sample, the critic gradients and generator forward
    passes the method needed. ``trajectory`` (optional) holds the samples after each step, step 0 first.
    """

    x: torch.Tensor
    z: torch.Tensor | None
    labels: torch.Tensor | None
    method: str
    params: dict[str, Any]
    grad_evals: float = 0.0
    gen_evals: float = 1.0
    seconds: float = 0.0
    trajectory: list[torch.Tensor] | None = None
    accepted: torch.Tensor | None = None  # rejection methods: which slots hold an accepted sample
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """The JSON-friendly part: method, settings and cost."""
        return {
            "method": self.method,
            "params": self.params,
            "n": len(self.x),
            "grad_evals_per_sample": self.grad_evals,
            "gen_evals_per_sample": self.gen_evals,
            "seconds": round(self.seconds, 4),
            **self.extra,
        }


def discriminator_critic(net: nn.Module) -> Critic:
    """A critic from a discriminator network, passing labels only when the network is class-conditional."""
    conditional = bool(getattr(getattr(net, "config", None), "num_classes", 0))

    def critic(x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return net(x, labels) if conditional and labels is not None else net(x)

    return critic


def generate(generator: nn.Module, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    """``generator(z)``, or ``generator(z, labels)`` for a conditional one."""
    return generator(z) if labels is None else generator(z, labels)


def critic_gradient(
    critic: Critic, x: torch.Tensor, labels: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The critic's logits at ``x`` and their gradient with respect to ``x`` (one backward pass)."""
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        d = critic(x, labels)
        (grad,) = torch.autograd.grad(d.sum(), x)
    return d.detach(), grad


def latent_gradient(
    generator: nn.Module, critic: Critic, z: torch.Tensor, labels: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Samples ``G(z)``, logits ``d(G(z))`` and ``∇_z d(G(z))``: one forward of G and D, one backward to z.

    Samples are independent given their latents (networks in eval mode), so the gradient of the summed
    logits gives every sample's own gradient at once.
    """
    z = z.detach().requires_grad_(True)
    with torch.enable_grad():
        x = generate(generator, z, labels)
        d = critic(x, labels)
        (grad,) = torch.autograd.grad(d.sum(), z)
    return x.detach(), d.detach(), grad


@torch.no_grad()
def critic_logits(
    critic: Critic,
    x: torch.Tensor,
    labels: torch.Tensor | None = None,
    batch_size: int = 500,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """The critic's logits on ``x`` (N,), in batches, returned on the CPU."""
    out = []
    for part in batches(len(x), batch_size):
        y = None if labels is None else labels[part].to(device)
        out.append(critic(x[part].to(device), y).float().cpu())
    return torch.cat(out)


@torch.no_grad()
def generate_all(
    generator: nn.Module, z: torch.Tensor, labels: torch.Tensor | None, batch_size: int = 500
) -> torch.Tensor:
    """``G(z)`` for many latents, in batches, returned on the CPU."""
    device = module_device(generator)
    out = []
    for part in batches(len(z), batch_size):
        y = None if labels is None else labels[part].to(device)
        out.append(generate(generator, z[part].to(device), y).cpu())
    return torch.cat(out)


def module_device(net: nn.Module) -> torch.device:
    """The device of a module's first parameter (CPU for a module without parameters)."""
    for tensor in net.parameters():
        return tensor.device
    return torch.device("cpu")


def noise_generator(seed: int) -> torch.Generator:
    """The random stream a method draws from for ``seed``: distinct from the stream ``bundle.sample`` uses
    for the latents with the same seed (otherwise the first noise draw would equal the latents)."""
    return make_generator(1_000_003 * int(seed) + 7919)


class Timer:
    """Wall-clock seconds of a block: ``with Timer() as t: ...; t.seconds``."""

    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


def batches(n: int, batch_size: int) -> list[slice]:
    """Slices covering ``range(n)`` in chunks of ``batch_size``."""
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
    return [slice(start, min(n, start + batch_size)) for start in range(0, n, batch_size)]


def check_latents(z: torch.Tensor, labels: torch.Tensor | None) -> None:
    """Refuse latents that are not a batch of vectors, or labels that do not match them."""
    if not isinstance(z, torch.Tensor) or z.dim() != 2 or len(z) == 0:
        shape = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
        raise ConfigError(f"latents must be an (N, dim) tensor with N >= 1, got {shape}")
    if labels is not None and labels.shape != (len(z),):
        raise ConfigError(f"expected {len(z)} labels, got shape {tuple(labels.shape)}")


def positive(name: str, value: float) -> None:
    """Raise ConfigError unless ``value`` is a finite positive number."""
    check_number(name, value, 0, open_low=True)


def non_negative(name: str, value: float) -> None:
    """Raise ConfigError unless ``value`` is a finite number >= 0."""
    check_number(name, value, 0)


def positive_int(name: str, value: int) -> None:
    """Raise ConfigError unless ``value`` is a positive integer (a count of steps at most MAX_STEPS)."""
    check_number(name, value, 1, MAX_STEPS, integer=True)

"""Discriminator Rejection Sampling (Azadi, Olsson, Darrell, Goodfellow & Odena, ICLR 2019).

Rejection sampling from the generator with the critic's density ratio ``exp(d(x))``: ideally accept ``x``
with probability ``exp(d(x) − d_max)``. Because that rate is tiny in practice, DRS accepts with
``sigmoid(F(x))`` where::

    F(x) = d(x) − d_max − log(1 − exp(d(x) − d_max − ε)) − γ

``d_max`` is the largest logit seen (first over a burn-in set of proposals, raised whenever a larger one
turns up) and ``γ`` shifts the acceptance rate: by default it is the ``percentile``-th percentile of
``F`` (at γ = 0) over the burn-in proposals, as in the paper (95th), so only the best 5% of proposals are
accepted with probability above one half. Rejected slots are proposed again (new latents from the prior,
the same label) until filled or ``max_rounds`` is reached.

The burn-in scales with the number of samples asked for: ``n`` proposals, but at least ``BURN_IN_MIN``
(1,000: enough for the 95th percentile to rest on 50 proposals above it, and for a first ``d_max`` that the
main rounds rarely raise) and at most ``BURN_IN_MAX`` (10,000, the order of the paper's burn-in), so refining
16 samples does not first generate and score 10,000. ``burn_in=N`` sets it.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from swerve.bundle import LatentSpec
from swerve.errors import ConfigError
from swerve.refine.core import (
    Critic,
    Refined,
    Timer,
    check_latents,
    critic_logits,
    generate_all,
    module_device,
    noise_generator,
    positive_int,
)

EPS = 1e-6
BURN_IN_MIN, BURN_IN_MAX = 1_000, 10_000  # default burn-in: n proposals, clamped to this range


def drs_score(d: torch.Tensor, d_max: float, eps: float = EPS) -> torch.Tensor:
    """``F`` at γ = 0 for logits ``d`` (float64): ``d − d_max − log(1 − exp(d − d_max − ε))``."""
    delta = d.double() - d_max
    return delta - torch.log1p(-torch.exp(delta - eps))


def drs_acceptance(d: torch.Tensor, d_max: float, gamma: float = 0.0, eps: float = EPS) -> torch.Tensor:
    """The probability DRS accepts samples with logits ``d``: ``sigmoid(F − γ)`` (module docstring)."""
    return torch.sigmoid(drs_score(d, d_max, eps) - gamma)


def default_burn_in(n: int) -> int:
    """The burn-in for ``n`` samples when none is given: ``n``, clamped to [BURN_IN_MIN, BURN_IN_MAX]."""
    return min(BURN_IN_MAX, max(BURN_IN_MIN, n))


def drs(
    generator: nn.Module,
    critic: Critic,
    z: torch.Tensor,
    *,
    labels: torch.Tensor | None = None,
    prior: LatentSpec | None = None,
    percentile: float = 95.0,
    gamma: float | None = None,
    burn_in: int | None = None,
    max_rounds: int = 100,
    batch_size: int = 500,
    seed: int = 0,
    progress: bool = False,
) -> Refined:
    """Fill one slot per latent in ``z`` with an accepted sample; ``z`` are the first proposals.

    A slot still empty after ``max_rounds`` proposals keeps its last proposal (counted in ``extra``).
    ``burn_in`` proposals estimate ``d_max`` and γ first (default: :func:`default_burn_in` of ``len(z)``).
    """
    check_latents(z, labels)
    burn_in = default_burn_in(len(z)) if burn_in is None else burn_in
    positive_int("burn_in", burn_in)
    positive_int("max_rounds", max_rounds)
    if isinstance(percentile, bool) or not isinstance(percentile, int | float) or not 0 <= percentile <= 100:
        raise ConfigError(f"percentile must lie in [0, 100], got {percentile!r}")
    if gamma is not None and (
        isinstance(gamma, bool) or not isinstance(gamma, int | float) or not math.isfinite(gamma)
    ):
        raise ConfigError(f"gamma must be a finite number (or left out), got {gamma!r}")
    prior = prior or LatentSpec(z.shape[1])
    device = module_device(generator)
    gen = noise_generator(seed)

    def logits(latents: torch.Tensor, y: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        x = generate_all(generator, latents, y, batch_size)
        return x, critic_logits(critic, x, y, batch_size, device)

    with Timer() as timer:
        burn_labels = None
        if labels is not None:
            burn_labels = labels[torch.randint(len(labels), (burn_in,), generator=gen)]
        _, d_burn = logits(prior.sample(burn_in, gen), burn_labels)
        d_max = float(d_burn.max())
        if gamma is None:
            gamma = float(torch.quantile(drs_score(d_burn, d_max), percentile / 100))
        state, x_out = z.detach().cpu().float().clone(), None
        filled = torch.zeros(len(z), dtype=torch.bool)
        proposals = 0
        candidates = state.clone()
        for _ in range(max_rounds):
            todo = (~filled).nonzero().squeeze(1)
            if len(todo) == 0:
                break
            y = None if labels is None else labels[todo]
            x, d = logits(candidates[todo], y)
            proposals += len(todo)
            d_max = max(d_max, float(d.max()))
            accept = torch.rand(len(todo), generator=gen) < drs_acceptance(d, d_max, gamma)
            if x_out is None:
                x_out = torch.empty(len(z), *x.shape[1:])
            x_out[todo], state[todo] = x, candidates[todo]  # the last proposal, kept if never accepted
            filled[todo[accept]] = True
            candidates[todo] = prior.sample(len(todo), gen)
    unfilled = int((~filled).sum())
    return Refined(
        x=x_out,
        z=state,
        labels=labels,
        method="drs",
        params=dict(percentile=percentile, gamma=gamma, burn_in=burn_in, max_rounds=max_rounds, seed=seed),
        grad_evals=0.0,
        gen_evals=(proposals + burn_in) / len(z),
        seconds=timer.seconds,
        accepted=filled,
        extra={"acceptance": (len(z) - unfilled) / proposals, "unfilled": unfilled, "d_max": d_max},
    )

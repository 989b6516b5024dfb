"""Metropolis–Hastings GAN (Turner, Hung, Frank, Saatci & Yosinski, ICML 2019).

An independence sampler whose proposals are the generator's samples and whose target is the data
distribution, with the density ratio read from a (calibrated) discriminator ``D = sigmoid(d)``. A chain at
``x`` accepts the proposal ``x'`` with probability::

    min(1, (1/D(x) − 1) / (1/D(x') − 1)) = min(1, exp(d(x') − d(x)))

Each output slot runs its own chain of ``k`` proposals. Turner et al. start chains at a real sample to avoid
a burn-in bias; here a chain starts at the sample of the slot's own latent (so every method starts from the
same latents), and keeps it when no proposal is accepted. The critic is assumed calibrated: a logistic-loss
ratio estimator (ratio.py) is, roughly; Turner et al. recalibrate on held-out data.
"""

from __future__ import annotations

import torch
from torch import nn
from tqdm.auto import tqdm

from swerve.bundle import LatentSpec
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


def mh_accept(d_current: torch.Tensor, d_proposal: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Which chains move: ``u < min(1, exp(d' − d))`` for uniform draws ``u``."""
    return u < torch.exp((d_proposal - d_current).double()).clamp(max=1.0)


def mh(
    generator: nn.Module,
    critic: Critic,
    z: torch.Tensor,
    *,
    labels: torch.Tensor | None = None,
    prior: LatentSpec | None = None,
    k: int = 640,
    batch_size: int = 500,
    seed: int = 0,
    progress: bool = False,
) -> Refined:
    """Run one independence chain of ``k`` generator proposals per latent in ``z`` (its start) and keep
    its final state. ``k = 640`` is the paper's chain length."""
    check_latents(z, labels)
    positive_int("k", k)
    prior = prior or LatentSpec(z.shape[1])
    device = module_device(generator)
    gen = noise_generator(seed)
    with Timer() as timer:
        state = z.detach().cpu().float().clone()
        x = generate_all(generator, state, labels, batch_size)
        d = critic_logits(critic, x, labels, batch_size, device)
        moves = 0
        for _ in tqdm(range(k), disable=not progress, desc="mh", unit="proposal"):
            z_new = prior.sample(len(z), gen)
            x_new = generate_all(generator, z_new, labels, batch_size)
            d_new = critic_logits(critic, x_new, labels, batch_size, device)
            move = mh_accept(d, d_new, torch.rand(len(z), generator=gen, dtype=torch.float64))
            state[move], x[move], d[move] = z_new[move], x_new[move], d_new[move]
            moves += int(move.sum())
    return Refined(
        x=x,
        z=state,
        labels=labels,
        method="mh",
        params=dict(k=k, seed=seed),
        grad_evals=0.0,
        gen_evals=float(k + 1),
        seconds=timer.seconds,
        extra={
            "acceptance": moves / (k * len(z)),
            "never_moved": int((state == z.detach().cpu()).all(1).sum()),
        },
    )

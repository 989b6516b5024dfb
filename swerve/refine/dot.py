"""Discriminator Optimal Transport, latent-space version (Tanaka, "Discriminator optimal transport",
NeurIPS 2019).

A WGAN critic ``d`` (1-Lipschitz up to a constant) solves the dual of the optimal-transport problem from the
model to the data, so each sample can be moved by solving, for its own latent ``z_y``::

    z* = argmin_z ‖z − z_y‖₂ − d(G(z)) / k_eff

``k_eff``, the Lipschitz constant of ``d ∘ G``, is estimated as the largest ``|Δd| / ‖Δz‖`` over random pairs
of latents. The minimisation runs a few steps of Adam (lr 0.01, β = (0, 0.9), as in the paper's code),
written out per sample.
For a Gaussian prior in many dimensions the mass lies near the shell ``‖z‖ ≈ sqrt(dim)``; there the
radial part of each gradient is removed so latents stay on their shell (``project``; on by default from 16
latent dimensions, where the shell exists, off below).
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
    batches,
    check_latents,
    critic_logits,
    generate,
    generate_all,
    module_device,
    noise_generator,
    positive,
    positive_int,
)

SHELL_DIM = 16  # from this many latent dimensions on, a Gaussian's mass sits on a thin shell
SMOOTH = 1e-3  # keeps the gradient of ‖z − z_y‖ finite at z = z_y
BETA2, ADAM_EPS = 0.9, 1e-8  # Adam's second-moment decay and epsilon (β1 = 0), as in the paper's code


@torch.no_grad()
def effective_lipschitz(
    generator: nn.Module,
    critic: Critic,
    prior: LatentSpec,
    pairs: int = 100,
    seed: int = 0,
    labels: torch.Tensor | None = None,
) -> float:
    """max |d(G(z1)) − d(G(z2))| / ‖z1 − z2‖ over ``pairs`` random latent pairs (labels: one per pair)."""
    gen = noise_generator(seed)
    z1, z2 = prior.sample(pairs, gen), prior.sample(pairs, gen)
    device = module_device(generator)
    d1 = critic_logits(critic, generate_all(generator, z1, labels), labels, device=device)
    d2 = critic_logits(critic, generate_all(generator, z2, labels), labels, device=device)
    return float(((d1 - d2).abs() / (z1 - z2).norm(dim=1)).max())


def dot(
    generator: nn.Module,
    critic: Critic,
    z: torch.Tensor,
    *,
    labels: torch.Tensor | None = None,
    prior: LatentSpec | None = None,
    steps: int = 10,
    lr: float = 0.01,
    pairs: int = 100,
    project: bool | None = None,
    batch_size: int = 500,
    seed: int = 0,
    progress: bool = False,
) -> Refined:
    """Move each latent by ``steps`` Adam steps on ``‖z − z_y‖ − d(G(z)) / k_eff`` (module docstring)."""
    check_latents(z, labels)
    positive_int("steps", steps)
    positive("lr", lr)
    positive_int("pairs", pairs)
    prior = prior or LatentSpec(z.shape[1])
    project = z.shape[1] >= SHELL_DIM if project is None else project
    device = module_device(generator)
    with Timer() as timer:
        pair_labels = None
        if labels is not None:  # a conditional model: pairs share the label drawn for them
            pair_labels = labels[torch.randint(len(labels), (pairs,), generator=noise_generator(seed))]
        k_eff = effective_lipschitz(generator, critic, prior, pairs, seed, pair_labels)
        out = []
        for part in tqdm(batches(len(z), batch_size), disable=not progress, desc="dot", unit="batch"):
            y = None if labels is None else labels[part].to(device)
            target = z[part].detach().to(device)
            zt = target.clone()
            second_moment = torch.zeros_like(zt)
            for t in range(1, steps + 1):
                zt.requires_grad_(True)
                with torch.enable_grad():
                    cost = (zt - target + SMOOTH).norm(dim=1) - critic(generate(generator, zt, y), y) / k_eff
                    (grad,) = torch.autograd.grad(cost.sum(), zt)
                zt = zt.detach()
                if project:
                    grad = grad - (grad * zt).sum(1, keepdim=True) / (zt * zt).sum(1, keepdim=True) * zt
                # Adam with β1 = 0: the step is the gradient over the root of its bias-corrected mean square.
                second_moment = BETA2 * second_moment + (1 - BETA2) * grad**2
                zt = zt - lr * grad / ((second_moment / (1 - BETA2**t)).sqrt() + ADAM_EPS)
            out.append(zt.cpu())
        state = torch.cat(out)
        x = generate_all(generator, state, labels, batch_size)
    return Refined(
        x=x,
        z=state,
        labels=labels,
        method="dot",
        params=dict(steps=steps, lr=lr, pairs=pairs, project=project, seed=seed),
        grad_evals=float(steps),
        gen_evals=float(steps + 1) + 2 * pairs / len(z),
        seconds=timer.seconds,
        extra={"k_eff": k_eff},
    )

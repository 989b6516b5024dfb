"""Discriminator Optimal Transport (Tanaka, "Discriminator optimal transport", NeurIPS 2019).

A WGAN critic ``d`` (1-Lipschitz up to a constant) solves the dual of the optimal-transport problem from the
model to the data, so each sample ``y = G(z_y)`` can be moved by solving, on its own::

    x* = argmin_x ‖x − y‖₂ − d(x) / K_eff              (data space: the paper's 2-D protocol)
    z* = argmin_z ‖z − z_y‖₂ − d(G(z)) / k_eff          (latent space: the paper's image protocol)

``K_eff`` / ``k_eff`` is the Lipschitz constant of ``d`` (data space) or of ``d ∘ G`` (latent space),
estimated as the largest ``|Δd| / ‖Δx‖`` (or ``/ ‖Δz‖``) over ``pairs`` random pairs of samples; the paper's
2-D demonstration averages ``estimates`` = 10 such maxima of 100 pairs each. The minimisation runs Adam
(lr 0.01, β = (0, 0.9), as in the paper's code), written out per sample: ``steps`` = 100 updates in data
space, each followed by clipping the samples to ``[−clip, clip]`` (2 in the paper's 2-D demonstration), or
10 updates in latent space.

``space="data"`` with its defaults is the paper's 2-D protocol; ``space="latent"`` (the default) moves the
latents instead, which keeps every sample on the generator's range. For a Gaussian prior in many dimensions
the mass lies near the shell ``‖z‖ ≈ sqrt(dim)``; there the radial part of each latent gradient is removed
exactly (``g − (g·z / ‖z‖²) z``) so latents stay on their shell (``project``; on by default from 16 latent
dimensions, where the shell exists, off below). The paper's code subtracts ``(g·z / 11.31) z`` instead
(11.31 = √128, its latent size), which removes more than the radial part whenever ``‖z‖² ≠ 11.31``.
"""

from __future__ import annotations

import torch
from torch import nn
from tqdm.auto import tqdm

from swerve.bundle import LatentSpec
from swerve.errors import ConfigError
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
SPACES = ("latent", "data")
# The paper's settings per space: updates, Lipschitz estimates averaged, clipping (data space only).
DEFAULTS = {"latent": {"steps": 10, "estimates": 1}, "data": {"steps": 100, "estimates": 10, "clip": 2.0}}


@torch.no_grad()
def effective_lipschitz(
    generator: nn.Module,
    critic: Critic,
    prior: LatentSpec,
    pairs: int = 100,
    seed: int = 0,
    labels: torch.Tensor | None = None,
    space: str = "latent",
    estimates: int = 1,
) -> float:
    """The mean over ``estimates`` draws of max |d(G(z1)) − d(G(z2))| / ‖u1 − u2‖ over ``pairs`` random
    latent pairs, with u the latent z (``space="latent"``) or the sample G(z) (``"data"``); labels: one per
    pair, the same in every draw."""
    gen = noise_generator(seed)
    device = module_device(generator)
    maxima = []
    for _ in range(estimates):
        z1, z2 = prior.sample(pairs, gen), prior.sample(pairs, gen)
        x1, x2 = generate_all(generator, z1, labels), generate_all(generator, z2, labels)
        d1 = critic_logits(critic, x1, labels, device=device)
        d2 = critic_logits(critic, x2, labels, device=device)
        apart = (z1 - z2) if space == "latent" else (x1 - x2).flatten(1)
        maxima.append(((d1 - d2).abs() / apart.norm(dim=1).clamp_min(1e-12)).max())
    return float(torch.stack(maxima).mean())


def dot(
    generator: nn.Module,
    critic: Critic,
    z: torch.Tensor,
    *,
    labels: torch.Tensor | None = None,
    prior: LatentSpec | None = None,
    space: str = "latent",
    steps: int | None = None,
    lr: float = 0.01,
    pairs: int = 100,
    estimates: int | None = None,
    clip: float | None = None,
    project: bool | None = None,
    batch_size: int = 500,
    seed: int = 0,
    progress: bool = False,
) -> Refined:
    """Move each sample by ``steps`` Adam steps on ``‖u − u_y‖ − d / K_eff`` in latent or data space
    (module docstring); settings left out take the paper's values for the space."""
    check_latents(z, labels)
    if space not in SPACES:
        raise ConfigError(f"space must be one of {', '.join(SPACES)}; got {space!r}")
    if clip is not None and space == "latent":
        raise ConfigError("clip is a data-space setting (space=data); latent DOT does not clip")
    if project and space == "data":
        raise ConfigError("project is a latent-space setting; data-space DOT moves samples, not latents")
    steps = DEFAULTS[space]["steps"] if steps is None else steps
    estimates = DEFAULTS[space]["estimates"] if estimates is None else estimates
    clip = DEFAULTS[space].get("clip") if clip is None else clip
    positive_int("steps", steps)
    positive("lr", lr)
    positive_int("pairs", pairs)
    positive_int("estimates", estimates)
    if clip is not None:
        positive("clip", clip)
    prior = prior or LatentSpec(z.shape[1])
    project = space == "latent" and (z.shape[1] >= SHELL_DIM if project is None else project)
    device = module_device(generator)
    with Timer() as timer:
        pair_labels = None
        if labels is not None:  # a conditional model: pairs share the label drawn for them
            pair_labels = labels[torch.randint(len(labels), (pairs,), generator=noise_generator(seed))]
        k_eff = effective_lipschitz(generator, critic, prior, pairs, seed, pair_labels, space, estimates)
        start = (
            z.detach().cpu().float() if space == "latent" else generate_all(generator, z, labels, batch_size)
        )
        out = []
        for part in tqdm(batches(len(z), batch_size), disable=not progress, desc="dot", unit="batch"):
            y = None if labels is None else labels[part].to(device)
            target = start[part].to(device)
            ut = target.clone()
            second_moment = torch.zeros_like(ut)
            for t in range(1, steps + 1):
                ut.requires_grad_(True)
                with torch.enable_grad():
                    x = generate(generator, ut, y) if space == "latent" else ut
                    cost = (ut - target + SMOOTH).flatten(1).norm(dim=1) - critic(x, y) / k_eff
                    (grad,) = torch.autograd.grad(cost.sum(), ut)
                ut = ut.detach()
                if project:
                    grad = grad - (grad * ut).sum(1, keepdim=True) / (ut * ut).sum(1, keepdim=True) * ut
                # Adam with β1 = 0: the step is the gradient over the root of its bias-corrected mean square.
                second_moment = BETA2 * second_moment + (1 - BETA2) * grad**2
                ut = ut - lr * grad / ((second_moment / (1 - BETA2**t)).sqrt() + ADAM_EPS)
                if clip is not None:
                    ut = ut.clamp(-clip, clip)
            out.append(ut.cpu())
        state = torch.cat(out)
        x = generate_all(generator, state, labels, batch_size) if space == "latent" else state
    params = dict(space=space, steps=steps, lr=lr, pairs=pairs, estimates=estimates, seed=seed)
    params.update({"clip": clip} if space == "data" else {"project": project})
    return Refined(
        x=x,
        z=state if space == "latent" else z.detach().cpu(),
        labels=labels,
        method="dot",
        params=params,
        grad_evals=float(steps),
        gen_evals=(float(steps + 1) if space == "latent" else 1.0) + 2 * pairs * estimates / len(z),
        seconds=timer.seconds,
        extra={"k_eff": k_eff},
    )

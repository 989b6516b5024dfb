"""Discriminator Driven Latent Sampling (Che et al., "Your GAN is Secretly an Energy-based Model and You
Should Use Discriminator Driven Latent Sampling", NeurIPS 2020).

The generator and a density-ratio critic define an energy on the latent space,
``E(z) = −log p₀(z) − d(G(z))``, whose Boltzmann distribution pushed through G is the data distribution
(when ``d`` is the exact log ratio). DDLS samples it with Langevin dynamics::

    z ← z − (ε/2) ∇E(z) + sqrt(ε) · n,      n ~ N(0, I)

For a standard normal prior ``−log p₀(z) = ‖z‖²/2``; for a uniform prior on [−1, 1]ᵈ it is flat and the
chain is clamped to the cube. Compared with DGflow-KL at γ = 1 (see dgflow.py), DDLS adds the prior drift.
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
    generate_all,
    latent_gradient,
    module_device,
    noise_generator,
    positive,
    positive_int,
)


def ddls(
    generator: nn.Module,
    critic: Critic,
    z: torch.Tensor,
    *,
    labels: torch.Tensor | None = None,
    prior: LatentSpec | None = None,
    eps: float = 0.01,
    steps: int = 100,
    decay: float = 1.0,
    batch_size: int = 500,
    seed: int = 0,
    progress: bool = False,
) -> Refined:
    """Run ``steps`` Langevin steps of step size ``eps`` (multiplied by ``decay`` after each step) from ``z``.

    ``prior`` is the generator's latent prior (default: standard normal).
    """
    check_latents(z, labels)
    positive("eps", eps)
    positive_int("steps", steps)
    if isinstance(decay, bool) or not isinstance(decay, int | float) or not 0 < decay <= 1:
        raise ConfigError(f"decay must lie in (0, 1], got {decay!r}")
    distribution = prior.distribution if prior is not None else "normal"
    if distribution not in ("normal", "uniform"):
        raise ConfigError(f"DDLS knows normal and uniform priors, not {distribution!r}")
    device = module_device(generator)
    noise_gen = noise_generator(seed)
    state = z.detach().cpu().float().clone()  # never write into the caller's latents
    step_size = eps
    with Timer() as timer:
        for _ in tqdm(range(steps), disable=not progress, desc="ddls", unit="step"):
            noise = torch.randn(state.shape, generator=noise_gen)
            for part in batches(len(state), batch_size):
                y = None if labels is None else labels[part].to(device)
                s = state[part].to(device)
                _, _, grad_d = latent_gradient(generator, critic, s, y)
                grad_energy = (s if distribution == "normal" else 0.0) - grad_d
                s = s - 0.5 * step_size * grad_energy + step_size**0.5 * noise[part].to(device)
                state[part] = (s.clamp(-1, 1) if distribution == "uniform" else s).cpu()
            step_size *= decay
        x = generate_all(generator, state, labels, batch_size)
    return Refined(
        x=x,
        z=state,
        labels=labels,
        method="ddls",
        params=dict(eps=eps, steps=steps, decay=decay, seed=seed),
        grad_evals=float(steps),
        gen_evals=float(steps + 1),
        seconds=timer.seconds,
    )

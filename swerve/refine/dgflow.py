"""Discriminator Gradient Flow (Ansari, Ang & Soh, "Refining Deep Generative Models via Discriminator
Gradient Flow", ICLR 2021).

A critic's logit ``d(x)`` estimates ``log p_data(x) / p_model(x)``. The Wasserstein gradient flow of the
entropy-regularised f-divergence ``D_f(p_data ‖ ρ) − γ H(ρ)``, simulated with Euler–Maruyama, moves each
sample along the critic's gradient with a little noise. Run in the generator's latent space, one step is::

    z ← z + η · s(d) · ∇_z d(G(z)) + sqrt(2 γ η) · ξ,      ξ ~ N(0, I)

where the factor ``s`` depends on the f-divergence (with ``ρ/μ = exp(−d)``): KL ``s = 1``, JS
``s = sigmoid(d)``, log D ``s = 1 − sigmoid(d)``. There is no prior term and no clipping. The data-space
variant runs the same update on ``x`` directly (``space="data"``); the paper prefers the latent space, where
the stale ratio estimate does less harm.

``reverse=True`` flips the drift: samples are pushed *away* from what the critic calls real — or, with a
class critic (:func:`swerve.refine.ratio.class_critic`), towards another density ratio — a creative use of
the same machinery, measured like any divergence.
"""

from __future__ import annotations

import torch
from torch import nn
from tqdm.auto import tqdm

from swerve.errors import ConfigError
from swerve.refine.core import (
    Critic,
    Refined,
    Timer,
    batches,
    check_latents,
    critic_gradient,
    generate_all,
    latent_gradient,
    module_device,
    noise_generator,
    non_negative,
    positive,
    positive_int,
)

DIVERGENCES = ("kl", "js", "logd")
SPACES = ("latent", "data")


def velocity_factor(divergence: str, d: torch.Tensor) -> torch.Tensor:
    """The per-sample factor ``s(d)`` multiplying ``∇d`` in the flow: 1 (KL), sigmoid(d) (JS),
    1 − sigmoid(d) (log D)."""
    if divergence == "kl":
        return torch.ones_like(d)
    if divergence == "js":
        return torch.sigmoid(d)
    if divergence == "logd":
        return torch.sigmoid(-d)  # = 1 − sigmoid(d), without the cancellation for large d
    raise ConfigError(f"divergence must be one of {', '.join(DIVERGENCES)}; got {divergence!r}")


def dgflow(
    generator: nn.Module,
    critic: Critic,
    z: torch.Tensor,
    *,
    labels: torch.Tensor | None = None,
    divergence: str = "kl",
    gamma: float = 0.01,
    eta: float = 0.1,
    steps: int = 25,
    batch_size: int = 500,
    seed: int = 0,
    space: str = "latent",
    reverse: bool = False,
    trajectory: bool = False,
    progress: bool = False,
) -> Refined:
    """Refine the samples ``G(z)`` with ``steps`` Euler–Maruyama steps of DGflow (defaults: the paper's).

    ``gamma`` is the entropy weight (noise), ``eta`` the step size, ``divergence`` one of kl, js, logd.
    The noise comes from a generator seeded with ``seed`` and is drawn for all samples at once, so the result
    does not depend on ``batch_size``. With ``trajectory=True`` the result holds the samples after every step.
    """
    check_latents(z, labels)
    velocity_factor(divergence, torch.zeros(1))  # validates the name
    non_negative("gamma", gamma)
    positive("eta", eta)
    positive_int("steps", steps)
    if space not in SPACES:
        raise ConfigError(f"space must be one of {', '.join(SPACES)}; got {space!r}")
    device = module_device(generator)
    noise_gen = noise_generator(seed)
    sign = -1.0 if reverse else 1.0
    noise_scale = (2 * gamma * eta) ** 0.5
    parts = batches(len(z), batch_size)
    with Timer() as timer:
        if space == "latent":
            state = z.detach().cpu().float().clone()  # never write into the caller's latents
        else:
            state = generate_all(generator, z, labels, batch_size)
        # The trajectory holds steps + 1 snapshots: the start, then after each step. In latent space the
        # samples at the start of a step come free with its gradient.
        path: list[torch.Tensor] | None = None
        if trajectory:
            path = [] if space == "latent" else [state.clone()]
        for _ in tqdm(range(steps), disable=not progress, desc=f"dgflow-{divergence}", unit="step"):
            noise = torch.randn(state.shape, generator=noise_gen)
            shown = []
            for part in parts:
                y = None if labels is None else labels[part].to(device)
                s = state[part].to(device)
                if space == "latent":
                    x, d, grad = latent_gradient(generator, critic, s, y)
                    shown.append(x.cpu())
                else:
                    d, grad = critic_gradient(critic, s, y)
                factor = velocity_factor(divergence, d).view(-1, *([1] * (s.dim() - 1)))
                step = sign * eta * factor * grad + noise_scale * noise[part].to(device)
                state[part] = (s + step).cpu()
            if path is not None:
                path.append(torch.cat(shown) if space == "latent" else state.clone())
        x = generate_all(generator, state, labels, batch_size) if space == "latent" else state
        if path is not None and space == "latent":
            path.append(x)
    params = dict(
        divergence=divergence, gamma=gamma, eta=eta, steps=steps, seed=seed, space=space, reverse=reverse
    )
    return Refined(
        x=x,
        z=state if space == "latent" else z.detach().cpu(),
        labels=labels,
        method="dgflow",
        params=params,
        grad_evals=float(steps),
        gen_evals=float(steps + 1) if space == "latent" else 1.0,
        seconds=timer.seconds,
        trajectory=path,
    )

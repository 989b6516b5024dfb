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

Step size. The paper's update uses one fixed η for every sample (``eta=0.1``; what ``--set eta=X`` runs);
the right η depends on the critic's curvature in latent space, which a user cannot know (on the 25
Gaussians η = 0.1 overshoots the narrow modes and loses some, η = 0.01 does not). swerve's default,
``eta=None``, controls the step per sample: a step starts from the sample's last step size doubled (at
most ``eta_max``, and short enough that the drift moves the latent at most ``max_move`` · sqrt(dim)), and
the whole move — drift and noise, z + η·v + sqrt(2γη)·ξ — is kept only if it raises the critic's value by
at least half of what the drift's first-order model promises, less γ·log u with u ~ U(0, 1):

    s · (d(G(z')) − d(G(z))) ≥ ½ η ⟨v, s ∇d⟩ + γ log u        (s = −1 when reversed)

Otherwise η is halved (same ξ and u) and tried again, up to ``backtracks`` times; a sample that never
passes stays put for that step. With γ = 0 this is Armijo's backtracking line search on the energy −d, so
no step raises the energy; with γ > 0 the γ log u term is a Metropolis-style allowance (a move that lowers
d by Δ passes with probability about exp(−Δ/γ)), so the noise still explores but cannot throw a sample
off a narrow mode at a large step. Each try costs one forward of G and D for the samples still trying.

Annealing. With the step control the entropy weight falls linearly to zero over the run, γ_k = γ·(1 −
(k+1)/steps) at step k, as annealed Langevin dynamics lowers its noise over the run (Song & Ermon, NeurIPS
2019); here it reaches zero, so the early steps explore and the last one is the noiseless flow: a sample
ends on the critic's ascent rather than one noise kick away from it. ``anneal=False`` keeps γ constant;
the paper's fixed-η update keeps it constant unless ``anneal=True`` is given.

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
    generate,
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
    eta: float | None = None,
    eta_max: float = 0.1,
    max_move: float = 0.1,
    backtracks: int = 8,
    anneal: bool | None = None,
    steps: int = 25,
    batch_size: int = 500,
    seed: int = 0,
    space: str = "latent",
    reverse: bool = False,
    trajectory: bool = False,
    progress: bool = False,
) -> Refined:
    """Refine the samples ``G(z)`` with ``steps`` Euler–Maruyama steps of DGflow (defaults: the paper's).

    ``gamma`` is the entropy weight (noise), ``divergence`` one of kl, js, logd. ``eta``: the paper's fixed
    step size (0.1 in the paper); ``None`` (the default) controls the step per sample (module docstring:
    at most ``eta_max``, a latent move of at most ``max_move`` — times sqrt(latent dim) — and up to
    ``backtracks`` halvings). ``anneal``: the noise falls linearly to zero by the last step (default: with
    the step control only).
    The noise comes from a generator seeded with ``seed`` and is drawn for all samples at once, so the result
    does not depend on ``batch_size``. With ``trajectory=True`` the result holds the samples after every step.
    """
    check_latents(z, labels)
    velocity_factor(divergence, torch.zeros(1))  # validates the name
    non_negative("gamma", gamma)
    if eta is not None:
        positive("eta", eta)
    positive("eta_max", eta_max)
    positive("max_move", max_move)
    non_negative("backtracks", backtracks)
    positive_int("steps", steps)
    if eta is None and space != "latent":
        raise ConfigError("the adaptive step size runs in latent space; give a fixed eta for space='data'")
    if space not in SPACES:
        raise ConfigError(f"space must be one of {', '.join(SPACES)}; got {space!r}")
    device = module_device(generator)
    noise_gen = noise_generator(seed)
    sign = -1.0 if reverse else 1.0
    anneal = eta is None if anneal is None else anneal
    parts = batches(len(z), batch_size)
    rate = torch.full((len(z),), eta_max, dtype=torch.float64)  # each sample's step size (step control)
    evals = 0.0
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
        for k in tqdm(range(steps), disable=not progress, desc=f"dgflow-{divergence}", unit="step"):
            noise = torch.randn(state.shape, generator=noise_gen)
            weight = gamma * (1 - (k + 1) / steps) if anneal else gamma  # this step's entropy weight
            if eta is None:  # the allowance's draws (the fixed step draws only the noise, as the paper)
                slack = weight * torch.rand(len(state), generator=noise_gen, dtype=torch.float64).log()
            shown = []
            for part in parts:
                y = None if labels is None else labels[part].to(device)
                s = state[part].to(device)
                if space == "latent":
                    x, d, grad = latent_gradient(generator, critic, s, y)
                    shown.append(x.cpu())
                else:
                    d, grad = critic_gradient(critic, s, y)
                drift = sign * velocity_factor(divergence, d).view(-1, *([1] * (s.dim() - 1))) * grad
                if eta is None:
                    size = max_move * s[0].numel() ** 0.5
                    rate[part], moved, tries = adaptive_step(
                        generator,
                        critic,
                        s,
                        y,
                        d,
                        grad,
                        drift,
                        sign,
                        noise[part].to(device) * (2 * weight) ** 0.5,
                        slack[part].float().to(device),
                        rate[part].to(device),
                        eta_max,
                        size,
                        backtracks,
                    )
                    evals += tries
                else:
                    moved = eta * drift + (2 * weight * eta) ** 0.5 * noise[part].to(device)
                state[part] = (s + moved).cpu()
            if path is not None:
                path.append(torch.cat(shown) if space == "latent" else state.clone())
        x = generate_all(generator, state, labels, batch_size) if space == "latent" else state
        if path is not None and space == "latent":
            path.append(x)
    params = dict(
        divergence=divergence,
        gamma=gamma,
        eta=eta,
        anneal=anneal,
        steps=steps,
        seed=seed,
        space=space,
        reverse=reverse,
    )
    if eta is None:
        params.update(eta_max=eta_max, max_move=max_move, backtracks=backtracks)
    return Refined(
        x=x,
        z=state if space == "latent" else z.detach().cpu(),
        labels=labels,
        method="dgflow",
        params=params,
        grad_evals=float(steps),
        gen_evals=(float(steps + 1) + evals / len(z)) if space == "latent" else 1.0,
        seconds=timer.seconds,
        trajectory=path,
    )


@torch.no_grad()
def adaptive_step(
    generator: nn.Module,
    critic: Critic,
    z: torch.Tensor,
    labels: torch.Tensor | None,
    d: torch.Tensor,
    grad: torch.Tensor,
    drift: torch.Tensor,
    sign: float,
    kick: torch.Tensor,
    slack: torch.Tensor,
    last: torch.Tensor,
    eta_max: float,
    max_move: float,
    backtracks: int,
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """One per-sample backtracking step along ``drift`` from ``z`` (logits ``d``, their gradient ``grad``;
    the flow raises sign · d), with noise ``kick`` · sqrt(η) and allowance ``slack`` (γ log u) per sample.
    Returns the step sizes to start from next time (the accepted ones, or the last tried), the moves
    (0 where none passed) and how many samples' forwards the search cost (module docstring)."""
    flat = drift.flatten(1)
    rate = torch.minimum((2 * last).clamp(max=eta_max), max_move / flat.norm(dim=1).clamp_min(1e-12))
    promise = sign * (grad.flatten(1) * flat).sum(1)  # the first-order rise per unit η: s(d) ‖∇d‖² ≥ 0
    move = torch.zeros_like(z)
    todo = torch.arange(len(z), device=z.device)
    evals = 0.0
    shape = (-1, *([1] * (z.dim() - 1)))
    for _ in range(backtracks + 1):
        if len(todo) == 0:
            break
        y = None if labels is None else labels[todo]
        r = rate[todo].to(z.dtype).view(shape)
        move[todo] = r * drift[todo] + r.sqrt() * kick[todo]
        value = critic(generate(generator, z[todo] + move[todo], y), y)
        evals += len(todo)
        ok = (
            sign * (value.reshape(-1) - d[todo].reshape(-1)) >= 0.5 * rate[todo] * promise[todo] + slack[todo]
        )
        todo = todo[~ok]
        rate[todo] = rate[todo] / 2
    move[todo] = 0
    return rate, move, evals

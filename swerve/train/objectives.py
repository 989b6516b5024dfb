"""Training objectives: GAN losses (non-saturating, hinge, WGAN-GP), the VAE's ELBO, cross-entropy.

Each is a pure function of logits or tensors, so fine-tuning and divergence methods can reuse them.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F


def discriminator_loss(objective: str, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Loss of D (or the critic) given its logits on real and generated samples.

    - ``ns``: logistic loss (Goodfellow et al. 2014); D's logit then estimates log p_data/p_model.
    - ``hinge``: max(0, 1 - d(real)) + max(0, 1 + d(fake)) (Lim & Ye 2017; Miyato et al. 2018).
    - ``wgan-gp``: the Wasserstein critic loss d(fake) - d(real) (Gulrajani et al. 2017); add the penalty.
    """
    if objective == "ns":
        return F.softplus(-real).mean() + F.softplus(fake).mean()
    if objective == "hinge":
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()
    if objective == "wgan-gp":
        return fake.mean() - real.mean()
    raise ValueError(f"unknown objective {objective!r}")


def generator_loss(objective: str, fake: torch.Tensor) -> torch.Tensor:
    """Loss of G given D's logits on its samples (non-saturating form for ``ns``)."""
    if objective == "ns":
        return F.softplus(-fake).mean()
    if objective in ("hinge", "wgan-gp"):
        return -fake.mean()
    raise ValueError(f"unknown objective {objective!r}")


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    gen: torch.Generator,
    eps: torch.Tensor | None = None,
) -> torch.Tensor:
    """(||grad critic(x_hat)|| - 1)^2 on random interpolates of real and fake (Gulrajani et al. 2017).

    ``eps`` (one weight per sample, shape (N, 1, ...)) is drawn from ``gen`` unless given."""
    shape = (len(real),) + (1,) * (real.dim() - 1)
    if eps is None:
        eps = torch.rand(shape, generator=gen, device=gen.device)
    eps = eps.to(real.device)
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def vae_loss(
    x: torch.Tensor, recon: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, sigma: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Negative ELBO per sample with a Gaussian likelihood of std ``sigma``: (loss, reconstruction, KL)."""
    rec = ((recon - x) ** 2).flatten(1).sum(1).mean() / (2 * sigma**2)
    kl = 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum(1).mean()
    return rec + kl, rec, kl


def char_vae_loss(
    x: torch.Tensor, probs: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Negative ELBO per string of a character VAE: (loss, reconstruction, KL). ``x`` holds N x L character
    indices, ``probs`` the decoder's N x V x L softmax; the likelihood is categorical at each position, so
    the reconstruction term is the summed cross-entropy in nats."""
    rec = F.nll_loss(probs.clamp_min(1e-12).log(), x, reduction="sum") / len(x)
    kl = 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum(1).mean()
    return rec + kl, rec, kl


def r1_penalty(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """R1 (Mescheder et al. 2018): the mean over images of ||grad_x D(x)||^2 on real images ``x`` (which
    must require grad and have produced ``logits``); kept in the graph so that it can be minimised."""
    (grad,) = torch.autograd.grad(logits.sum(), x, create_graph=True)
    return grad.pow(2).flatten(1).sum(1).mean()

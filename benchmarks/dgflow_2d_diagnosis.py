"""Why DGflow behaves as it does on the zoo's 25-Gaussians WGAN-GP model: the critics against the exact ratio.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/dgflow_2d_diagnosis.py [--n 5000] [--corrector-steps 1000]

On the 25 Gaussians the data density is known, and the generator maps a 2-d latent to the plane, so the
model density at a sample is known too (change of variables, assuming G is locally injective):
``log p_model(G(z)) = log N(z) − log |det J_G(z)|``. That gives the exact log ratio ``log p_data/p_model``
at every sample, and an exact latent critic for DGflow: ``log p_data(G(z)) − log N(z) + log |det J_G(z)|``,
whose last term has zero gradient almost everywhere for a ReLU generator (J_G is piecewise constant).

The script prints (1) the generator's steepness (singular values of J_G) on and off the modes; (2) for the
raw WGAN critic and for the corrector of benchmarks/refine_2d.py (``--corrector-steps``, default 1,000), the
spread and gradient size of the logit and its rank correlation with the exact log ratio at the samples;
(3) how stiff the exact flow is: a noiseless Euler step on a Gaussian mode of std σ seen through a Jacobian
with top singular value s is stable only when η·s²/σ² < 2; and (4) DGflow-KL (γ = 0.01, 25 steps) with each
critic at several step sizes, from the same latents.
"""

from __future__ import annotations

import argparse
import math

import torch
from torch import nn

import swerve
from swerve.data.toys import GAUSSIANS25_MODES, GAUSSIANS25_STD, gaussians25
from swerve.measure import gaussians25_scores
from swerve.refine import dgflow, discriminator_critic, fit_ratio, initial_latents, ratio_critic

ETAS = (0.1, 0.05, 0.01, 0.001)


def log_data_density(x: torch.Tensor) -> torch.Tensor:
    """log p_data(x) of the 25-Gaussians mixture (equal weights, isotropic std GAUSSIANS25_STD)."""
    var = GAUSSIANS25_STD**2
    sq = torch.cdist(x, GAUSSIANS25_MODES.to(x.dtype)) ** 2
    return torch.logsumexp(-sq / (2 * var), dim=1) - math.log(25) - math.log(2 * math.pi * var)


def jacobians(generator: nn.Module, z: torch.Tensor) -> torch.Tensor:
    """J_G(z) for every latent, (N, 2, 2)."""
    return torch.func.vmap(torch.func.jacrev(lambda v: generator(v[None])[0]))(z).detach()


class WithLatent(nn.Module):
    """(G(z), z) side by side, so a critic can read the latent as well as the sample."""

    def __init__(self, generator: nn.Module) -> None:
        super().__init__()
        self.generator = generator

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return torch.cat([self.generator(z), z], dim=1)


def exact_latent_critic(xz: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
    """Exact log ratio at G(z) up to log|det J| (constant between ReLU kinks): log p_data(x) − log N(z)."""
    return log_data_density(xz[:, :2]) + 0.5 * (xz[:, 2:] ** 2).sum(1)


def quantiles(t: torch.Tensor) -> str:
    q = torch.quantile(t.float(), torch.tensor([0.1, 0.5, 0.9]))
    return " / ".join(f"{v:.3g}" for v in q)


def rank_correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    ra, rb = a.argsort().argsort().float(), b.argsort().argsort().float()
    return torch.corrcoef(torch.stack([ra, rb]))[0, 1].item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--corrector-steps", type=int, default=1000, help="as in refine_2d.py: 1000")
    args = parser.parse_args()
    torch.set_num_threads(1)
    bundle = swerve.load("gaussians25-wgangp", device="cpu")
    real = gaussians25(20000, seed=1).x  # the corrector's real data, as in refine_2d.py
    info = fit_ratio(bundle, real, corrector=True, steps=args.corrector_steps, seed=args.seed)
    generator = bundle.generator.eval()
    z, _ = initial_latents(bundle, args.n, args.seed)
    with torch.no_grad():
        x = generator(z)
    singular = torch.linalg.svdvals(jacobians(generator, z))
    log_model = -0.5 * (z**2).sum(1) - math.log(2 * math.pi) - torch.log(singular.prod(1))
    exact = (log_data_density(x.double()) - log_model.double()).float()
    on_mode = torch.cdist(x, GAUSSIANS25_MODES).min(1).values <= 4 * GAUSSIANS25_STD
    print(f"n = {args.n}, seed {args.seed}; {100 * on_mode.float().mean():.1f}% of samples on a mode")
    print("\n(1) generator steepness: top singular value of J_G, quantiles 10% / 50% / 90%")
    print(f"  on a mode   {quantiles(singular[on_mode, 0])}")
    print(f"  off a mode  {quantiles(singular[~on_mode, 0])}")
    print(f"  exact log ratio at the samples: {quantiles(exact)} (on modes mean {exact[on_mode].mean():.2f})")

    critics = {
        "raw WGAN critic": discriminator_critic(bundle.discriminator.eval()),
        f"corrector ({info['steps']} st, acc {info['final_accuracy']:.2f})": ratio_critic(bundle),
    }
    head = f"{'logit std':>9}   {'|grad_x d| 10/50/90%':>22}   {'|grad_z d| 10/50/90%':>22}   rank corr."
    print(f"\n(2) {'critic':<28} {head}")
    for name, critic in critics.items():
        xs, zs = x.clone().requires_grad_(True), z.clone().requires_grad_(True)
        d = critic(xs, None)
        (grad_x,) = torch.autograd.grad(d.sum(), xs)
        (grad_z,) = torch.autograd.grad(critic(generator(zs), None).sum(), zs)
        d = d.detach()
        print(
            f"  {name:<30} {d.std():>9.3f}   {quantiles(grad_x.norm(dim=1)):>22}   "
            f"{quantiles(grad_z.norm(dim=1)):>22}   {rank_correlation(d, exact):>6.2f}"
        )

    zs = z.clone().requires_grad_(True)
    (grad_z,) = torch.autograd.grad(exact_latent_critic(WithLatent(generator)(zs)).sum(), zs)
    print(f"  {'exact log ratio':<30} {exact.std():>9.3f}   {'':>22}   {quantiles(grad_z.norm(dim=1)):>22}")

    print("\n(3) stiffness of the exact flow on the modes: share of on-mode samples with η·s²/σ² ≥ 2")
    stiffness = singular[on_mode, 0] ** 2 / GAUSSIANS25_STD**2
    print("  " + "   ".join(f"η={eta}: {100 * (eta * stiffness >= 2).float().mean():.0f}%" for eta in ETAS))

    print("\n(4) DGflow-KL, γ 0.01, 25 steps, same latents: % high quality / modes covered")
    base = gaussians25_scores(x)
    print(f"  base: {base['% high quality']:.1f} / {base['modes covered']}")
    print(f"  {'critic':<30}" + "".join(f"{'η=' + str(eta):>14}" for eta in ETAS))
    with_latent = WithLatent(generator)
    rows = {"exact log ratio": exact_latent_critic}
    for name, critic in critics.items():
        rows[name] = lambda xz, labels=None, critic=critic: critic(xz[:, :2], labels)
    for name, critic in rows.items():
        cells = []
        for eta in ETAS:
            out = dgflow(with_latent, critic, z, eta=eta, seed=args.seed)
            s = gaussians25_scores(out.x[:, :2])
            cells.append(f"{s['% high quality']:.1f} / {s['modes covered']:>2}")
        print(f"  {name:<30}" + "".join(f"{c:>14}" for c in cells))


if __name__ == "__main__":
    main()

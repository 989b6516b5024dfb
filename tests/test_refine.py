"""Refinement: DGflow against exact density ratios, its f-divergence factors, the baselines' acceptance rules,
seeds, the density-ratio estimator and the refine CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torch import nn

import swerve
from swerve.bundle import Bundle, DataSpec, LatentSpec
from swerve.errors import ConfigError
from swerve.measure import gaussians25_scores, kde_log_likelihood
from swerve.refine import (
    REFINERS,
    bundle_critic,
    class_critic,
    critic_logits,
    ddls,
    dgflow,
    discriminator_critic,
    drs,
    drs_acceptance,
    fit_ratio,
    initial_latents,
    mh,
    mh_accept,
    ratio_critic,
    run_method,
    velocity_factor,
)
from swerve.refine.dot import effective_lipschitz

SHIFT = torch.tensor([1.0, -0.5])  # the model is N(SHIFT, I) pushed through A; the data are N(0, I)
SCALE = torch.tensor([2.0, 0.5])


class Affine(nn.Module):
    """G(z) = A z + b with A diagonal: a generator whose Jacobian is known."""

    def __init__(self, scale: list[float], shift: list[float]) -> None:
        super().__init__()
        self.init_kwargs = {"scale": scale, "shift": shift}
        self.scale = nn.Parameter(torch.tensor(scale))
        self.shift = nn.Parameter(torch.tensor(shift))

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return z * self.scale + self.shift


def exact_log_ratio(mean: torch.Tensor):
    """log N(x; 0, I) − log N(x; mean, I) = −x·mean + ‖mean‖²/2: the exact critic for data N(0, I)."""

    def critic(x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return -(x * mean).sum(1) + 0.5 * (mean * mean).sum()

    return critic


def latents(n: int, dim: int = 2, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed))


# --- DGflow ------------------------------------------------
def test_kl_flow_moves_the_mean_at_the_predicted_rate() -> None:
    # ∇_z d(G(z)) = A ∇_x d = −A·m, so k steps move the latent mean by −kηA·m and the sample mean by −kηA²m.
    g = Affine([2.0, 0.5], [1.0, -0.5])
    z = latents(4000)
    x0 = g(z).detach()
    eta, steps = 0.05, 4
    out = dgflow(g, exact_log_ratio(SHIFT), z, eta=eta, steps=steps, gamma=0.01, seed=1)
    predicted = x0.mean(0) - steps * eta * SCALE**2 * SHIFT
    assert torch.allclose(out.x.mean(0), predicted, atol=0.01)
    assert not torch.allclose(out.x.mean(0), x0.mean(0), atol=0.1)  # it did move
    # With a pure translation the mean reaches the data mean after 1/η steps, exactly as the update says.
    shift_only = Affine([1.0, 1.0], [1.0, -0.5])
    out = dgflow(shift_only, exact_log_ratio(SHIFT), z, eta=0.1, steps=10, gamma=0.0)
    assert torch.allclose(out.x.mean(0), z.mean(0), atol=1e-5)


def test_entropy_term_adds_the_predicted_variance() -> None:
    z = latents(8000)
    g = Affine([1.0, 1.0], [0.0, 0.0])
    gamma, eta, steps = 1.0, 0.1, 5
    out = dgflow(g, exact_log_ratio(torch.zeros(2)), z, gamma=gamma, eta=eta, steps=steps)
    # Zero drift: the latents gain variance 2γη per step.
    assert torch.allclose(out.z.var(0), z.var(0) + 2 * gamma * eta * steps, atol=0.1)


def test_step_control_anneals_the_noise_to_zero_by_the_last_step() -> None:
    z = latents(8000)
    g = Affine([1.0, 1.0], [0.0, 0.0])
    gamma, steps = 1.0, 5
    out = dgflow(g, exact_log_ratio(torch.zeros(2)), z, gamma=gamma, steps=steps, trajectory=True)
    # Zero drift: every move passes at η = eta_max = 0.1, with variance 2 γ_k η, γ_k = γ (1 − (k+1)/steps).
    added = sum(2 * gamma * (1 - (k + 1) / steps) * 0.1 for k in range(steps))
    assert torch.allclose(out.z.var(0), z.var(0) + added, atol=0.05)
    assert torch.equal(out.trajectory[-1], out.trajectory[-2])  # the last step adds no noise
    assert out.params["anneal"] is True
    constant = dgflow(g, exact_log_ratio(torch.zeros(2)), z, gamma=gamma, steps=steps, anneal=False)
    assert torch.allclose(constant.z.var(0), z.var(0) + 2 * gamma * 0.1 * steps, atol=0.1)


def steep_quadratic(x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
    """d(x) = −20 ‖x − SHIFT‖²: the energy −d is a quadratic so steep that η = 0.1 overshoots its minimum."""
    return -20.0 * ((x - SHIFT) ** 2).sum(1)


def test_adaptive_step_never_raises_the_energy_where_a_fixed_step_does() -> None:
    g = Affine([1.0, 1.0], [0.0, 0.0])
    z = latents(200)

    def energies(**settings) -> torch.Tensor:
        out = dgflow(g, steep_quadratic, z, gamma=0.0, steps=15, trajectory=True, **settings)
        return torch.stack([-steep_quadratic(x) for x in out.trajectory])  # (steps + 1, N)

    adaptive = energies()  # the default: eta=None
    assert (adaptive[1:] - adaptive[:-1]).max() <= 1e-5
    assert adaptive[-1].median() < 1e-3 * adaptive[0].median()  # it reaches the minimum (the far ones
    assert (adaptive[-1] < 0.5 * adaptive[0]).all()  # approach it at max_move per step)
    fixed = energies(eta=0.1)  # |1 − 2 · 20 · 0.1| = 3: every step triples the distance
    assert (fixed[1:] - fixed[:-1]).max() > 1.0


def test_adaptive_step_on_the_zoo_25_gaussians_keeps_every_mode() -> None:
    """At its defaults the step control covers all 25 modes, with at least the quality of the paper's η
    and of DOT on the same latents."""
    bundle = swerve.load("gaussians25-wgangp", device="cpu")
    critic = discriminator_critic(bundle.discriminator.eval())
    z, _ = initial_latents(bundle, 500, seed=0)
    adaptive = gaussians25_scores(run_method("dgflow", bundle, critic, z, seed=0).x)
    fixed = gaussians25_scores(run_method("dgflow", bundle, critic, z, seed=0, eta=0.1).x)
    transported = gaussians25_scores(run_method("dot", bundle, critic, z, seed=0).x)
    assert adaptive["modes covered"] == 25
    assert adaptive["% high quality"] >= fixed["% high quality"]
    assert adaptive["% high quality"] >= transported["% high quality"]
    base = gaussians25_scores(bundle.sample(500, seed=0, z=z).x)
    assert adaptive["% high quality"] > base["% high quality"]


def test_data_space_flow_follows_the_critic_gradient_in_x() -> None:
    g = Affine([2.0, 0.5], [1.0, -0.5])
    z = latents(1000)
    out = dgflow(g, exact_log_ratio(SHIFT), z, eta=0.1, steps=3, gamma=0.0, space="data")
    assert torch.allclose(out.x, g(z).detach() - 0.3 * SHIFT, atol=1e-5)


def test_js_and_logd_factors_are_sigmoid_d_and_its_complement() -> None:
    d = torch.linspace(-30, 30, 61)
    assert torch.equal(velocity_factor("kl", d), torch.ones_like(d))
    assert torch.allclose(velocity_factor("js", d), 1 / (1 + torch.exp(-d)))
    assert torch.allclose(velocity_factor("logd", d), 1 - 1 / (1 + torch.exp(-d)), atol=1e-7)
    # ... and the flow applies them per sample: one noiseless step moves z by η·s(d)·(−A·m).
    g = Affine([2.0, 0.5], [1.0, -0.5])
    critic = exact_log_ratio(SHIFT)
    z = latents(50) * 3
    d = critic(g(z)).detach()
    for divergence, factor in (("js", torch.sigmoid(d)), ("logd", 1 - torch.sigmoid(d))):
        out = dgflow(g, critic, z, divergence=divergence, eta=0.1, steps=1, gamma=0.0)
        expected = z + 0.1 * factor[:, None] * (-SCALE * SHIFT)
        assert torch.allclose(out.z, expected, atol=1e-5)


def test_one_step_is_the_update_equation_for_each_sample_of_a_nonlinear_model() -> None:
    # The affine tests above give every sample the same gradient, so a gradient averaged over the batch (or
    # shared across it) would pass them. Here G and d are nonlinear, every sample has its own ∇_z d(G(z)),
    # and one step must be z + η·s(d)·∇_z d(G(z)) + sqrt(2γη)·ξ, computed sample by sample.
    torch.manual_seed(0)
    g = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2))
    w = torch.tensor([1.5, -0.7])

    def critic(x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return torch.sin(3 * x[:, 0]) - (x - w).pow(2).sum(1)

    z = latents(40)
    gamma, eta = 0.01, 0.1
    for divergence in ("kl", "js", "logd"):
        expected = []
        for zi in z:
            zi = zi[None].clone().requires_grad_(True)
            d = critic(g(zi))
            (grad,) = torch.autograd.grad(d.sum(), zi)
            expected.append(zi.detach() + eta * velocity_factor(divergence, d.detach())[:, None] * grad)
        expected = torch.cat(expected)
        noiseless = dgflow(g, critic, z, divergence=divergence, eta=eta, gamma=0.0, steps=1, batch_size=16)
        assert torch.allclose(noiseless.z, expected, atol=1e-5), divergence
    noisy = dgflow(g, critic, z, eta=eta, gamma=gamma, steps=1, seed=3)
    xi = (noisy.z - dgflow(g, critic, z, eta=eta, gamma=0.0, steps=1).z) / (2 * gamma * eta) ** 0.5
    assert 0.7 < xi.std().item() < 1.3 and abs(xi.mean().item()) < 0.3  # ξ ~ N(0, I), scaled by sqrt(2γη)


def test_dgflow_raises_the_zoo_critics_mean_logit_and_reverse_lowers_it() -> None:
    bundle = swerve.load("gaussians25-wgangp", device="cpu")
    critic = discriminator_critic(bundle.discriminator)
    z, _ = initial_latents(bundle, 500, seed=0)
    before = critic_logits(critic, bundle.sample(500, z=z).x)
    toward = run_method("dgflow", bundle, critic, z)  # the paper's settings: KL, γ 0.01, η 0.1, 25 steps
    assert critic_logits(critic, toward.x).mean() > before.mean() + 0.03
    # The reverse drift lowers most samples' logits. (Not always the mean: the toy's ReLU generator is so
    # steep between modes that a few latents step across a jump in d(G(z)) whichever way they go.)
    away = run_method("dgflow", bundle, critic, z, reverse=True, gamma=0.0)
    change = critic_logits(critic, away.x) - before
    assert (change < 0).float().mean() > 0.8 and change.median() < 0


def test_dgflow_on_a_conditional_image_gan_keeps_labels_and_raises_the_logit() -> None:
    bundle = swerve.load("fashion-gan", device="cpu")
    critic = discriminator_critic(bundle.discriminator)
    z, labels = initial_latents(bundle, 20, seed=0)
    before = critic_logits(critic, bundle.sample(20, z=z, labels=labels).x, labels).mean()
    out = run_method("dgflow", bundle, critic, z, labels=labels, steps=3)
    assert torch.equal(out.labels, labels)
    assert critic_logits(critic, out.x, labels).mean() > before


def test_refinement_is_deterministic_for_a_seed() -> None:
    bundle = swerve.load("swissroll-wgangp", device="cpu")
    critic = discriminator_critic(bundle.discriminator)
    z, _ = initial_latents(bundle, 200, seed=3)
    settings = {
        "dgflow": {"steps": 3},
        "ddls": {"steps": 3},
        "dot": {"steps": 2},
        "drs": {"burn_in": 200},
        "mh": {"k": 5},
    }
    for name in REFINERS:
        a = run_method(name, bundle, critic, z, seed=7, **settings[name])
        b = run_method(name, bundle, critic, z, seed=7, **settings[name])
        assert torch.equal(a.x, b.x), name
        if name != "dot":  # DOT is deterministic: it has no randomness for a seed to change
            c = run_method(name, bundle, critic, z, seed=8, **settings[name])
            assert not torch.equal(a.x, c.x), name
    # Batching does not change the result (the noise is drawn for all samples at once). Only up to float
    # rounding: a matrix product's blocking, and so its last bit, depends on the batch size.
    torch.testing.assert_close(
        dgflow(bundle.generator, critic, z, steps=3, batch_size=64).x,
        dgflow(bundle.generator, critic, z, steps=3, batch_size=500).x,
        rtol=0,
        atol=1e-5,
    )


def test_trajectory_holds_every_step() -> None:
    g = Affine([1.0, 1.0], [1.0, -0.5])
    z = latents(10)
    out = dgflow(g, exact_log_ratio(SHIFT), z, steps=4, gamma=0.0, eta=0.25, trajectory=True)
    assert len(out.trajectory) == 5
    assert torch.allclose(out.trajectory[0], g(z).detach())
    assert torch.allclose(out.trajectory[-1], out.x)
    assert torch.allclose(out.trajectory[2], g(z).detach() - 0.5 * SHIFT, atol=1e-6)


def test_bad_settings_are_one_line_errors() -> None:
    g = Affine([1.0, 1.0], [0.0, 0.0])
    critic = exact_log_ratio(SHIFT)
    with pytest.raises(ConfigError, match="divergence"):
        dgflow(g, critic, latents(4), divergence="hellinger")
    with pytest.raises(ConfigError, match="eta"):
        dgflow(g, critic, latents(4), eta=-1)
    with pytest.raises(ConfigError, match="eta_max"):
        dgflow(g, critic, latents(4), eta_max=0)
    with pytest.raises(ConfigError, match="latent space"):
        dgflow(g, critic, latents(4), space="data")
    with pytest.raises(ConfigError, match="latents"):
        dgflow(g, critic, torch.zeros(4))
    bundle = swerve.load("gaussians25-wgangp", device="cpu")
    with pytest.raises(ConfigError, match="no setting"):
        run_method("dgflow", bundle, critic, latents(4), nonsense=1)
    with pytest.raises(ConfigError, match="unknown refinement method"):
        run_method("sgld", bundle, critic, latents(4))


# --- DRS and MH ------------------------------------------------
def test_drs_acceptance_matches_hand_computed_values() -> None:
    d = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64)
    # γ = 0: sigmoid(F) = exp(d − d_max) exactly (up to ε): plain rejection sampling by the density ratio.
    assert torch.allclose(
        drs_acceptance(d, 2.0, 0.0, eps=0.0)[:2],
        torch.tensor([math.exp(-2), math.exp(-1)], dtype=torch.float64),
    )
    # γ = log 2 halves the odds: e^δ / (2 − e^δ); at δ = −1 that is 0.22539...
    p = drs_acceptance(d, 2.0, math.log(2), eps=0.0)
    assert abs(float(p[1]) - math.exp(-1) / (2 - math.exp(-1))) < 1e-12
    assert abs(float(p[1]) - 0.225399) < 1e-6


def test_drs_with_gamma_zero_is_rejection_sampling() -> None:
    # d(x) = −x², d_max ≈ 0: a proposal x ~ N(0, 1) is kept with probability exp(−x²), so one round keeps
    # E[exp(−x²)] = 1/√3 of the slots, and what it keeps is N(0, 1) · exp(−x²) ∝ N(0, 1/3).
    g = Affine([1.0], [0.0])

    def critic(x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return -(x**2).sum(1)

    out = drs(g, critic, latents(6000, 1), gamma=0.0, burn_in=2000, max_rounds=1, seed=1)
    assert abs(out.extra["acceptance"] - 1 / math.sqrt(3)) < 0.03
    assert abs(float(out.x[out.accepted].var()) - 1 / 3) < 0.03


class CountingAffine(Affine):
    """An affine generator that counts the latents it is asked to map."""

    def __init__(self, scale: list[float], shift: list[float]) -> None:
        super().__init__(scale, shift)
        self.rows = 0

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        self.rows += len(z)
        return super().forward(z, y)


@pytest.mark.parametrize(("n", "burn_in"), [(16, 1000), (3000, 3000), (20000, 10000)])
def test_drs_burn_in_scales_with_the_number_of_samples(n: int, burn_in: int) -> None:
    # One round proposes exactly n samples; everything else the generator made is burn-in.
    g = CountingAffine([1.0], [0.0])
    out = drs(g, exact_log_ratio(torch.tensor([1.0])), latents(n, 1), max_rounds=1, seed=0)
    assert g.rows - n == burn_in == out.params["burn_in"]
    assert out.gen_evals == (n + burn_in) / n
    g.rows = 0
    drs(g, exact_log_ratio(torch.tensor([1.0])), latents(n, 1), max_rounds=1, burn_in=123, seed=0)
    assert g.rows - n == 123  # an explicit burn-in is kept


def test_drs_with_the_default_burn_in_still_accepts_by_the_density_ratio() -> None:
    # As above, with the scaled default burn-in (4,000 proposals for 4,000 samples): one round at γ = 0 keeps
    # E[exp(−x²)] = 1/√3 of the slots when d_max is the true maximum 0.
    g = Affine([1.0], [0.0])

    def critic(x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return -(x**2).sum(1)

    out = drs(g, critic, latents(4000, 1, seed=2), gamma=0.0, max_rounds=1, seed=3)
    assert out.params["burn_in"] == 4000
    assert abs(out.extra["d_max"]) < 1e-3
    assert abs(out.extra["acceptance"] - 1 / math.sqrt(3)) < 0.03
    assert abs(float(out.x[out.accepted].var()) - 1 / 3) < 0.03


def test_ddls_samples_the_energy_model_of_the_exact_ratio() -> None:
    # E(z) = ‖z‖²/2 − d(z + m) = ‖z + m‖²/2 + const: the chain's x = z + m ends up distributed as the data.
    g = Affine([1.0, 1.0], SHIFT.tolist())
    out = ddls(g, exact_log_ratio(SHIFT), latents(3000), eps=0.1, steps=200, seed=0)
    assert out.x.mean(0).abs().max() < 0.06
    assert (out.x.var(0) - 1).abs().max() < 0.1


def test_dot_estimates_the_lipschitz_constant_and_raises_the_zoo_critic() -> None:
    g = Affine([2.0, 0.5], [1.0, -0.5])
    # d(G(z)) = −(A m)·z + const is linear: its Lipschitz constant is ‖A m‖, approached by the pairs' maximum.
    k = effective_lipschitz(g, exact_log_ratio(SHIFT), LatentSpec(2), pairs=200)
    exact = float((SCALE * SHIFT).norm())
    assert 0.97 * exact < k <= exact * (1 + 1e-5)
    bundle = swerve.load("gaussians25-wgangp", device="cpu")
    critic = discriminator_critic(bundle.discriminator)
    z, _ = initial_latents(bundle, 500, seed=0)
    before = gaussians25_scores(bundle.sample(500, z=z).x)["% high quality"]
    assert gaussians25_scores(run_method("dot", bundle, critic, z).x)["% high quality"] > before + 3


def test_data_space_dot_averages_lipschitz_maxima_over_estimates() -> None:
    # The paper's 2-D protocol: K_eff is the mean of `estimates` maxima of |Δd| / ‖Δx‖, each over `pairs`
    # pairs of samples. Recomputed by hand from the method's random stream for a nonlinear G and d.
    from swerve.refine.core import noise_generator

    torch.manual_seed(0)
    g = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))

    def critic(x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return torch.sin(3 * x[:, 0]) - (x - torch.tensor([0.5, -0.2])).pow(2).sum(1)

    prior = LatentSpec(2)
    gen = noise_generator(4)
    maxima, every = [], []
    with torch.no_grad():
        for _ in range(5):
            x1, x2 = g(prior.sample(20, gen)), g(prior.sample(20, gen))
            ratios = (critic(x1) - critic(x2)).abs() / (x1 - x2).norm(dim=1)
            maxima.append(float(ratios.max()))
            every.append(ratios)
    k = effective_lipschitz(g, critic, prior, pairs=20, seed=4, space="data", estimates=5)
    assert abs(k - sum(maxima) / 5) < 1e-5
    assert k < float(torch.cat(every).max()) - 1e-3  # an average of maxima, not the largest ratio


def test_data_space_dot_moves_the_zoo_toys_samples_onto_the_modes() -> None:
    bundle = swerve.load("gaussians25-wgangp", device="cpu")
    critic = discriminator_critic(bundle.discriminator)
    z, _ = initial_latents(bundle, 500, seed=0)
    base = bundle.sample(500, z=z).x
    out = run_method("dot", bundle, critic, z, space="data")
    # The paper's settings: 100 updates, K_eff from 10 estimates of 100 pairs, samples clipped to [-2, 2].
    assert (out.params["steps"], out.params["estimates"], out.params["clip"]) == (100, 10, 2.0)
    assert torch.equal(out.z, z) and out.x.abs().max() <= 2.0
    modes = torch.stack(torch.meshgrid(torch.arange(-2, 3.0), torch.arange(-2, 3.0), indexing="ij"), -1)
    modes = modes.reshape(-1, 2) * 2 / 2.828

    def to_mode(x: torch.Tensor) -> torch.Tensor:
        return torch.cdist(x, modes).min(1).values

    assert to_mode(out.x).median() < 0.7 * to_mode(base).median()
    assert gaussians25_scores(out.x)["% high quality"] > gaussians25_scores(base)["% high quality"] + 3
    with pytest.raises(ConfigError, match="clip is a data-space setting"):
        run_method("dot", bundle, critic, z, clip=1.0)


def test_mh_acceptance_matches_hand_computed_values() -> None:
    current = torch.tensor([0.0, 1.0, 0.0])
    proposal = torch.tensor([1.0, 0.0, -1.0])
    u = torch.tensor([0.99, 0.5, 0.3], dtype=torch.float64)
    # α = min(1, exp(d' − d)) = [1, e^-1 = 0.368, 0.368]
    assert mh_accept(current, proposal, u).tolist() == [True, False, True]


def test_mh_with_the_exact_ratio_samples_the_data() -> None:
    # An independence sampler with proposals N(1, 1) and the exact ratio targets N(0, 1).
    g = Affine([1.0], [1.0])
    out = mh(g, exact_log_ratio(torch.tensor([1.0])), latents(3000, 1), k=40, seed=0)
    assert abs(float(out.x.mean())) < 0.08
    assert abs(float(out.x.std()) - 1) < 0.08


# --- density ratios ------------------------------------------------
def affine_bundle() -> Bundle:
    torch.manual_seed(0)
    nets = {"generator": Affine([1.0, 1.0], SHIFT.tolist()), "discriminator": Linear2()}
    return Bundle(nets, DataSpec(shape=[2], dataset="gauss"), LatentSpec(2), name="affine")


class Linear2(nn.Module):
    """A (deliberately wrong) linear critic for the corrector to correct."""

    def __init__(self) -> None:
        super().__init__()
        self.init_kwargs = {}
        self.fc = nn.Linear(2, 1)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.fc(x).squeeze(1)


@pytest.mark.parametrize("corrector", [False, True])
def test_ratio_estimator_learns_the_log_ratio_and_round_trips(tmp_path, corrector: bool) -> None:
    bundle = affine_bundle()
    real = latents(4000, seed=5)
    summary = fit_ratio(bundle, real, corrector=corrector, steps=200, batch_size=256, seed=0)
    assert summary["base"] == ("discriminator" if corrector else None)
    probe = latents(500, seed=9) * 1.5 + SHIFT / 2
    learnt = critic_logits(ratio_critic(bundle), probe)
    exact = exact_log_ratio(SHIFT)(probe)
    assert np.corrcoef(learnt.numpy(), exact.numpy())[0, 1] > 0.9
    path = bundle.save(tmp_path / "with-ratio")
    again = swerve.load(path, device="cpu", trust=["tests.test_refine"])  # Affine and Linear2 are ours
    assert again.history[-1]["op"] == "ratio"
    assert torch.allclose(critic_logits(ratio_critic(again), probe), learnt)


def test_kl_flow_ignores_a_constant_added_to_the_critic_and_js_does_not() -> None:
    # Why KL-DGflow and DOT may read a WGAN critic (defined up to a constant) and JS / log D may not.
    g = Affine([2.0, 0.5], [1.0, -0.5])
    critic = exact_log_ratio(SHIFT)

    def shifted(x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return critic(x) + 3.0

    z = latents(200)
    kl = [dgflow(g, c, z, steps=3, seed=1).x for c in (critic, shifted)]
    assert torch.equal(kl[0], kl[1])
    for divergence in ("js", "logd"):
        moved = [dgflow(g, c, z, divergence=divergence, steps=3, seed=1).x for c in (critic, shifted)]
        assert not torch.allclose(moved[0], moved[1], atol=1e-3), divergence
    dot_moved = [run_dot(g, c, z) for c in (critic, shifted)]
    assert torch.allclose(dot_moved[0], dot_moved[1], atol=1e-5)


def run_dot(g: nn.Module, critic, z: torch.Tensor) -> torch.Tensor:
    from swerve.refine import dot

    return dot(g, critic, z, steps=3).x


@pytest.mark.parametrize(
    ("method", "settings", "refused"),
    [("ddls", {}, True), ("drs", {}, True), ("mh", {}, True), ("dgflow", {"divergence": "js"}, True),
     ("dgflow", {"divergence": "logd"}, True), ("dgflow", {}, False), ("dgflow", {"divergence": "kl"}, False),
     ("dot", {}, False)],
)  # fmt: skip
def test_methods_that_need_a_density_ratio_refuse_a_wgan_critic(method, settings, refused) -> None:
    bundle = swerve.load("gaussians25-wgangp", device="cpu")  # trained with the WGAN-GP loss
    if refused:
        with pytest.raises(ConfigError, match="swerve ratio gaussians25-wgangp --corrector"):
            bundle_critic(bundle, "auto", method, settings)
        with pytest.raises(ConfigError, match="not one"):
            bundle_critic(bundle, "discriminator", method, settings)
    else:
        assert bundle_critic(bundle, "auto", method, settings)[1] == "discriminator"
    # A logistic-loss discriminator is a density ratio: every method may read it.
    gan = swerve.load("fashion-gan", device="cpu")
    assert bundle_critic(gan, "auto", method, settings)[1] == "discriminator"


def test_class_critic_is_the_log_odds_of_the_class() -> None:
    classifier = nn.Linear(2, 3)
    x = latents(7)
    logits = classifier(x)
    p = logits.softmax(1)[:, 1]
    assert torch.allclose(class_critic(classifier, 1)(x), torch.log(p / (1 - p)), atol=1e-5)


# --- measure ------------------------------------------------
def test_kde_log_likelihood_by_hand() -> None:
    samples = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    point = torch.tensor([[0.0, 0.1]])
    h = 0.5
    by_hand = math.log(0.5 * sum(math.exp(-d2 / (2 * h * h)) / (2 * math.pi * h * h) for d2 in (0.01, 1.01)))
    assert abs(kde_log_likelihood(samples, point, bandwidth=h) - by_hand) < 1e-6  # float32 inputs
    with pytest.raises(ConfigError):
        kde_log_likelihood(samples, torch.zeros(3, 3))


# --- CLI ------------------------------------------------
def test_refine_cli_writes_samples_sidecar_and_metrics(cli, tmp_path) -> None:
    out = tmp_path / "refined.png"
    code, stdout, err = cli(
        "refine",
        "gaussians25-wgangp",
        "--method",
        "dgflow",
        "--n",
        "300",
        "--out",
        out,
        "--set",
        "steps=5",
        "--json",
    )
    assert code == 0, err
    result = json.loads(stdout)
    assert out.is_file() and out.with_suffix(".npz").is_file()
    record = json.loads(out.with_name("refined.png.json").read_text())
    assert record["seed"] == 0 and record["settings"]["steps"] == 5 and record["critic"] == "discriminator"
    arrays = np.load(out.with_suffix(".npz"))
    assert arrays["x"].shape == (300, 2) and not np.allclose(arrays["x"], arrays["x_base"])
    for key in ("% high quality", "modes covered", "KDE log-likelihood", "mean critic logit"):
        assert key in result["before"] and key in result["after"]
    assert result["missing"] == {}
    assert result["after"]["mean critic logit"] > result["before"]["mean critic logit"]


def test_refine_cli_refuses_a_wgan_critic_for_drs_and_uses_a_corrector_if_present(cli, tmp_path) -> None:
    for method, extra in (("drs", []), ("ddls", []), ("mh", []), ("dgflow", ["--set", "divergence=js"])):
        args = ["--method", method, "--n", "20", "--out", tmp_path / "a.png", *extra]
        code, _, err = cli("refine", "gaussians25-wgangp", *args)
        assert code == 2, (method, err)
        assert "swerve ratio gaussians25-wgangp --corrector" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "a.png").exists()
    bundle = swerve.load("gaussians25-wgangp", device="cpu")
    fit_ratio(bundle, latents(2000), corrector=True, steps=20, seed=0)
    corrected = bundle.save(tmp_path / "g25-ratio")
    args = ["--method", "drs", "--n", "20", "--out", tmp_path / "b.png", "--set", "burn_in=100", "--json"]
    code, stdout, err = cli("refine", corrected, *args)
    assert code == 0, err
    assert json.loads(stdout)["critic"] == "ratio"


def test_refine_cli_says_which_metrics_it_could_not_compute_and_why(cli, tmp_path, monkeypatch) -> None:
    from swerve.data import idx

    # Fashion-MNIST nowhere: its variable names an empty folder, no Debian package, an empty cache.
    monkeypatch.setenv("SWERVE_FASHION_MNIST", str(tmp_path / "empty"))
    monkeypatch.delenv("SWERVE_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(idx, "DEBIAN_DIR", tmp_path / "no-debian-data")
    (tmp_path / "empty").mkdir()
    args = ["fashion-gan", "--n", "8", "--set", "steps=1", "--out", tmp_path / "r.png"]
    code, stdout, err = cli("refine", *args, "--json")
    assert code == 0, err
    result = json.loads(stdout)
    assert set(result["missing"]) == {"fd", "precision", "recall", "density", "coverage", "novelty"}
    for reason in result["missing"].values():
        assert "Fashion-MNIST" in reason and "dataset-fashion-mnist" in reason
        assert "SWERVE_FASHION_MNIST" in reason
    assert "fd" not in result["after"] and "mean critic logit" in result["after"]
    code, stdout, err = cli("refine", *args, "--overwrite")  # its own output of the run before
    assert code == 0, err
    assert "not computed: fd, precision, recall, density, coverage, novelty" in stdout
    assert "dataset-fashion-mnist" in stdout and "mean critic logit" in stdout


def test_refine_cli_bad_input_is_one_line(cli, tmp_path) -> None:
    code, _, err = cli("refine", "gaussians25-wgangp", "--method", "sgld", "--out", tmp_path / "a.png")
    assert code == 2 and "unknown refinement method" in err and "Traceback" not in err
    code, _, err = cli("refine", "gaussians25-wgangp", "--set", "warp=9", "--out", tmp_path / "a.png")
    assert code == 2 and "no setting warp" in err
    code, _, err = cli("refine", "gaussians25-wgangp", "--critic", "ratio", "--out", tmp_path / "a.png")
    assert code == 2 and "swerve ratio" in err
    assert not (tmp_path / "a.png").exists()


def test_the_demo_refine_card_trains_its_corrector_although_the_demo_draws_without_gradients(tmp_path):
    """run_demo draws every section under torch.no_grad(); the refine card trains a ratio corrector for the
    zoo's WGAN toy, which needs gradients (this crashed `make demo`)."""
    from swerve.look.sections import DemoContext
    from swerve.refine.report import refine_section

    with torch.no_grad():
        section = refine_section(DemoContext(out_dir=tmp_path / "demo"))
    assert section is not None and section.error is None and "corrector" in section.text

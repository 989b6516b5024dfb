"""Model rewriting: glitches reproduce and revert; targeted rewrites do what Bau et al. (2020) say."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from swerve import taps
from swerve.bundle import Bundle, DataSpec, LatentSpec
from swerve.diverge.glitch import glitch, glitch_state_dict, glitched
from swerve.diverge.rewrite import (
    copy_paste_targets,
    directions,
    key_moment,
    keys,
    memory_layer,
    rewrite_bundle,
    rewrite_weight,
    rewritten,
    set_weight_matrix,
    values,
    weight_matrix,
)
from swerve.errors import ConfigError
from tests.conftest import tiny_image_bundle
from tests.odd_generator import odd_bundle, stem_bundle


@pytest.mark.parametrize(
    "module, x",
    [
        (nn.ConvTranspose2d(5, 3, 4, 2, 1), (2, 5, 6, 6)),
        (nn.ConvTranspose2d(5, 3, 3, 2, 1, output_padding=1), (2, 5, 6, 7)),
        (nn.Conv2d(5, 3, 3, 2, 1, padding_mode="reflect"), (2, 5, 7, 6)),
        (nn.Linear(5, 3), (4, 5)),
    ],
)
def test_every_layer_kind_is_an_exact_linear_memory(module: nn.Module, x: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    inp = torch.randn(x)
    w = weight_matrix(module)
    torch.testing.assert_close(w @ keys(module, inp), values(module, module(inp)), atol=1e-5, rtol=0)
    assert torch.equal(set_weight_matrix(module, w), module.weight.detach())


def _rank(m: torch.Tensor, tol: float = 1e-4) -> int:
    """Numerical rank: singular values above ``tol`` times the largest (float32 rounding sits below)."""
    s = torch.linalg.svdvals(m.double())
    return int((s > tol * s[0]).sum())


def _key_and_value(bundle, layer: str, seed: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    name, module = memory_layer(bundle.generator, layer)
    z = bundle.latent.sample(1, torch.Generator().manual_seed(seed))
    with taps.record(bundle.generator, [name], inputs=True) as acts:
        bundle.generator(z)
    k = keys(module, acts[name])[0][:, [37]]  # one location's key
    v = torch.randn(weight_matrix(module).shape[0], 1, generator=torch.Generator().manual_seed(seed))
    return k, v


def test_rank_one_rewrite_meets_the_constraint_and_spares_c_orthogonal_keys() -> None:
    bundle = odd_bundle()
    k_star, v_star = _key_and_value(bundle, "rise.1.conv")
    edited, result = rewrite_bundle(bundle, "rise.1.conv", k_star, v_star, n=32)
    assert result.error() < 1e-5
    torch.testing.assert_close(result.w1 @ k_star, v_star, atol=1e-4, rtol=1e-4)
    # the change is rank one, along d (∝ C⁻¹ k*, checked below on a well-conditioned C) ...
    d = result.directions
    assert _rank(result.w1 - result.w0) == 1
    torch.testing.assert_close(
        (result.w1 - result.w0) @ (torch.eye(len(d)) - d @ d.T),
        torch.zeros_like(result.w0),
        atol=1e-5,
        rtol=0,
    )
    # ... so keys C-orthogonal to k* (dᵀ k = 0) map exactly as before
    others = torch.randn(k_star.shape[0], 20)
    others = others - d @ (d.T @ others)
    torch.testing.assert_close(result.w1 @ others, result.w0 @ others, atol=1e-5, rtol=0)
    # the edit is in the bundle's generator, and the original is untouched
    _, module = memory_layer(edited.generator, "rise.1.conv")
    torch.testing.assert_close(weight_matrix(module), result.w1)
    assert torch.equal(weight_matrix(memory_layer(bundle.generator, "rise.1.conv")[1]), result.w0)
    assert edited.history[-1]["op"] == "rewrite" and edited.history[-1]["params"]["rank"] == 1


def test_closed_form_and_projected_optimisation_agree() -> None:
    torch.manual_seed(0)
    w0 = torch.randn(6, 20)
    basis = torch.randn(20, 20)
    c = (basis @ basis.T / 20).double()
    k_star, v_star = torch.randn(20, 3), torch.randn(6, 3)
    one = directions(c, k_star[:, :1]).double().flatten()
    cinv_k = torch.linalg.solve(c, k_star[:, :1].double()).flatten()
    assert abs(float(one @ cinv_k / cinv_k.norm())) == pytest.approx(1.0, abs=1e-6)  # d ∝ C⁻¹ k*
    d = directions(c, k_star, rank=2).float()  # rank 2 for 3 keys: a least-squares compromise
    closed = rewrite_weight(w0, k_star, v_star, d, "closed")
    optimized = rewrite_weight(w0, k_star, v_star, d, "optimize", steps=500, lr=0.05)
    assert _rank(closed - w0) == 2
    assert (optimized - closed).norm() / (closed - w0).norm() < 1e-3
    residual = (closed @ k_star - v_star).norm()
    assert residual < (w0 @ k_star - v_star).norm()


def test_copy_paste_makes_the_target_draw_the_source_region() -> None:
    bundle = tiny_image_bundle(conditional=False)
    g = bundle.generator.eval()
    src, tgt = torch.randn(1, 8), torch.randn(1, 8)
    mask = torch.zeros(8, 8)
    mask[2:4, 2:4] = 1  # image resolution; blocks.0 makes 8x8 maps too
    k_star, v_star = copy_paste_targets(g, "conv:0", (src,), (tgt,), mask, shift=(3, 1))
    assert k_star.shape == (8 * 16, 4) and v_star.shape == (4, 4)
    edited, result = rewrite_bundle(bundle, "conv:0", k_star, v_star, rank=4, n=16)
    assert result.layer == "blocks.0.0" and result.error() < 1e-4
    with taps.record(g, ["blocks.0.0"]) as before:
        g(src)
    with taps.record(edited.generator, ["blocks.0.0"]) as after:
        edited.generator(tgt)
    torch.testing.assert_close(
        after["blocks.0.0"][0, :, 5:7, 3:5], before["blocks.0.0"][0, :, 2:4, 2:4], atol=1e-3, rtol=1e-3
    )
    plain = g(tgt)
    with rewritten(g, result):
        assert torch.allclose(g(tgt), edited.generator(tgt), atol=1e-6)
    assert torch.equal(g(tgt), plain)
    with pytest.raises(ConfigError, match="outside"):
        copy_paste_targets(g, "conv:0", (src,), (tgt,), mask, shift=(6, 0))


def test_rewrite_refuses_layers_it_cannot_read_as_a_memory() -> None:
    bundle = odd_bundle()
    with pytest.raises(ConfigError, match="GroupNorm"):
        rewrite_bundle(bundle, "rise.0.norm", torch.zeros(1, 1), torch.zeros(1, 1))
    with pytest.raises(ConfigError, match="keys for 'rise.1.conv' must have shape"):
        rewrite_bundle(bundle, "rise.1.conv", torch.zeros(5, 1), torch.zeros(4, 1))


@pytest.mark.parametrize(
    "kind, amount", [("gaussian", 0.5), ("zero", 0.3), ("shuffle", 0.5), ("reconnect", 0.5)]
)
def test_glitches_reproduce_from_their_seed_and_revert_exactly(kind: str, amount: float) -> None:
    bundle = odd_bundle()
    g = bundle.generator
    z = torch.randn(3, 6)
    before = g(z)
    a = glitch(bundle, kind, amount, layers=["rise.1"], seed=3)
    b = glitch(bundle, kind, amount, layers=["rise.1"], seed=3)
    c = glitch(bundle, kind, amount, layers=["rise.1"], seed=4)
    out_a = a.generator(z)
    assert torch.equal(out_a, b.generator(z)) and not torch.equal(out_a, c.generator(z))
    assert not torch.equal(out_a, before) and torch.equal(g(z), before)
    sa, s0 = a.generator.state_dict(), g.state_dict()
    assert all(torch.equal(sa[k], s0[k]) for k in s0 if not k.startswith("rise.1."))
    with glitched(g, kind, amount, layers=["rise.1"], seed=3):
        assert torch.equal(g(z), out_a)
    assert torch.equal(g(z), before)
    assert a.history[-1]["params"] == {
        "kind": kind,
        "amount": amount,
        "layers": ["rise.1"],
        "seed": 3,
        "role": "generator",
    }


def test_each_glitch_kind_does_what_it_says() -> None:
    g = odd_bundle().generator
    w = g.rise[1].conv.weight.detach()
    edits = {
        kind: glitch_state_dict(g, kind, 0.5, ["rise.1.conv"], seed=0)
        for kind in ("gaussian", "zero", "shuffle", "reconnect")
    }
    noise = edits["gaussian"]["rise.1.conv.weight"] - w
    assert float(noise.std()) == pytest.approx(0.5 * float(w.std()), rel=0.15)
    zeroed = edits["zero"]["rise.1.conv.weight"] == 0
    assert 0.35 < float(zeroed.float().mean()) < 0.65
    assert torch.equal(
        edits["shuffle"]["rise.1.conv.weight"].flatten().sort().values, w.flatten().sort().values
    )
    swapped = edits["reconnect"]["rise.1.conv.weight"]  # 4 output channels: one pair swaps
    moved = [i for i in range(4) if not torch.equal(swapped[i], w[i])]
    assert len(moved) == 2 and torch.equal(swapped[moved[0]], w[moved[1]])
    bias = edits["reconnect"]["rise.1.conv.bias"]
    assert torch.equal(bias[moved[0]], g.rise[1].conv.bias[moved[1]])
    with pytest.raises(ConfigError, match="fraction"):
        glitch_state_dict(g, "zero", 2.0)
    with pytest.raises(ConfigError, match="unknown glitch kind"):
        glitch_state_dict(g, "melt", 0.1)


def test_glitch_and_rewrite_of_a_shortcut_edit_the_one_layer_it_names() -> None:
    """On a Linear-Tanh-Linear stem, linear:0 is the first Linear for glitching and rewriting alike."""
    bundle = stem_bundle()
    g = bundle.generator
    edited = glitch_state_dict(g, "gaussian", 0.5, ["linear:0"], seed=0)
    assert sorted(edited) == ["stem.0.bias", "stem.0.weight"]
    assert sorted(glitch_state_dict(g, "reconnect", 1.0, ["linear:1"])) == ["stem.2.bias", "stem.2.weight"]
    assert memory_layer(g, "linear:0")[0] == "stem.0" and memory_layer(g, "linear:1")[0] == "stem.2"
    assert memory_layer(g, "stem.1")[0] == "stem.0"  # linear:0's tap point stands for its layer
    assert memory_layer(tiny_image_bundle().generator, "blocks.0")[0] == "blocks.0.0"
    k = torch.randn(6, 1, generator=torch.Generator().manual_seed(1))
    out, result = rewrite_bundle(bundle, "linear:0", k, torch.randn(12, 1), n=64)
    changed = [
        key for key, t in out.generator.state_dict().items() if not torch.equal(t, g.state_dict()[key])
    ]
    assert result.layer == "stem.0" and changed == ["stem.0.weight"]
    with pytest.raises(ConfigError, match="no parameters to glitch in stem.1"):
        glitch_state_dict(g, "gaussian", 0.5, ["stem.1"])


class _WideKeys(nn.Module):
    """z (256-d) -> a fixed mixing with a spread of scales and a leaky ReLU -> ``out``, whose keys are
    256-d and never degenerate (their covariance has a condition number of a few hundred)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        q, _ = torch.linalg.qr(torch.randn(256, 256))
        self.mix = nn.Sequential(nn.Linear(256, 256, bias=False), nn.LeakyReLU(0.2))
        self.mix[0].weight.data = q * torch.logspace(0, -1.5, 256)
        self.out = nn.Linear(256, 4)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.out(self.mix(z))


def test_rewrite_samples_enough_keys_for_a_wide_layer_and_warns_when_it_cannot() -> None:
    """256-d keys: the default sample count gives the direction C⁻¹k* of a large sample (cos >= 0.99);
    256 latents (one key each) give a near-singular C, and a warning naming its condition number."""
    bundle = Bundle({"generator": _WideKeys().eval()}, DataSpec(shape=[4]), LatentSpec(256), name="wide")
    g = bundle.generator
    with torch.no_grad():
        k_star = g.mix(torch.randn(1, 256, generator=torch.Generator().manual_seed(7))).T
    v_star = torch.randn(4, 1)
    big = torch.randn(200_000, 256, generator=torch.Generator().manual_seed(8))
    reference = torch.linalg.solve(key_moment(g, "out", big, batch_size=20_000), k_star.double())[:, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        edited, result = rewrite_bundle(bundle, "linear:1", k_star, v_star)
    cos = float(result.directions[:, 0].double() @ reference / reference.norm())
    assert abs(cos) >= 0.99 and edited.history[-1]["params"]["n"] == 100 * 256
    assert edited.history[-1]["params"]["condition"] < 1e4
    with pytest.warns(
        UserWarning, match=r"ill-conditioned \(condition number .* from 256 latents, 256-d keys"
    ):
        _, few = rewrite_bundle(bundle, "linear:1", k_star, v_star, n=256)
    assert abs(float(few.directions[:, 0].double() @ reference / reference.norm())) < 0.9

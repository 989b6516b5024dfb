"""Taps: recording and rewriting named layers on any module, and leaving it exactly as it was."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from swerve import taps
from swerve.errors import ConfigError
from tests.conftest import tiny_image_bundle
from tests.odd_generator import StemGenerator


class Stranger(nn.Module):
    """A generator swerve has never seen: no config, odd names, a tuple-returning layer."""

    def __init__(self) -> None:
        super().__init__()
        self.front = nn.Sequential(nn.Linear(4, 6), nn.Tanh())
        self.back = nn.Linear(6, 3)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.back(self.front(z))


def test_record_returns_each_layer_output_across_calls() -> None:
    torch.manual_seed(0)
    g = Stranger()
    z1, z2 = torch.randn(2, 4), torch.randn(3, 4)
    with taps.record(g, ["front", "front.0"]) as acts:
        g(z1)
        g(z2)
    assert acts["front"].shape == (5, 6)
    torch.testing.assert_close(acts["front"], torch.tanh(g.front[0](torch.cat([z1, z2]))))
    assert not g._forward_hooks and not g.front._forward_hooks


def test_rewrite_changes_only_downstream_and_is_removed_bit_exactly() -> None:
    g = tiny_image_bundle().generator.eval()
    z = torch.randn(4, 8)
    y = torch.zeros(4, dtype=torch.long)
    before = g(z, y)
    with taps.record(g, ["stem", "blocks.0"]) as plain:
        g(z, y)
    with taps.rewrite(g, "blocks.0", lambda out: out * 0), taps.record(g, ["stem", "blocks.0"]) as bent:
        after = g(z, y)
    assert torch.equal(plain["stem"], bent["stem"])  # upstream untouched
    assert torch.count_nonzero(bent["blocks.0"]) == 0
    assert not torch.equal(before, after)
    assert torch.equal(g(z, y), before)


def test_rewrite_is_removed_after_an_exception() -> None:
    g = Stranger()
    z = torch.randn(2, 4)
    before = g(z)
    with pytest.raises(RuntimeError), taps.rewrite(g, "front", lambda out: out + 1):
        raise RuntimeError("boom")
    assert torch.equal(g(z), before)


def test_unknown_layer_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match=r"no layer 'fron'.*front"):
        taps.find_layer(Stranger(), "fron")
    with pytest.raises(ConfigError, match="no layer ''"):
        taps.find_layer(Stranger(), "")


def test_output_shapes_lists_layers_in_order() -> None:
    shapes = taps.output_shapes(Stranger(), torch.randn(2, 4))
    assert list(shapes) == ["front", "front.0", "front.1", "back"]
    assert shapes["back"] == (2, 3)


def test_a_shortcut_names_one_layer_and_taps_after_what_follows_it() -> None:
    """linear:0 of a Linear-Tanh-Linear stem is the first Linear, read after its Tanh; linear:1 the second."""
    torch.manual_seed(0)
    g = StemGenerator().eval()
    assert [(s.layer, s.tap) for s in taps.shortcuts(g, "linear")] == [
        ("stem.0", "stem.1"),
        ("stem.2", "stem.2"),
    ]
    assert taps.block_names(g, "conv")[-1] == "head.0" and taps.resolve_layer(g, "conv:-1") == "head"
    assert taps.resolve_weights(g, "linear:0") == "stem.0" and taps.resolve_layer(g, "linear:0") == "stem.1"
    z = torch.randn(5, 6)
    with taps.record(g, ["linear:0", "linear:1"]) as acts:
        g(z)
    first = torch.tanh(z @ g.stem[0].weight.T + g.stem[0].bias)
    torch.testing.assert_close(acts["linear:0"], first)
    torch.testing.assert_close(acts["linear:1"], first @ g.stem[2].weight.T + g.stem[2].bias)
    with taps.rewrite(g, "linear:0", lambda out: out * 0), taps.record(g, ["stem"]) as bent:
        g(z)
    torch.testing.assert_close(bent["stem"], g.stem[2].bias.expand(5, -1))  # the second Linear saw zeros


def test_swerves_own_generators_keep_their_tap_names() -> None:
    g = tiny_image_bundle().generator
    assert [taps.resolve_layer(g, n) for n in ("linear:0", "conv:0", "conv:1")] == [
        "stem",
        "blocks.0",
        "to_image",
    ]
    assert taps.block_names(g, "conv") == ["blocks.0.0", "to_image.0"]

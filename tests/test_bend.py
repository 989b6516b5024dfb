"""Network bending: a bend changes exactly the chosen channels of the chosen layer, and goes away exactly."""

from __future__ import annotations

import copy

import pytest
import torch

from swerve import taps
from swerve.bundle import load
from swerve.diverge.bend import Bend, apply_bends, bend_bundle, parse_bends, select_channels
from swerve.diverge.clusters import cluster_bundle
from swerve.diverge.finetune.layers import freeze_layers
from swerve.diverge.layers import bundle_layer_table, layer_table, shortcut_table
from swerve.errors import ConfigError
from swerve.models import MLPConfig, MLPGenerator
from tests.conftest import tiny_image_bundle
from tests.odd_generator import OddGenerator, odd_bundle, stem_bundle


def _cases():
    """(generator, inputs, bent layer, the layer before it) on ours and on a class swerve has never seen."""
    torch.manual_seed(0)
    tiny = tiny_image_bundle().generator.eval()
    z = torch.randn(4, 8)
    yield tiny, (z, torch.arange(4) % 3), "blocks.0", "stem"
    odd = OddGenerator().eval()
    yield odd, (torch.randn(4, 6),), "rise.1", "rise.0"


@pytest.mark.parametrize("case", range(2))
def test_bend_changes_exactly_the_selected_channels_and_nothing_upstream(case: int) -> None:
    g, inputs, layer, upstream = list(_cases())[case]
    bends = [Bend(layer, "rotate", {"degrees": 90}, [0, 2]), Bend(layer, "multiply", {"factor": 3.0}, [2])]
    with taps.record(g, [upstream, layer]) as plain:
        before = g(*inputs)
    with apply_bends(g, bends), taps.record(g, [upstream, layer]) as bent:
        after = g(*inputs)
    assert torch.equal(plain[upstream], bent[upstream])
    changed = (plain[layer] != bent[layer]).flatten(2).any(2).any(0)
    assert changed.nonzero().flatten().tolist() == [0, 2]
    rotated = plain[layer][:, [0, 2]].rot90(1, dims=(-2, -1))  # square maps: a quarter turn is exact
    torch.testing.assert_close(bent[layer][:, 0], rotated[:, 0], atol=1e-5, rtol=0)
    torch.testing.assert_close(bent[layer][:, 2], 3 * rotated[:, 1], atol=1e-5, rtol=0)
    assert not torch.equal(before, after)
    assert torch.equal(g(*inputs), before)  # removed bit-exactly
    assert all(not m._forward_hooks for m in g.modules())


def test_bends_are_removed_after_an_exception() -> None:
    g = OddGenerator().eval()
    z = torch.randn(2, 6)
    before = g(z)
    with pytest.raises(RuntimeError), apply_bends(g, [Bend("rise.0", "ablate")]):
        raise RuntimeError("boom")
    assert torch.equal(g(z), before)


def test_pointwise_bend_on_an_mlp_layer() -> None:
    g = MLPGenerator(MLPConfig(hidden=16)).eval()
    z = torch.randn(5, 2)
    with apply_bends(g, [Bend("linear:1", "ablate", channels=[1, 3])]), taps.record(g, ["layers.1"]) as acts:
        g(z)
    assert torch.count_nonzero(acts["layers.1"][:, [1, 3]]) == 0
    with pytest.raises(ConfigError, match="feature maps"), apply_bends(g, [Bend("layers.1", "rotate")]):
        g(z)


def test_channel_selection_fraction_is_seeded_and_clusters_name_channels() -> None:
    spec = {"fraction": 0.25, "seed": 7}
    a = select_channels(spec, 32, "x")
    assert len(a) == 8 and torch.equal(a, select_channels(spec, 32, "x"))
    assert not torch.equal(a, select_channels({"fraction": 0.25, "seed": 8}, 32, "x"))
    ids = torch.tensor([0, 1, 1, 0, 2, 1])
    assert select_channels({"cluster": 1}, 6, "x", {"x": ids}).tolist() == [1, 2, 5]
    with pytest.raises(ConfigError, match="no channel clusters"):
        select_channels({"cluster": 1}, 6, "y", {"x": ids})
    with pytest.raises(ConfigError, match="channel 9 does not exist"):
        select_channels([1, 9], 6, "x")


def test_cluster_bend_through_a_shortcut_layer_name() -> None:
    g = OddGenerator().eval()
    z = torch.randn(3, 6)
    ids = torch.tensor([0, 1] * 4)
    with (
        apply_bends(
            g,
            [{"layer": "conv:0", "transform": "ablate", "channels": {"cluster": 1}}],
            clusters={"conv:0": ids},
        ),
        taps.record(g, ["rise.0.conv"]) as acts,
    ):
        g(z)
    assert torch.count_nonzero(acts["rise.0.conv"][:, 1::2]) == 0
    assert torch.count_nonzero(acts["rise.0.conv"][:, 0::2]) > 0


def test_animated_bend_reads_the_frame() -> None:
    g = OddGenerator().eval()
    z = torch.randn(1, 6)
    bend = [Bend("rise.0", "oscillate", {"amplitude": 2.0, "frequency": 0.25, "axis": "time"})]
    outs = []
    for frame in (0, 1, 4):
        with apply_bends(g, bend, frame=frame):
            outs.append(g(z))
    assert torch.allclose(outs[0], outs[2], atol=1e-6) and not torch.allclose(outs[0], outs[1], atol=1e-3)


def test_parse_bends_rejects_what_is_wrong_with_a_clear_message() -> None:
    ok = parse_bends({"bends": [{"layer": "a", "transform": "scale", "params": {"factor": 2}}]})
    assert ok[0].params == {"factor": 2.0} and ok[0].channels == "all"
    assert parse_bends([ok[0].to_dict()])[0] == ok[0]
    bad = [
        ([{"layer": "a", "transform": "twirl"}], "unknown transform 'twirl'"),
        ([{"layer": "a", "transform": "scale", "params": {"zoom": 2}}], "no parameter 'zoom'"),
        ([{"layer": "a", "transform": "scale", "params": {"factor": 99}}], "outside"),
        ([{"layer": "a", "transform": "scale", "channels": {"fraction": 2}}], "fraction"),
        ([{"layer": "a", "transform": "scale", "channels": [-1]}], "channel indices"),
        ([{"transform": "scale"}], "needs layer"),
        ([{"layer": "a", "transform": "scale", "colour": 1}], "unknown bend key 'colour'"),
        ("rotate", "must be a list"),
    ]
    for obj, message in bad:
        with pytest.raises(ConfigError, match=message):
            parse_bends(obj)


def test_unknown_layer_is_a_clear_error_before_anything_runs() -> None:
    g = OddGenerator()
    with pytest.raises(ConfigError, match="no layer 'rise.7'"), apply_bends(g, [Bend("rise.7", "ablate")]):
        pass
    with pytest.raises(ConfigError, match="5 conv blocks"), apply_bends(g, [Bend("conv:5", "ablate")]):
        pass


def test_bent_bundle_samples_bent_saves_and_leaves_the_original_alone(tmp_path) -> None:
    bundle = odd_bundle()
    plain = bundle.sample(4, seed=1).x
    bent = bend_bundle(bundle, [Bend("conv:0", "flip", {"axis": "v"}, {"fraction": 0.5, "seed": 0})])
    x = bent.sample(4, seed=1).x
    assert not torch.equal(plain, x)
    assert torch.equal(bundle.sample(4, seed=1).x, plain) and "bends" not in bundle.extra
    assert bent.history[-1]["op"] == "bend" and bent.sample(1).recipe["bends"][0]["transform"] == "flip"
    again = load(bent.save(tmp_path / "bent"), trust=["tests.odd_generator"])  # a user's own class
    assert torch.equal(again.sample(4, seed=1).x, x)


def test_layer_table_lists_names_shapes_channels_and_shortcuts() -> None:
    rows = {r["name"]: r for r in bundle_layer_table(tiny_image_bundle())}
    assert rows["blocks.0"]["shape"] == [4, 8, 8] and rows["blocks.0"]["channels"] == 4
    assert rows["blocks.0"]["shortcut"] == "conv:0" and rows["to_image"]["shortcut"] == "conv:1"
    assert taps.resolve_layer(tiny_image_bundle().generator, "conv:-1") == "to_image"
    odd = {r["name"]: r for r in layer_table(OddGenerator(), 6)}
    assert odd["rise.1"]["shape"] == [4, 16, 16] and odd["project"]["shortcut"] == "linear:0"


def test_shortcuts_bend_cluster_freeze_and_list_the_same_layer_on_an_odd_stem() -> None:
    """linear:0 of a Linear-Tanh-Linear stem: bent after its Tanh, clustered there, frozen as the first
    Linear, and listed as such."""
    bundle = stem_bundle()
    g = bundle.generator
    z = torch.randn(3, 6)
    with (
        apply_bends(g, [Bend("linear:0", "ablate", channels=[0, 2])]),
        taps.record(g, ["stem.0", "stem"]) as acts,
    ):
        g(z)
    h = torch.tanh(g.stem[0](z))
    h[:, [0, 2]] = 0
    assert torch.count_nonzero(acts["stem.0"][:, [0, 2]]) == 6  # the Linear itself is not bent
    torch.testing.assert_close(acts["stem"], g.stem[2](h))
    assert list(cluster_bundle(bundle, ["linear:0"], k=2, n=16).extra["clusters"]) == ["stem.1"]
    frozen = freeze_layers(copy.deepcopy(g), ["linear:0"])
    assert frozen == ["stem.0.weight", "stem.0.bias"]
    rows = {r["name"]: r for r in layer_table(g, 6)}
    assert rows["stem.1"]["shortcut"] == "linear:0" and rows["stem.1"]["shortcut_layer"] == "stem.0"
    assert rows["stem.0"]["shortcut"] == "" and rows["stem.2"]["shortcut"] == "linear:1"
    assert {c["shortcut"]: (c["layer"], c["tap"]) for c in shortcut_table(g)}["conv:4"] == ("head.0", "head")


@pytest.mark.parametrize(
    ("transform", "values"),
    [
        ("rotate", {"degrees": [0.0, 30.0, -75.0, 180.0]}),  # batched: one affine grid per sample
        ("translate", {"dx": [0.0, 0.1, -0.3, 0.5], "dy": [0.2, 0.2, 0.0, -0.1]}),
        ("multiply", {"factor": [1.0, -2.0, 0.5, 3.0]}),
        ("oscillate", {"amplitude": [0.0, 1.0, 2.0, -1.0], "phase": [0.0, 0.25, 0.5, 0.75]}),
        ("erode", {"radius": [0, 1, 2, 1]}),  # whole numbers: drawn sample by sample in the batch
    ],
)
def test_each_sample_of_a_batch_bent_with_its_own_parameters_is_drawn_as_alone(transform, values) -> None:
    g, (z, labels), layer, _ = next(_cases())
    own = [[Bend(layer, transform, {k: v[i] for k, v in values.items()}, [0, 2])] for i in range(4)]
    with apply_bends(g, own[0], samples=own):
        together = g(z, labels)
    for i in range(4):
        with apply_bends(g, own[i]):
            alone = g(z[i : i + 1], labels[i : i + 1])
        torch.testing.assert_close(together[i : i + 1], alone, atol=1e-5, rtol=1e-5)
    with apply_bends(g, own[1]):
        assert not torch.allclose(g(z, labels)[0], together[0], atol=1e-4)  # the parameters did differ


def test_samples_may_differ_from_the_batch_in_parameters_only() -> None:
    g, (z, labels), layer, _ = next(_cases())
    bends = [Bend(layer, "rotate", {"degrees": 10.0})]
    other = [[Bend(layer, "scale", {"factor": 2.0})]] * 4
    with pytest.raises(ConfigError, match="sample 0 has other bends"), apply_bends(g, bends, samples=other):
        pass
    two = [[Bend(layer, "rotate", {"degrees": d})] for d in (1.0, 2.0)]
    with pytest.raises(ConfigError, match="2 sets of bend parameters"), apply_bends(g, bends, samples=two):
        g(z, labels)

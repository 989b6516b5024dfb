"""Network blending: endpoints exactly, schedules coarse to fine, merging, task arithmetic, predictions."""

from __future__ import annotations

import pytest
import torch

from swerve.diverge.blend import (
    IncompatibleModels,
    blend_bundles,
    blend_predictions,
    blend_state_dicts,
    layer_order,
    merge,
    resolution_schedule,
    task_arithmetic,
)
from swerve.errors import ConfigError
from tests.conftest import tiny_image_bundle
from tests.odd_generator import OddGenerator, odd_bundle, stem_bundle


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_blend_at_zero_and_one_reproduces_the_endpoints_exactly() -> None:
    a, b = odd_bundle(seed=0, name="a"), odd_bundle(seed=1, name="b")
    assert _same_weights(blend_bundles(a, b, alpha=0.0).generator, a.generator)
    assert _same_weights(blend_bundles(a, b, alpha=1.0).generator, b.generator)
    half = blend_bundles(a, b, alpha=0.5)
    w = "project.weight"
    expected = (a.generator.state_dict()[w] + b.generator.state_dict()[w]) / 2
    torch.testing.assert_close(half.generator.state_dict()[w], expected)
    assert half.history[-1]["op"] == "blend" and half.history[-1]["params"]["other"] == "b"
    assert not _same_weights(half.generator, a.generator)
    assert _same_weights(a.generator, odd_bundle(seed=0).generator)  # inputs untouched


def test_per_layer_alpha_uses_the_longest_matching_layer_name() -> None:
    a, b = OddGenerator().state_dict(), OddGenerator().state_dict()
    out = blend_state_dicts(a, b, {"rise": 1.0, "rise.1.conv": 0.0, "*": 0.0})
    assert torch.equal(out["rise.0.conv.weight"], b["rise.0.conv.weight"])
    assert torch.equal(out["rise.1.conv.weight"], a["rise.1.conv.weight"])
    assert torch.equal(out["rise.1.skip.weight"], b["rise.1.skip.weight"])
    assert torch.equal(out["project.weight"], a["project.weight"])


def test_resolution_schedule_is_logistic_coarse_to_fine_or_a_hard_swap() -> None:
    names = ["l0", "l1", "l2", "l3", "l4"]
    soft = resolution_schedule(names, pivot="l2", width=0.5)
    values = [soft[n] for n in names]
    assert values == sorted(values) and soft["l2"] == pytest.approx(0.5)
    assert values[0] < 0.02 and values[-1] > 0.98
    assert resolution_schedule(names, pivot=3, hard=True) == {"l0": 0, "l1": 0, "l2": 0, "l3": 1, "l4": 1}
    with pytest.raises(ConfigError, match="pivot layer 'l9'"):
        resolution_schedule(names, pivot="l9")


def test_hard_swap_takes_coarse_layers_from_a_and_fine_from_b() -> None:
    a, b = tiny_image_bundle(), tiny_image_bundle()
    torch.manual_seed(5)
    for p in b.generator.parameters():
        p.data.normal_()
    assert layer_order(a.generator) == ["stem.0", "blocks.0.0", "to_image.0"]  # what linear:i / conv:i name
    out = blend_bundles(a, b, schedule={"pivot": "blocks.0", "hard": True}).generator.state_dict()
    sa, sb = a.generator.state_dict(), b.generator.state_dict()
    assert torch.equal(out["stem.0.weight"], sa["stem.0.weight"])
    assert torch.equal(out["embed.weight"], sa["embed.weight"])  # registered first: follows stem.0
    assert torch.equal(out["stem.2.weight"], sa["stem.2.weight"])  # the stem's norm follows stem.0
    assert torch.equal(out["blocks.0.0.weight"], sb["blocks.0.0.weight"])
    assert torch.equal(out["blocks.0.1.weight"], sb["blocks.0.1.weight"])  # and this norm blocks.0.0
    assert torch.equal(out["to_image.0.weight"], sb["to_image.0.weight"])


def test_a_schedule_assigns_every_tensor_and_says_how() -> None:
    """Tensors outside the scheduled layers (a learned constant, norm weights) follow the layer registered
    before them, so "everything from B" is all of B, and the history lists each such tensor."""
    a, b = stem_bundle(seed=0, name="a"), stem_bundle(seed=1, name="b")
    for p in b.generator.parameters():
        p.data.normal_()  # the norms' weights too
    sa, sb = a.generator.state_dict(), b.generator.state_dict()
    assert not any(torch.equal(sa[k], sb[k]) for k in sa)
    names = layer_order(a.generator)
    assert names == ["stem.0", "stem.2", "stages.s8.conv", "stages.s8.skip", "stages.s16.conv"] + [
        "stages.s16.skip",
        "head.0",
    ]
    all_b = blend_bundles(a, b, schedule={"pivot": 0, "hard": True})
    out = all_b.generator.state_dict()
    assert sum(torch.equal(out[k], sb[k]) for k in sb) == len(sb) == 17
    assert all_b.history[-1]["params"]["follows"] == {
        "const": "stem.0",
        "stages.s8.norm.weight": "stages.s8.conv",
        "stages.s8.norm.bias": "stages.s8.conv",
        "stages.s16.norm.weight": "stages.s16.conv",
        "stages.s16.norm.bias": "stages.s16.conv",
    }
    mid = blend_bundles(a, b, schedule={"pivot": "stages.s16", "hard": True}).generator.state_dict()
    from_b = {k for k in sb if torch.equal(mid[k], sb[k]) and not torch.equal(mid[k], sa[k])}
    assert from_b == {k for k in sb if k.startswith(("stages.s16.", "head."))}
    soft = blend_bundles(a, b, schedule={"pivot": 3, "width": 1.0}).generator.state_dict()
    alpha = resolution_schedule(names, 3)["stages.s8.conv"]
    torch.testing.assert_close(
        soft["stages.s8.norm.weight"],
        torch.lerp(sa["stages.s8.norm.weight"], sb["stages.s8.norm.weight"], alpha),
    )


def test_incompatible_models_name_the_first_mismatching_tensor() -> None:
    a = odd_bundle(name="a")
    wide = OddGenerator(width=12)
    wide.init_kwargs = {"zdim": 6, "width": 12}
    b = odd_bundle(name="b")
    b.networks["generator"] = wide
    with pytest.raises(IncompatibleModels, match=r"'project.weight': shape \(128, 6\) in A, \(192, 6\) in B"):
        blend_bundles(a, b)
    with pytest.raises(IncompatibleModels, match="'project.weight': A has it, B does not"):
        blend_bundles(a, tiny_image_bundle())
    with pytest.raises(IncompatibleModels):
        merge([a, b])


def test_merge_is_a_weighted_average_and_task_arithmetic_at_zero_is_the_base() -> None:
    a, b, c = (odd_bundle(seed=s, name=n) for s, n in [(0, "a"), (1, "b"), (2, "c")])
    merged = merge([a, b, c], [1.0, 1.0, 2.0]).generator.state_dict()
    key = "rise.0.conv.weight"
    parts = [m.generator.state_dict()[key] for m in (a, b, c)]
    torch.testing.assert_close(merged[key], 0.25 * parts[0] + 0.25 * parts[1] + 0.5 * parts[2])
    assert _same_weights(task_arithmetic(a, b, lam=0.0).generator, a.generator)
    assert _same_weights(merge([a, b], [1.0, 0.0]).generator, a.generator)
    moved = task_arithmetic(a, [b, c], lam=[1.0, 0.5]).generator.state_dict()[key]
    torch.testing.assert_close(moved, parts[0] + (parts[1] - parts[0]) + 0.5 * (parts[2] - parts[0]))
    with pytest.raises(ConfigError, match="non-zero sum"):
        merge([a, b], [1.0, -1.0])


def test_prediction_blending_mixes_outputs_or_a_layer() -> None:
    torch.manual_seed(0)
    g1, g2 = OddGenerator().eval(), OddGenerator().eval()
    z = torch.randn(3, 6)
    mixed = blend_predictions([g1, g2], [0.25, 0.75], z)
    torch.testing.assert_close(mixed, 0.25 * g1(z) + 0.75 * g2(z))
    assert torch.equal(blend_predictions([g1, g2], [1.0, 0.0], z, layer="rise.0"), g1(z))
    at_layer = blend_predictions([g1, g2], [0.5, 0.5], z, layer="rise.0")
    assert not torch.allclose(at_layer, g1(z)) and not torch.allclose(at_layer, 0.5 * g1(z) + 0.5 * g2(z))
    assert all(not m._forward_hooks for m in [*g1.modules(), *g2.modules()])

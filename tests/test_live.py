"""A bundle's live edits (bends, creative decoder) live on its generator as taps, in a stated order, so every
sampler and every reader of activations sees the same model."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest
import torch

import swerve
from swerve import taps
from swerve.diverge.bend import apply_bends, bend_bundle
from swerve.diverge.creative import Creative, creative_bundle, creative_sample
from swerve.errors import BundleError, ConfigError
from swerve.measure.scan.activations import layer_activations, sample_activations
from tests.conftest import tiny_image_bundle

TRIPLE = {"layer": "blocks.0", "transform": "multiply", "params": {"factor": 3.0}}


def _plain_and_bent():
    plain = tiny_image_bundle(conditional=False)
    plain.generator.eval()  # direct calls as Bundle.sample makes them (batch norm on running statistics)
    return plain, bend_bundle(plain, [TRIPLE])


def _hooks(model: torch.nn.Module) -> int:
    return sum(len(m._forward_hooks) for m in model.modules())


def test_a_bent_bundles_generator_called_directly_is_bent() -> None:
    plain, bent = _plain_and_bent()
    z = torch.randn(4, 8, generator=torch.Generator().manual_seed(0))
    sampled = bent.sample(4, z=z).x
    with torch.no_grad():
        direct = bent.generator(z)
        unbent = plain.generator(z)
    assert torch.equal(direct, sampled) and not torch.allclose(direct, unbent)
    assert torch.equal(plain.sample(4, z=z).x, unbent)  # the original bundle stays unbent


def test_a_scan_records_the_bent_output_of_the_layer_it_scans() -> None:
    plain, bent = _plain_and_bent()
    _, unbent_acts = sample_activations(plain, 6, ["blocks.0"], seed=2)
    _, bent_acts = sample_activations(bent, 6, ["blocks.0"], seed=2)
    assert torch.allclose(bent_acts["blocks.0"], 3 * unbent_acts["blocks.0"])
    z = bent.latent.sample(6, torch.Generator().manual_seed(2))
    direct = layer_activations(bent.generator, [z], ["blocks.0"])["blocks.0"]
    assert torch.equal(direct, bent_acts["blocks.0"])


def test_removing_the_edits_restores_the_outputs_bit_exactly() -> None:
    plain, bent = _plain_and_bent()
    z = torch.randn(3, 8)
    with torch.no_grad():
        before = plain.generator(z)
        g = copy.deepcopy(plain.generator)
        taps.install_edits(g, [("blocks.0", lambda out: out * 2), ("stem", lambda out: out + 1)], "x")
        assert taps.edits_key(g) == "x" and not torch.equal(g(z), before)
        taps.install_edits(g, [])
        assert torch.equal(g(z), before) and _hooks(g) == 0 and taps.edits_key(g) == ""
        bent.extra["bends"] = []
        assert torch.equal(bent.generator(z), before) and _hooks(bent.generator) == 0


def test_edits_then_rewrites_then_recorders_whatever_order_they_were_entered() -> None:
    _, bent = _plain_and_bent()
    g, z, unedited = bent.generator, torch.randn(2, 8), bent.without_edits().generator
    with torch.no_grad(), taps.record(unedited, ["blocks.0"]) as plain:
        unedited(z)
    seen = []

    def plus_one(out: torch.Tensor) -> torch.Tensor:
        seen.append(out.clone())
        return out + 1

    with torch.no_grad(), taps.record(g, ["blocks.0"]) as acts, taps.rewrite(g, "blocks.0", plus_one):
        g(z)  # the recorder was entered first, the rewrite second: the stages decide, not the order
    assert torch.allclose(seen[0], 3 * plain["blocks.0"])  # the rewrite sees the bundle's bend
    assert torch.allclose(acts["blocks.0"], 3 * plain["blocks.0"] + 1)  # the recorder sees both


def test_a_bent_bundle_round_trips_and_is_bent_after_load(tmp_path) -> None:
    plain, bent = _plain_and_bent()
    loaded = swerve.load(bent.save(tmp_path / "bent"))
    z = torch.randn(5, 8)
    with torch.no_grad():
        assert torch.equal(loaded.generator(z), bent.generator(z))
    assert torch.equal(loaded.sample(5, seed=4).x, bent.sample(5, seed=4).x)
    assert not torch.allclose(loaded.sample(5, seed=4).x, plain.sample(5, seed=4).x)
    again = loaded.save(tmp_path / "again")
    assert (again / "config.json").read_text() == (tmp_path / "bent" / "config.json").read_text()


def test_live_bends_apply_after_the_stored_ones() -> None:
    _, bent = _plain_and_bent()
    z, unedited = torch.randn(2, 8), bent.without_edits().generator
    page = [{"layer": "blocks.0", "transform": "add", "params": {"value": 1.0}}]
    with torch.no_grad(), taps.record(unedited, ["blocks.0"]) as plain:
        unedited(z)
    with (
        torch.no_grad(),
        apply_bends(bent.generator, page),
        taps.record(bent.generator, ["blocks.0"]) as acts,
    ):
        bent.generator(z)
    assert torch.allclose(acts["blocks.0"], 3 * plain["blocks.0"] + 1)  # (x * 3) + 1, not (x + 1) * 3


def test_a_copy_keeps_the_edits_and_drops_transient_taps() -> None:
    plain, bent = _plain_and_bent()
    z = torch.randn(2, 8)
    with torch.no_grad():
        assert torch.equal(copy.deepcopy(bent.generator)(z), bent.generator(z))
        with taps.rewrite(plain.generator, "blocks.0", torch.zeros_like):
            twin = copy.deepcopy(plain.generator)
        assert torch.equal(twin(z), plain.generator(z))


def test_a_creative_bundle_samples_reproducibly_saves_and_loads(tmp_path) -> None:
    plain = tiny_image_bundle(conditional=False)
    config = Creative(layer="blocks.0", fraction=0.5, strength=2.0, seed=3)
    stored = creative_bundle(plain, config)
    a, b = stored.sample(8, seed=1), stored.sample(8, seed=1)
    assert torch.equal(a.x, b.x) and a.recipe["creative"]["fraction"] == 0.5
    assert torch.equal(a.x, creative_sample(plain, 8, seed=1, config=config).x)  # stored = transient
    assert torch.equal(swerve.load(stored.save(tmp_path / "c")).sample(8, seed=1).x, a.x)
    assert not torch.allclose(plain.sample(8, seed=1).x, a.x)


def test_a_stored_edit_that_does_not_fit_is_refused(tmp_path) -> None:
    plain = tiny_image_bundle(conditional=False)
    with pytest.raises(ConfigError, match="no layer 'nowhere'"):
        bend_bundle(plain, [{**TRIPLE, "layer": "nowhere"}])
    path = bend_bundle(plain, [TRIPLE]).save(tmp_path / "b")
    config = json.loads((path / "config.json").read_text())
    config["extra"]["bends"][0]["layer"] = "nowhere"
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(BundleError, match="stored edit does not fit the generator.*nowhere"):
        swerve.load(path)
    config["extra"]["bends"] = [{"layer": "blocks.0", "transform": "melt"}]
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(BundleError, match="unknown transform 'melt'"):
        swerve.load(path)


def test_the_core_imports_no_method_package() -> None:
    core = "swerve, swerve.bundle, swerve.taps, swerve.live, swerve.transforms, swerve.trust, swerve.data"
    code = (
        f"import sys, {core}, swerve.models, swerve.models.importers, swerve.train\n"
        "swerve.load('digits-gan')\n"
        "methods = ('diverge', 'refine', 'measure', 'look', 'studio', 'scale', 'cli')\n"
        "found = [m for m in sys.modules if m.startswith('swerve.') and m.split('.')[1] in methods]\n"
        "print(sorted(found))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"

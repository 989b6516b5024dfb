"""The bundle format: bit-exact round trips, foreign modules, and every way a bundle file can be bad."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

import swerve
from swerve.bundle import Bundle, DataSpec, LatentSpec, resolve_class
from swerve.errors import BundleError
from tests.conftest import tiny_image_bundle


def _files(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())}


def test_round_trip_is_bit_exact(tmp_path):
    original = tiny_image_bundle()
    first = original.save(tmp_path / "a")
    loaded = swerve.load(first, device="cpu")
    second = loaded.save(tmp_path / "b")
    assert _files(first) == _files(second)
    for role, net in original.networks.items():
        theirs = loaded.networks[role].state_dict()
        for key, value in net.state_dict().items():
            assert torch.equal(value, theirs[key]), (role, key)
    a = original.sample(6, seed=3)
    b = loaded.sample(6, seed=3)
    assert torch.equal(a.x, b.x) and torch.equal(a.labels, b.labels)


def test_config_records_what_the_issue_asks_for(tiny_bundle):
    config = json.loads((tiny_bundle / "config.json").read_text())
    assert config["format"] == "swerve-bundle" and config["format_version"] == 1
    assert config["swerve_version"] == swerve.__version__
    gen = config["networks"]["generator"]
    assert gen["class"] == "swerve.models.dcgan:DCGANGenerator"
    assert gen["kwargs"]["num_classes"] == 3 and len(gen["sha256"]) == 64
    assert config["data"]["shape"] == [1, 8, 8] and config["data"]["classes"] == ["a", "b", "c"]
    assert config["latent"] == {"dim": 8, "distribution": "normal"}
    assert config["history"][0]["op"] == "train"
    assert sorted(p.name for p in tiny_bundle.iterdir()) == sorted(
        [
            "config.json",
            "generator.safetensors",
            "discriminator.safetensors",
            "encoder.safetensors",
            "classifier.safetensors",
        ]
    )


class Doubler(torch.nn.Module):
    """A user's own generator, rebuilt from init_kwargs: swerve did not write it."""

    def __init__(self, dim: int = 2) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(dim, dim)

    def forward(self, z):
        return 2 * self.lin(z)


def test_foreign_module_by_import_path(tmp_path):
    net = Doubler(dim=3)
    net.init_kwargs = {"dim": 3}
    bundle = Bundle({"generator": net}, DataSpec(shape=[3]), LatentSpec(3), name="mine")
    path = bundle.save(tmp_path / "mine")
    config = json.loads((path / "config.json").read_text())
    assert config["networks"]["generator"]["class"] == "tests.test_bundle:Doubler"
    with pytest.raises(BundleError, match="trust=\\['tests.test_bundle'\\]"):
        swerve.load(path, device="cpu")  # a user's class is built only when the user says so
    loaded = swerve.load(path, device="cpu", trust=["tests.test_bundle"])
    assert isinstance(loaded.generator, Doubler)
    assert torch.equal(loaded.sample(4, seed=1).x, bundle.sample(4, seed=1).x)
    # plain torch modules work too, once trusted
    lin = torch.nn.Linear(2, 2)
    lin.init_kwargs = {"in_features": 2, "out_features": 2}
    again = swerve.load(
        Bundle({"generator": lin}, DataSpec([2]), LatentSpec(2)).save(tmp_path / "lin"), "cpu", ["torch.nn"]
    )
    assert torch.equal(again.generator.weight, lin.weight)


def test_refuses_to_build_anything_but_a_module():
    with pytest.raises(BundleError, match="not a torch.nn.Module"):
        resolve_class("os:system", trust=["os"])
    with pytest.raises(BundleError, match="cannot be imported"):
        resolve_class("no_such_package.x:Y", trust=["no_such_package"])
    with pytest.raises(BundleError, match="form"):
        resolve_class("justaname")


def test_sampling_is_seeded_and_labels_are_checked():
    bundle = tiny_image_bundle()
    assert torch.equal(bundle.sample(5, seed=7).x, bundle.sample(5, seed=7).x)
    assert not torch.equal(bundle.sample(5, seed=7).x, bundle.sample(5, seed=8).x)
    assert bundle.sample(5, labels=2).labels.tolist() == [2] * 5
    with pytest.raises(BundleError, match="labels must lie"):
        bundle.sample(2, labels=[0, 5])
    with pytest.raises(BundleError, match="unconditional"):
        tiny_image_bundle(conditional=False).sample(2, labels=1)


# --- bad bundles -------------------------------------------------------------------------------------------
def test_missing_bundle(tmp_path):
    with pytest.raises(BundleError, match="no bundle at"):
        swerve.load(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BundleError, match="has no config.json"):
        swerve.load(tmp_path / "empty")


def test_truncated_weights_are_reported_by_name(tiny_bundle):
    file = tiny_bundle / "generator.safetensors"
    file.write_bytes(file.read_bytes()[:100])
    with pytest.raises(BundleError, match="generator.safetensors is corrupt"):
        swerve.load(tiny_bundle)
    # without the recorded checksum, the safetensors parser itself must refuse it
    config = json.loads((tiny_bundle / "config.json").read_text())
    del config["networks"]["generator"]["sha256"]
    (tiny_bundle / "config.json").write_text(json.dumps(config))
    with pytest.raises(BundleError, match="generator.safetensors is not a readable safetensors file"):
        swerve.load(tiny_bundle)


def test_foreign_safetensors_file(tiny_bundle):
    config = json.loads((tiny_bundle / "config.json").read_text())
    del config["networks"]["discriminator"]["sha256"]
    (tiny_bundle / "config.json").write_text(json.dumps(config))
    save_file({"some.other.weight": torch.zeros(3)}, tiny_bundle / "discriminator.safetensors")
    with pytest.raises(BundleError, match="does not fit swerve.models.dcgan:DCGANDiscriminator"):
        swerve.load(tiny_bundle)


def test_bad_config_json(tiny_bundle):
    (tiny_bundle / "config.json").write_text("{ not json")
    with pytest.raises(BundleError, match="not valid JSON"):
        swerve.load(tiny_bundle)
    (tiny_bundle / "config.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(BundleError, match="not a swerve bundle config"):
        swerve.load(tiny_bundle)
    (tiny_bundle / "config.json").write_text(json.dumps({"format": "swerve-bundle", "format_version": 99}))
    with pytest.raises(BundleError, match="upgrade swerve"):
        swerve.load(tiny_bundle)


def test_config_value_of_wrong_type_in_bundle(tiny_bundle):
    config = json.loads((tiny_bundle / "config.json").read_text())
    config["networks"]["generator"]["kwargs"]["width"] = "wide"
    (tiny_bundle / "config.json").write_text(json.dumps(config))
    with pytest.raises(BundleError, match="width must be a positive integer"):
        swerve.load(tiny_bundle)


def test_failed_save_keeps_the_old_bundle(tmp_path, monkeypatch):
    path = tiny_image_bundle().save(tmp_path / "b")
    before = _files(path)
    import swerve.bundle as bundle_module

    calls = []

    def failing_save(state, file):
        calls.append(file)
        if len(calls) == 2:
            raise OSError("disk full")
        save_file(state, file)

    monkeypatch.setattr(bundle_module, "save_file", failing_save)
    with pytest.raises(OSError):
        tiny_image_bundle().save(path)
    assert _files(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]  # no temporary directory left behind

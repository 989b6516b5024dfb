"""Opening a bundle runs no code from it, reads no file outside it, and a bad config.json is one line."""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

import pytest
import torch

import swerve
from swerve import bundle as bundle_module
from swerve.errors import BundleError
from tests.conftest import tiny_image_bundle
from tests.odd_generator import odd_bundle

PAYLOAD = "import pathlib\npathlib.Path({marker!r}).write_text('ran')\nimport torch\nGen = torch.nn.Linear\n"


def _with_class(path: Path, cls: str) -> Path:
    config = json.loads((path / "config.json").read_text())
    config["networks"]["generator"]["class"] = cls
    (path / "config.json").write_text(json.dumps(config))
    return path


@pytest.fixture
def hostile(tmp_path, monkeypatch) -> tuple[Path, Path]:
    """A bundle folder holding payload.py and evil/payload.py, importable from the folder and the cwd."""
    path = tiny_image_bundle().save(tmp_path / "hostile")
    marker = tmp_path / "marker"
    (path / "payload.py").write_text(PAYLOAD.format(marker=str(marker)))
    (path / "evil").mkdir()
    (path / "evil" / "__init__.py").write_text(PAYLOAD.format(marker=str(marker)))
    (path / "evil" / "payload.py").write_text(PAYLOAD.format(marker=str(marker)))
    monkeypatch.chdir(path)
    monkeypatch.syspath_prepend(str(path))
    monkeypatch.syspath_prepend("")
    return path, marker


@pytest.mark.parametrize("cls", ["payload:Gen", "evil.payload:Gen", "antigravity:X", "os:system"])
def test_an_untrusted_class_is_refused_before_any_import(hostile, cls: str, cli) -> None:
    path, marker = hostile
    _with_class(path, cls)
    module = cls.partition(":")[0]
    loaded_before = module in sys.modules
    with pytest.raises(BundleError, match=f"'{cls}' is not from a trusted module.*--trust {module}"):
        swerve.load(path)
    code, out, err = cli("info", path)
    assert code == 2 and err.count("\n") == 1 and "SWERVE_TRUST" in err and "Traceback" not in err
    assert not marker.exists() and (module in sys.modules) == loaded_before


def test_a_trusted_name_is_still_never_imported_from_the_bundles_folder(hostile) -> None:
    path, marker = hostile
    _with_class(path, "payload:Gen")
    with pytest.raises(BundleError, match="bundle's own folder"):
        swerve.load(path, trust=["payload"])
    assert not marker.exists() and "payload" not in sys.modules


def test_a_trusted_module_is_accepted_by_argument_environment_trust_and_cli(tmp_path, monkeypatch, cli):
    path = odd_bundle().save(tmp_path / "odd")
    with pytest.raises(BundleError, match="not from a trusted module"):
        swerve.load(path)
    x = odd_bundle().sample(2, seed=1).x
    assert torch.equal(swerve.load(path, trust=["tests.odd_generator"]).sample(2, seed=1).x, x)
    assert swerve.load(path, trust=["tests"]).name == "odd"  # a package covers its submodules
    with pytest.raises(BundleError, match="not from a trusted module"):
        swerve.load(path, trust=["tests.odd"])  # a name prefix is not a parent module
    monkeypatch.setenv("SWERVE_TRUST", "nothing.here, tests.odd_generator")
    assert swerve.load(path).name == "odd"
    monkeypatch.delenv("SWERVE_TRUST")
    code, out, err = cli("--trust", "tests.odd_generator", "info", path)
    assert code == 0 and "tests.odd_generator:OddGenerator" in out, err
    bundle_module.trust("tests.odd_generator")
    assert swerve.load(path).name == "odd" and "tests.odd_generator" in os.environ["SWERVE_TRUST"]
    code, _, err = cli("--trust", "not a module", "info", path)
    assert code == 2 and "not a module name" in err


def test_a_class_reached_through_a_trusted_module_but_defined_elsewhere_is_refused(tiny_bundle) -> None:
    _with_class(tiny_bundle, "swerve.models.dcgan:nn.Linear")
    with pytest.raises(BundleError, match="defined in torch.nn.modules.linear, which is not trusted"):
        swerve.load(tiny_bundle)


@pytest.mark.parametrize("where", ["../other/generator.safetensors", "/abs", "link"])
def test_a_weights_file_outside_the_bundle_is_refused(tmp_path, where: str) -> None:
    path = tiny_image_bundle().save(tmp_path / "b")
    other = tiny_image_bundle().save(tmp_path / "other")
    target = str(other / "generator.safetensors") if where == "/abs" else where
    if where == "link":
        os.symlink(other / "generator.safetensors", path / "link")
    config = json.loads((path / "config.json").read_text())
    config["networks"]["generator"]["file"] = target
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(BundleError, match="outside the bundle's folder"):
        swerve.load(path)


BAD_CONFIGS = {
    "format_version abc": (("format_version",), "abc"),
    "format_version null": (("format_version",), None),
    "format_version Infinity": (("format_version",), math.inf),
    "format_version 1.5": (("format_version",), 1.5),
    "format_version true": (("format_version",), True),
    "networks abc": (("networks",), "abc"),
    "networks empty": (("networks",), {}),
    "network not an object": (("networks", "generator"), "abc"),
    "class not a string": (("networks", "generator", "class"), 3),
    "kwargs a list": (("networks", "generator", "kwargs"), [1]),
    "file a number": (("networks", "generator", "file"), 7),
    "sha256 short": (("networks", "generator", "sha256"), "abc"),
    "data abc": (("data",), "abc"),
    "data shape abc": (("data", "shape"), "abc"),
    "data shape negative": (("data", "shape"), [1, -8, 8]),
    "data range NaN": (("data", "range"), [-1, math.nan]),
    "data range backwards": (("data", "range"), [1, -1]),
    "data unknown field": (("data", "colour"), "red"),
    "latent abc": (("latent",), "abc"),
    "latent dim text": (("latent", "dim"), "8"),
    "latent dim zero": (("latent", "dim"), 0),
    "latent distribution": (("latent", "distribution"), "cauchy"),
    "extra abc": (("extra",), "abc"),
    "history object": (("history",), {}),
    "name number": (("name",), 3),
    "latent dim 5 for a generator of 8": (("latent", "dim"), 5),
}


@pytest.mark.parametrize("case", list(BAD_CONFIGS))
def test_a_malformed_config_is_one_line(tiny_bundle, cli, case: str) -> None:
    keys, value = BAD_CONFIGS[case]
    config = json.loads((tiny_bundle / "config.json").read_text())
    node = config
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value
    (tiny_bundle / "config.json").write_text(json.dumps(config))
    with pytest.raises(BundleError, match="config.json"):
        swerve.load(tiny_bundle)
    code, out, err = cli("info", tiny_bundle)
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err


def test_a_latent_size_the_generator_cannot_read_is_refused_at_load(tmp_path) -> None:
    path = tiny_image_bundle().save(tmp_path / "tiny")
    config = json.loads((path / "config.json").read_text())
    config["latent"]["dim"] = 5
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(BundleError, match="latent.dim is 5, but the generator reads latent_dim = 8"):
        swerve.load(path)
    odd = odd_bundle().save(tmp_path / "odd")  # no config dataclass: found by running it once
    config = json.loads((odd / "config.json").read_text())
    config["latent"]["dim"] = 4
    (odd / "config.json").write_text(json.dumps(config))
    with pytest.raises(BundleError, match="cannot read latents of dimension 4"):
        swerve.load(odd, trust=["tests.odd_generator"])

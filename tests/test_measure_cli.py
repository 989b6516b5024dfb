"""``swerve scan`` and ``swerve measure`` (the divergence map), on tiny models and files."""

from __future__ import annotations

import json

import numpy as np
import torch

from swerve.measure import register_extractor
from swerve.measure.divergence import divergence_map, parse_ops, write_map
from tests.conftest import tiny_image_bundle


def test_scan_bundle_and_sample_files(cli, tiny_bundle, tmp_path):
    code, out, err = cli(
        "scan", tiny_bundle, "--background", tiny_bundle, "--n", 40, "--restarts", 2, "--json"
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["layer"] == "blocks.0" and len(result["individual"]["scores"]) == 40
    assert 0 <= result["alpha"] <= 0.5 and len(result["samples"]) <= 40
    # Files: a block of bright pixels in a few test images is found in pixel space.
    gen = torch.Generator().manual_seed(0)
    bg = torch.rand(80, 1, 8, 8, generator=gen) * 2 - 1
    test = torch.rand(30, 1, 8, 8, generator=gen) * 2 - 1
    test[:6, :, :3, :3] = 1.0
    np.savez(tmp_path / "bg.npz", x=bg.numpy())
    np.savez(tmp_path / "test.npz", x=test.numpy())
    code, out, err = cli(
        "scan",
        tmp_path / "test.npz",
        "--background",
        tmp_path / "bg.npz",
        "--layer",
        "pixels",
        "--out",
        tmp_path / "scan.json",
        "--json",
    )
    assert code == 0, err
    full = json.loads((tmp_path / "scan.json").read_text())
    assert set(range(6)) <= set(full["samples"]) and len(full["samples"]) <= 10
    assert {0, 1, 2, 8, 9, 10, 16, 17, 18} <= set(full["nodes"])  # the 3 x 3 corner of an 8 x 8 image
    code, _, err = cli(
        "scan", tmp_path / "test.npz", "--background", tmp_path / "bg.npz", "--layer", "blocks.0"
    )
    assert code == 2 and "--model" in err
    code, _, err = cli(
        "scan", tmp_path / "missing.npz", "--background", tmp_path / "bg.npz", "--layer", "pixels"
    )
    assert code == 2 and "missing.npz" in err
    code, _, err = cli("scan", tmp_path / "test.npz", "--layer", "pixels")
    assert code == 2 and "--background" in err


def test_scan_without_background_compares_a_bundle_with_its_own_samples(cli, tiny_bundle):
    code, out, err = cli("scan", tiny_bundle, "--n", 40, "--restarts", 2, "--seed", 3, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["background"]["seed"] == 4 and result["test"]["seed"] == 3
    assert result["background"]["bundle"] == result["test"]["bundle"] == str(tiny_bundle)


def test_divergence_map_rows_plot_and_table(tmp_path):
    bundle = tiny_image_bundle(conditional=False)
    register_extractor("tiny-flat", lambda: torch.nn.Flatten(), datasets=("tiny",))
    reference = torch.rand(60, 1, 8, 8, generator=torch.Generator().manual_seed(1)) * 2 - 1
    rows = divergence_map([bundle], ["none", "creative:fraction=0,1"], reference, n=30, seed=0)
    assert [r["label"] for r in rows] == ["none", "creative fraction=0", "creative fraction=1"]
    assert all(r["n"] == 30 and r["features_extractor"] == "tiny-flat" for r in rows)
    assert rows[1]["novelty"] == rows[0]["novelty"]  # fraction 0 is the plain decoder
    assert rows[2]["novelty"] != rows[0]["novelty"]  # co-activating the weak half changes the samples
    files = write_map(rows, tmp_path / "map.png")
    assert (tmp_path / "map.png").stat().st_size > 0
    assert json.loads((tmp_path / "map.json").read_text()) == rows
    assert (tmp_path / "map.csv").read_text().splitlines()[0].startswith("bundle,op,param,value,label")
    assert files["csv"].endswith("map.csv")


def test_bad_operations_are_one_line_errors(cli, tiny_bundle):
    import pytest

    from swerve.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown operation"):
        parse_ops(["melt"])
    with pytest.raises(ConfigError, match="no parameter"):
        parse_ops(["creative:colour=1"])
    with pytest.raises(ConfigError, match="param=v1"):
        parse_ops(["creative:fraction"])
    with pytest.raises(ConfigError, match="amount"):
        parse_ops(["glitch:zero:level=1"])
    labels = [p.label for p in parse_ops(["glitch:gaussian:amount=0.1,0.3", "bend:scale:factor=2@blocks.0"])]
    assert labels == [
        "glitch gaussian amount=0.1",
        "glitch gaussian amount=0.3",
        "bend scale@blocks.0 factor=2",
    ]
    code, _, err = cli("measure", tiny_bundle, "--ops", "none")
    assert code == 2 and err.startswith("error:") and len(err.strip().splitlines()) == 1


def test_scan_json_keeps_the_layer_size_apart_from_the_subset_and_is_strict_at_alpha_max_one(
    cli, tiny_bundle, tmp_path
):
    """``nodes`` (the layer's node count) was overwritten by the subset's indices; at --alpha-max 1 the
    scan failed (fractional ties) and could print "score": Infinity."""
    import swerve
    from swerve.measure.scan.activations import sample_activations
    from tests.test_json_output import strict_loads

    layer_nodes = sample_activations(swerve.load(tiny_bundle), 2, ["blocks.0"])[1]["blocks.0"].shape[1]
    for alpha_max in ("0.5", "1"):
        out = tmp_path / f"scan-{alpha_max}.json"
        args = ("scan", tiny_bundle, "--n", 30, "--restarts", 2, "--alpha-max", alpha_max, "--json")
        code, printed, err = cli(*args)
        assert code == 0, err
        result = strict_loads(printed)
        assert result["n_nodes"] == layer_nodes and result["n_samples"] == 30
        assert isinstance(result["nodes"], list) and all(0 <= i < result["n_nodes"] for i in result["nodes"])
        assert isinstance(result["samples"], list) and all(0 <= i < 30 for i in result["samples"])
        assert result["score"] >= 0 and 0 <= result["alpha"] <= float(alpha_max)
        code, printed, err = cli(*args, "--out", out)
        assert code == 0, err
        summary, full = strict_loads(printed), strict_loads(out.read_text())
        assert summary["n_nodes"] == full["n_nodes"] == layer_nodes and full["nodes"] == result["nodes"]
        assert summary["subset_nodes"] == len(full["nodes"])

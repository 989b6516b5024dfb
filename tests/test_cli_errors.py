"""Bad input to the bend, blend, glitch, rewrite, refine, ratio, sweep and train commands: one line, exit 2,
and nothing of the user's lost or half-written."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from swerve.errors import ConfigError, SwerveError


def _one_line_error(code: int, err: str, *words: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    for word in words:
        assert word in lines[0], err


@pytest.mark.parametrize(
    "args",
    [
        ("glitch", "fashion-gan"),
        ("blend", "fashion-gan", "fashion-gan"),
        ("bend", "fashion-gan", "--bend", "conv:0 multiply factor=2"),
        ("clusters", "fashion-gan", "--layer", "conv:0", "--n", "8", "--no-progress"),
        ("rewrite", "fashion-gan", "--n", "8", "--no-progress"),
        ("ratio", "gaussians25-wgangp", "--steps", "1", "--batch-size", "4"),
    ],
)
def test_a_bundle_never_replaces_a_folder_that_is_not_one(cli, tmp_path, args) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "keep.txt").write_text("precious")
    code, _, err = cli(*args, "--out", folder)
    _one_line_error(code, err, "swerve did not write", "--overwrite")
    assert (folder / "keep.txt").read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos"]  # no temp folder left behind


def test_a_bundle_is_not_saved_over_a_file(cli, tmp_path) -> None:
    target = tmp_path / "notes.png"
    target.write_bytes(b"mine")
    code, _, err = cli("glitch", "fashion-gan", "--out", target)
    _one_line_error(code, err, "is a file")
    assert target.read_bytes() == b"mine"


@pytest.mark.parametrize("device", ["banana", "cuda:7"])
def test_an_unknown_or_absent_device_is_one_line(cli, tmp_path, device) -> None:
    import torch

    if device.startswith("cuda") and torch.cuda.device_count() > 7:
        pytest.skip("this machine has that GPU")
    code, _, err = cli("bend", "fashion-gan", "--bend", "conv:0 multiply", "--device", device)
    _one_line_error(code, err, repr(device))


@pytest.mark.parametrize("mode", ["merge", "predict"])
def test_blend_weights_that_are_not_numbers(cli, tmp_path, mode) -> None:
    code, _, err = cli(
        "blend", "fashion-gan", "fashion-gan", "--mode", mode, "--weights", "a,b",
        "--out", tmp_path / "b", "--preview", tmp_path / "p.png",
    )  # fmt: skip
    _one_line_error(code, err, "--weights", "'a,b'")


@pytest.mark.parametrize(
    "args, words",
    [
        (("glitch", "fashion-gan", "--amount", "inf"), ("finite", "inf")),
        (("blend", "fashion-gan", "fashion-gan", "--mode", "task", "--lam", "nan"), ("finite", "nan")),
        (("clusters", "fashion-gan", "--layer", "conv:0", "--k", "0"), ("k must be", ">= 1", "got 0")),
        (("rewrite", "gaussians25-wgangp"), ("not images",)),
        (("rewrite", "fashion-gan", "--source", "1", "--target", "1"), ("different",)),
        (("rewrite", "fashion-gan", "--preview", "before-after.jpg"), ("--preview", ".png")),
        (("glitch", "fashion-gan", "--preview", "glitched.txt"), ("--preview", ".png")),
        (("bend", "fashion-gan", "--bend", "conv:0 multiply", "--sweep", "factor=1:2"), ("--sweep", ".gif")),
        (("bend", "fashion-gan", "--bend", "conv:0 multiply @fraction=0.5 @seed=-1"), ("seed", ">= 0")),
        (("glitch", "fashion-gan", "--amount", "1e300"), ("non-finite",)),
        (("blend", "fashion-gan", "fashion-gan", "--alpha", "1e308"), ("alpha", "1e+308")),
        (("blend", "fashion-gan", "fashion-gan", "--pivot", "-1"), ("pivot", "got -1")),
        (("refine", "fashion-gan", "--method", "drs", "--set", "gamma=nan"), ("gamma", "'nan'")),
        (("refine", "gaussians25-wgangp", "--n", "2", "--set", "reverse=x"), ("reverse", "true or false")),
        (("refine", "fashion-gan", "--n", "2", "--method", "ddls", "--set", "decay=x"), ("decay", "'x'")),
        (
            ("refine", "gaussians25-wgangp", "--n", "2", "--set", "steps=1", "--set", "eta=1e308"),
            ("diverged",),
        ),
        (("glitch", "fashion-gan", "--seed", "-1"), ("--seed", "greater than or equal to 0")),
        (
            ("refine", "gaussians25-wgangp", "--critic", "class:0", "--classifier", "fashion-classifier"),
            ("shape",),
        ),
        (("refine", "fashion-gan", "--critic", "class:10", "--classifier", "fashion-classifier"), ("'10'",)),
    ],
)
def test_nonsense_values_are_refused_before_any_work(cli, tmp_path, monkeypatch, args, words) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = cli(*args)
    _one_line_error(code, err, *words)
    assert list(tmp_path.iterdir()) == []  # nothing written, not even a bundle before a bad --preview


@pytest.mark.parametrize("command", ["bend", "sweep"])
def test_a_broken_yaml_file_is_one_line(cli, tmp_path, command) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("bends: [\n  {layer: conv:0\n")
    args = ("bend", "fashion-gan", "--config", broken) if command == "bend" else ("sweep", broken)
    code, _, err = cli(*args)
    _one_line_error(code, err, "broken.yaml", "not valid")


def test_config_files_with_misplaced_values(cli, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("bends.yaml").write_text("bends:\n  - {layer: conv:0, transform: multiply, params: 3}\n")
    code, _, err = cli("bend", "fashion-gan", "--config", "bends.yaml")
    _one_line_error(code, err, "params must be a mapping")
    Path("sweep.yaml").write_text(
        "name: ../../elsewhere\nbundle: fashion-gan\njobs:\n  - operation: sample\n"
    )
    code, _, err = cli("sweep", "sweep.yaml", "--no-progress")
    _one_line_error(code, err, "name", "'../../elsewhere'")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bends.yaml", "sweep.yaml"]


def test_accelerate_launch_checks_the_config_first(cli) -> None:
    code, _, err = cli("train", "--launcher", "accelerate", "--processes", "1", "--preset", "nope")
    _one_line_error(code, err, "no preset 'nope'")  # here, not once per launched process


def test_previews_carry_their_recipe_and_seed(cli, tmp_path) -> None:
    preview = tmp_path / "glitched.png"
    code, _, err = cli("glitch", "fashion-gan", "--seed", "3", "--out", tmp_path / "g", "--preview", preview)
    assert code == 0, err
    record = json.loads(preview.with_name("glitched.png.json").read_text())
    assert record["seed"] == 0 and record["n"] == 16
    assert record["history"][-1]["op"] == "glitch" and record["history"][-1]["params"]["seed"] == 3


def test_the_python_api_rejects_the_same_values() -> None:
    import torch

    import swerve
    from swerve.bundle import check_bundle_target
    from swerve.diverge.bend import bend_bundle
    from swerve.diverge.blend import blend_predictions, resolution_schedule, task_arithmetic_state_dicts
    from swerve.diverge.clusters import cluster_bundle
    from swerve.diverge.glitch import glitch_state_dict
    from swerve.diverge.rewrite import paste_rewrite
    from swerve.refine import fit_ratio
    from swerve.utils import pick_device

    bundle = swerve.load("fashion-gan", device="cpu")
    state = bundle.generator.state_dict()
    with pytest.raises(ConfigError, match="unknown device"):
        pick_device("banana")
    with pytest.raises(ConfigError, match="finite"):
        glitch_state_dict(bundle.generator, "gaussian", math.inf)
    with pytest.raises(ConfigError, match="finite"):
        task_arithmetic_state_dicts(state, [state], math.nan)
    with pytest.raises(SwerveError, match="is a file"):
        check_bundle_target(__file__)
    with pytest.raises(ConfigError, match="pivot position"):
        resolution_schedule(["a", "b", "c"], 5)
    with pytest.raises(ConfigError, match="positive integer"):
        bundle.sample(0)
    with pytest.raises(ConfigError, match="positive integer"):
        cluster_bundle(bundle, ["conv:0"], n=0)
    with pytest.raises(ConfigError, match="k must be"):
        cluster_bundle(bundle, ["conv:0"], k=2.5, n=8)
    with pytest.raises(ConfigError, match="positive integer"):
        paste_rewrite(bundle, "conv:0", 0, 1, torch.ones(28, 28), n=0)
    with pytest.raises(ConfigError, match="finite"):
        z = torch.randn(2, bundle.latent.dim)
        blend_predictions([bundle.generator] * 2, [math.nan, 1.0], z, torch.zeros(2, dtype=torch.long))
    with pytest.raises(ConfigError, match="bends must be a list"):
        bend_bundle(bundle, None)
    toy = swerve.load("gaussians25-wgangp", device="cpu")
    with pytest.raises(ConfigError, match="NaN"):
        fit_ratio(toy, torch.full((64, 2), math.nan), None, steps=1, batch_size=4)
    # a tiny width is a hard swap, not an overflow
    assert resolution_schedule(["a", "b", "c"], 0.5, width=1e-300) == {"a": 0.0, "b": 1.0, "c": 1.0}

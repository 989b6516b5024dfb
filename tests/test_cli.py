"""The command line: results with their records, --json, and one clear line for every bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

import swerve


def _no_traceback(err: str) -> None:
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err


def test_sample_grid_records_seed_and_config(cli, tiny_bundle, tmp_path):
    out = tmp_path / "grid.png"
    code, stdout, _ = cli("sample", tiny_bundle, "--out", out, "--n", 6, "--seed", 4, "--json")
    assert code == 0
    result = json.loads(stdout)
    assert result["seed"] == 4 and result["n"] == 6
    record = json.loads((tmp_path / "grid.png.json").read_text())
    assert record["seed"] == 4 and record["history"][0]["op"] == "train"
    assert Image.open(out).size[0] >= 256


def test_sample_npz_is_reproducible(cli, tiny_bundle, tmp_path):
    for name in ("a.npz", "b.npz"):
        assert cli("sample", tiny_bundle, "--out", tmp_path / name, "--n", 5, "--seed", 9)[0] == 0
    a, b = np.load(tmp_path / "a.npz"), np.load(tmp_path / "b.npz")
    assert a["x"].shape == (5, 1, 8, 8) and np.array_equal(a["x"], b["x"])
    assert json.loads(str(a["recipe"]))["seed"] == 9
    expected = swerve.load(tiny_bundle, device="cpu").sample(5, seed=9).x.numpy()
    assert np.array_equal(a["x"], expected)


def test_sample_labelled_image_folder(cli, tiny_bundle, tmp_path):
    out = tmp_path / "augment"
    assert cli("sample", tiny_bundle, "--out", out, "--per-class", 4)[0] == 0
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["a", "b", "c"]
    assert all(len(list((out / c).glob("*.png"))) == 4 for c in "abc")
    # the folder reads back as a labelled dataset with swerve's own loader
    data = swerve.data.load_dataset(f"folder:{out}", image_size=8, progress=False)
    assert data.classes == ["a", "b", "c"] and len(data) == 12


def test_sample_by_class_name(cli, tiny_bundle, tmp_path):
    code, stdout, _ = cli(
        "sample", tiny_bundle, "--out", tmp_path / "b.npz", "--n", 3, "--class", "b", "--json"
    )
    assert code == 0
    assert np.load(tmp_path / "b.npz")["labels"].tolist() == [1, 1, 1]


def test_walk_gif(cli, tiny_bundle, tmp_path):
    out = tmp_path / "walk.gif"
    code, stdout, _ = cli("walk", tiny_bundle, "--out", out, "--points", 3, "--frames", 4, "--json")
    assert code == 0
    assert json.loads(stdout)["total_frames"] == 12
    assert Image.open(out).n_frames >= 2
    assert json.loads((tmp_path / "walk.gif.json").read_text())["points"] == 3


def test_info(cli, tiny_bundle):
    code, stdout, _ = cli("info", tiny_bundle, "--json")
    assert code == 0
    info = json.loads(stdout)
    assert info["networks"]["generator"]["class"] == "swerve.models.dcgan:DCGANGenerator"
    assert info["networks"]["generator"]["parameters"] > 0
    code, stdout, _ = cli("info", tiny_bundle)
    assert "generator" in stdout and "classes        a, b, c" in stdout


def test_train_from_a_config_file_then_resume(cli, tmp_path):
    cfg = tmp_path / "run.yaml"
    cfg.write_text(
        "dataset: digits\nkind: vae\nwidth: 4\nlatent_dim: 4\nsteps: 4\nbatch_size: 16\n"
        "sample_every: 0\ncheckpoint_every: 2\nlog_every: 2\n"
    )
    out = tmp_path / "run"
    code, stdout, _ = cli("train", cfg, "--out", out, "--no-progress", "--json")
    assert code == 0 and json.loads(stdout)["step"] == 4
    assert swerve.load(out / "bundle").data.dataset == "digits"
    code, _, err = cli("train", cfg, "--out", out, "--no-progress")
    assert code == 2 and "already holds a run" in err
    code, stdout, _ = cli("train", cfg, "--out", out, "--resume", "--steps", 6, "--no-progress", "--json")
    assert code == 0 and json.loads(stdout)["step"] == 6
    code, stdout, _ = cli(
        "train",
        cfg,
        "--out",
        tmp_path / "other",
        "--set",
        "lr_g=1e-4",
        "--set",
        "betas=[0.0, 0.99]",
        "--steps",
        1,
        "--no-progress",
        "--json",
    )
    assert code == 0 and json.loads(stdout)["config"]["lr_g"] == 1e-4
    assert json.loads(stdout)["config"]["betas"] == [0.0, 0.99]


# --- bad input: one line, exit code 2, no traceback, no partial output -----------------------------------
def test_missing_bundle(cli, tmp_path):
    code, _, err = cli("info", tmp_path / "nowhere")
    assert code == 2 and "no bundle at" in err
    _no_traceback(err)


def test_corrupt_bundle(cli, tiny_bundle, tmp_path):
    weights = tiny_bundle / "generator.safetensors"
    weights.write_bytes(weights.read_bytes()[:-10])
    out = tmp_path / "grid.png"
    code, _, err = cli("sample", tiny_bundle, "--out", out)
    assert code == 2 and "generator.safetensors is corrupt" in err
    _no_traceback(err)
    assert not out.exists()


def test_bad_output_suffix_leaves_nothing(cli, tiny_bundle, tmp_path):
    code, _, err = cli("sample", tiny_bundle, "--out", tmp_path / "grid.jpg2")
    assert code == 2 and "--out must end in" in err
    _no_traceback(err)
    assert list(tmp_path.iterdir()) == [tiny_bundle]


def test_bad_class_name(cli, tiny_bundle, tmp_path):
    code, _, err = cli("sample", tiny_bundle, "--out", tmp_path / "x.png", "--class", "zebra")
    assert code == 2 and "unknown class 'zebra'" in err
    _no_traceback(err)


def test_bad_config_values_on_the_command_line(cli, tmp_path):
    for args, message in [
        (("--preset", "digits-gan", "--set", "batch_size=-1"), "batch_size must be a positive integer"),
        (("--preset", "digits-gan", "--set", "lr_g=fast"), "lr_g must be a number"),
        (("--preset", "digits-gan", "--set", "objective=magic"), "objective must be one of"),
        (("--preset", "nonesuch"), "no preset 'nonesuch'"),
        ((str(tmp_path / "missing.yaml"),), "does not exist"),
    ]:
        code, _, err = cli("train", *args, "--out", tmp_path / "run", "--no-progress")
        assert code == 2 and message in err, (args, err)
        _no_traceback(err)
    assert not (tmp_path / "run").exists()


def test_dataset_that_does_not_match_the_model(cli, tmp_path):
    code, _, err = cli(
        "train",
        "--preset",
        "gaussians25-wgangp",
        "--set",
        "dataset=digits",
        "--out",
        tmp_path / "run",
        "--no-progress",
    )
    assert code == 2 and "arch 'mlp' models points" in err
    _no_traceback(err)
    assert not (tmp_path / "run").exists()


def test_unreadable_image_in_a_folder_dataset(cli, tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(4):
        Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(folder / f"ok{i}.png")
    (folder / "broken.png").write_bytes(b"\x89PNG not really")
    common = (
        "--preset",
        "digits-gan",
        "--set",
        f"dataset=folder:{folder}",
        "--set",
        "image_size=8",
        "--set",
        "conditional=false",
        "--set",
        "batch_size=2",
        "--steps",
        "1",
        "--no-progress",
    )
    code, _, err = cli("train", *common, "--set", "bad_images=raise", "--out", tmp_path / "strict")
    assert code == 2 and "broken.png" in err
    _no_traceback(err)
    assert not (tmp_path / "strict").exists()
    with pytest.warns(UserWarning, match="broken.png"):  # skipped, and said so by name
        code, _, err = cli("train", *common, "--out", tmp_path / "lenient")
    assert code == 0
    assert swerve.load(tmp_path / "lenient" / "bundle").training["dataset_size"] == 4


def test_usage_errors_are_one_line(cli, tiny_bundle):
    for args, message in [
        (("sample", tiny_bundle, "--n", "0"), "Invalid value for '--n'"),
        (("sample", tiny_bundle, "--bogus"), "No such option: --bogus"),
        (("nosuchcommand",), "No such command"),
    ]:
        code, _, err = cli(*args)
        assert code == 2 and message in err, (args, err)
        _no_traceback(err)

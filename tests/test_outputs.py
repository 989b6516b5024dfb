"""No command deletes what a user already had: every --out is checked before the work (swerve.outputs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from swerve.errors import SwerveError
from swerve.outputs import MARKER, check_output, claim_folder, output_kind
from swerve.utils import atomic_path


def _one_line_error(code: int, err: str, *words: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    for word in words:
        assert word in lines[0], err


def _user_folder(tmp_path: Path, name: str = "mine") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "t.txt").write_text("precious")
    return folder


# --- the rule itself ---------------------------------------------------------------------------------------
def test_atomic_path_never_replaces_a_folder_swerve_did_not_write(tmp_path) -> None:
    folder = _user_folder(tmp_path)
    with pytest.raises(SwerveError, match="did not write"), atomic_path(folder, kind="samples") as tmp:
        tmp.mkdir()
    with pytest.raises(SwerveError, match="is a folder"), atomic_path(folder) as tmp:
        tmp.write_text("x")
    assert (folder / "t.txt").read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]


def test_atomic_path_replaces_its_own_kind_of_folder_only(tmp_path, tiny_bundle) -> None:
    with pytest.raises(SwerveError, match="swerve bundle"), atomic_path(tiny_bundle, kind="samples") as tmp:
        tmp.mkdir()
    assert (tiny_bundle / "config.json").is_file()
    with atomic_path(tiny_bundle, kind="bundle") as tmp:
        tmp.mkdir()
        (tmp / "config.json").write_text('{"format": "swerve-bundle"}')
    assert output_kind(tiny_bundle) == "bundle"


def test_check_output_files_and_folders(tmp_path, tiny_bundle) -> None:
    mine = tmp_path / "grid.png"
    mine.write_bytes(b"mine")
    check_output(tmp_path / "new.png")  # nothing there: fine
    with pytest.raises(SwerveError, match="--overwrite"):
        check_output(mine)
    check_output(mine, overwrite=True)
    (tmp_path / "empty").mkdir()
    check_output(tmp_path / "empty", "samples")  # an empty folder loses nothing
    folder = _user_folder(tmp_path)
    for overwrite in (False, True):
        with pytest.raises(SwerveError, match="did not write"):
            check_output(folder, "bundle", overwrite)
        with pytest.raises(SwerveError, match="holds a swerve bundle"):
            check_output(tiny_bundle, "samples", overwrite)
        with pytest.raises(SwerveError, match="is a file"):
            check_output(mine, "bundle", overwrite)
    with pytest.raises(SwerveError, match="--overwrite"):
        check_output(tiny_bundle, "bundle")
    check_output(tiny_bundle, "bundle", overwrite=True)


def test_claim_folder_marks_a_new_folder_and_refuses_a_user_one(tmp_path) -> None:
    run = claim_folder(tmp_path / "run", "run")
    assert json.loads((run / MARKER).read_text())["kind"] == "run"
    (run / "stats.jsonl").write_text("{}\n")
    claim_folder(run, "run")  # the same kind again: a resumed run
    with pytest.raises(SwerveError, match="swerve run folder, not a sweep"):
        claim_folder(run, "sweep")
    with pytest.raises(SwerveError, match="did not write"):
        claim_folder(_user_folder(tmp_path), "run")
    assert not (tmp_path / "mine" / MARKER).exists()


# --- every command, pointed at a folder of the user's ----------------------------------------------------
FOLDER_COMMANDS = [
    ("sample", "fashion-gan", "--n", "4"),
    ("sample", "fashion-gan", "--n", "4", "--overwrite"),
    ("bend", "fashion-gan", "--bend", "conv:0 multiply factor=2", "--overwrite"),
    ("glitch", "fashion-gan", "--overwrite"),
    ("blend", "fashion-gan", "fashion-gan", "--overwrite"),
    ("ratio", "gaussians25-wgangp", "--steps", "1", "--overwrite"),
    ("import", __file__, "--overwrite"),
    ("zoo", "build", "digits-gan", "--overwrite"),
    ("train", "--preset", "digits-gan", "--steps", "1", "--no-progress"),
    ("finetune", "fashion-gan", "--method", "uncanny", "--steps", "1", "--no-progress"),
    ("finetune", "fashion-gan", "--method", "uncanny", "--resume", "--no-progress"),
    ("diverge", "iterate", "fashion-gan", "--no-progress"),
    ("diverge", "can", "--preset", "fashion-heldout-can", "--steps", "1", "--no-progress"),
    ("diverge", "nodata", "--steps", "1", "--no-progress"),
    ("demo",),
]


@pytest.mark.parametrize("args", FOLDER_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_no_command_writes_into_or_replaces_a_folder_of_the_users(cli, tmp_path, monkeypatch, args) -> None:
    monkeypatch.chdir(tmp_path)  # a default run folder would show up beside the user's
    folder = _user_folder(tmp_path)
    code, _, err = cli(*args, "--out", folder)
    _one_line_error(code, err, str(folder), "--overwrite")
    assert sorted(p.name for p in folder.iterdir()) == ["t.txt"]
    assert (folder / "t.txt").read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]  # no temp folder left behind


def test_sweeps_chains_and_trails_refuse_a_folder_of_the_users(cli, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    folder = _user_folder(tmp_path)
    spec = tmp_path / "s.yaml"
    spec.write_text("name: s\nbundle: fashion-gan\njobs: [{operation: sample}]\n")
    code, _, err = cli("sweep", spec, "--out", folder, "--no-progress")
    _one_line_error(code, err, str(folder))
    chain = tmp_path / "c.yaml"
    chain.write_text("- {op: glitch}\n")
    code, _, err = cli("chain", "fashion-gan", chain, "--out", tmp_path / "new", "--workdir", folder)
    _one_line_error(code, err, str(folder))
    code, _, err = cli("chain", "fashion-gan", chain, "--out", folder)
    _one_line_error(code, err, str(folder))
    code, _, err = cli("trail", "export", tmp_path / "run", "--step", "1", "--out", folder, "--overwrite")
    _one_line_error(code, err, str(folder))
    assert sorted(p.name for p in folder.iterdir()) == ["t.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml", "mine", "s.yaml"]


def test_sample_never_replaces_a_bundle(cli, tmp_path, tiny_bundle) -> None:
    before = sorted(p.name for p in tiny_bundle.iterdir())
    for extra in ((), ("--overwrite",)):
        code, _, err = cli("sample", tiny_bundle, "--n", "4", "--out", tiny_bundle, *extra)
        _one_line_error(code, err, "swerve bundle")
    assert sorted(p.name for p in tiny_bundle.iterdir()) == before


def test_a_sample_folder_is_replaced_only_with_overwrite(cli, tmp_path) -> None:
    out = tmp_path / "samples"
    assert cli("sample", "fashion-gan", "--n", "4", "--out", out)[0] == 0
    assert output_kind(out) == "samples" and (out / "swerve-samples.json").is_file()
    code, _, err = cli("sample", "fashion-gan", "--n", "2", "--out", out)
    _one_line_error(code, err, "--overwrite")
    assert json.loads((out / "swerve-samples.json").read_text())["n"] == 4
    assert cli("sample", "fashion-gan", "--n", "2", "--out", out, "--overwrite")[0] == 0
    assert json.loads((out / "swerve-samples.json").read_text())["n"] == 2


def test_a_bent_bundle_replaces_a_bundle_only_with_overwrite(cli, tmp_path, tiny_bundle) -> None:
    bend = ("bend", tiny_bundle, "--bend", "conv:0 multiply factor=2", "--out", tiny_bundle)
    code, _, err = cli(*bend)
    _one_line_error(code, err, "--overwrite")
    assert cli(*bend, "--overwrite")[0] == 0
    assert json.loads((tiny_bundle / "config.json").read_text())["history"][-1]["op"] == "bend"


# --- every command, pointed at a file of the user's ------------------------------------------------------
FILE_COMMANDS = [
    (("sample", "fashion-gan", "--n", "4", "--out"), "x.png", "x.png"),
    (("sample", "fashion-gan", "--n", "4", "--out"), "x.npz", "x.npz.json"),  # the record beside it
    (("walk", "fashion-gan", "--frames", "2", "--out"), "w.gif", "w.gif"),
    (("bend", "fashion-gan", "--bend", "conv:0 multiply factor=2", "--out"), "b.png", "b.png"),
    (("glitch", "fashion-gan", "--out", "{tmp}/g", "--preview"), "p.png", "p.png"),
    (("blend", "fashion-gan", "fashion-gan", "--out", "{tmp}/b", "--preview"), "p.png", "p.png.json"),
    (("rewrite", "fashion-gan", "--n", "8", "--out", "{tmp}/r", "--preview"), "p.png", "p.png"),
    (("refine", "fashion-gan", "--n", "4", "--out"), "r.png", "r.npz"),  # the arrays beside it
    (("diverge", "novelty", "fashion-gan", "--out"), "n.npz", "n.png"),
    (("diverge", "digits-not", "--out"), "d.npz", "d.npz"),
    (("scan", "fashion-gan", "--layer", "conv:0", "--out"), "s.json", "s.json"),
    (("measure", "fashion-gan", "--out"), "m.png", "m.csv"),
    (("chain", "fashion-gan", "{tmp}/c.yaml", "--out", "{tmp}/c", "--samples"), "c.png", "c.png"),
    (("glitch", "fashion-gan", "--out"), "g", "g"),  # a bundle is never saved over a file
    (("trail", "show", "{tmp}/run", "--out"), "t.png", "t-metrics.png"),
]


@pytest.mark.parametrize(("args", "out", "existing"), FILE_COMMANDS, ids=lambda a: str(a)[:40])
def test_no_command_replaces_a_file_of_the_users_without_overwrite(
    cli, tmp_path, monkeypatch, args, out, existing
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.yaml").write_text("- {op: glitch}\n")
    mine = tmp_path / existing
    mine.write_bytes(b"mine")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    code, _, err = cli(*args, tmp_path / out)
    _one_line_error(code, err, str(mine))
    assert mine.read_bytes() == b"mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted({"c.yaml", existing})


def test_overwrite_replaces_a_file(cli, tmp_path) -> None:
    mine = tmp_path / "x.png"
    mine.write_bytes(b"mine")
    code, _, err = cli("sample", "fashion-gan", "--n", "4", "--out", mine, "--overwrite")
    assert code == 0, err
    assert mine.read_bytes().startswith(b"\x89PNG")

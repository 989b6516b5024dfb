"""``swerve doctor``: what is present, what each thing enables, and the command that gets what is missing."""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def no_data(tmp_path, monkeypatch):
    """A machine where swerve finds no IDX data set anywhere it looks."""
    for name in ("SWERVE_FASHION_MNIST", "SWERVE_MNIST", "SWERVE_DATA"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SWERVE_SYSTEM_DATA", str(tmp_path / "system"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path


def _by_name(stdout: str) -> dict:
    return {item["name"]: item for item in json.loads(stdout)["checks"]}


def test_doctor_names_missing_data_and_the_command_that_gets_it(cli, no_data):
    code, stdout, _ = cli("doctor", "--json")
    assert code == 0
    checks = _by_name(stdout)
    fashion = checks["Fashion-MNIST"]
    assert not fashion["present"] and "apt-get install dataset-fashion-mnist" in fashion["get"]
    assert "download=True" in checks["MNIST"]["get"]
    assert "Fashion-MNIST" in json.loads(stdout)["missing"]
    assert {"fastapi", "uvicorn", "accelerate", "ray", "open_clip", "Chromium", "GPU"} <= set(checks)
    for item in checks.values():
        assert item["enables"] and (item["present"] or item["get"])


def test_doctor_finds_data_where_swerve_reads_it(cli, no_data, monkeypatch):
    folder = no_data / "fashion"
    folder.mkdir()
    for name in (
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ):
        (folder / (name + ".gz")).write_bytes(b"")
    monkeypatch.setenv("SWERVE_FASHION_MNIST", str(folder))
    checks = _by_name(cli("doctor", "--json")[1])
    assert checks["Fashion-MNIST"]["present"] and checks["Fashion-MNIST"]["found"] == str(folder)
    assert checks["Fashion-MNIST"]["get"] is None


def test_doctor_reports_a_missing_extra_and_its_install_command(cli, no_data, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a)
    )
    code, stdout, _ = cli("doctor")
    assert code == 0
    line = next(i for i, text in enumerate(stdout.splitlines()) if " ray " in text)
    assert stdout.splitlines()[line].startswith("missing")
    assert "pip install 'swerve[ray]'" in stdout.splitlines()[line + 1]
    assert "missing" in stdout.splitlines()[-1]


def test_doctor_looks_for_the_emoji_files_where_the_emoji_data_does(cli, no_data, monkeypatch):
    monkeypatch.setenv("SWERVE_EMOJI_FONT", str(no_data / "no-font.ttf"))
    checks = _by_name(cli("doctor", "--json")[1])
    assert not checks["emoji font"]["present"] and "fonts-noto-color-emoji" in checks["emoji font"]["get"]
    font = no_data / "font.ttf"
    font.write_bytes(b"")
    monkeypatch.setenv("SWERVE_EMOJI_FONT", str(font))
    assert _by_name(cli("doctor", "--json")[1])["emoji font"]["found"] == str(font)

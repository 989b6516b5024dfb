"""Help texts read whole at 80 columns: no command summary, option name or value cut off."""

from __future__ import annotations

import pytest
import typer

from swerve.cli.main import register_commands


def _command_paths() -> list[list[str]]:
    root = typer.main.get_command(register_commands())
    paths = [[]]
    for name, command in root.commands.items():
        paths.append([name])
        paths += [[name, sub] for sub in getattr(command, "commands", {})]
    return paths


@pytest.mark.parametrize("path", _command_paths(), ids=lambda p: " ".join(p) or "swerve")
def test_help_is_not_cut_at_80_columns(cli, monkeypatch, path):
    monkeypatch.setenv("COLUMNS", "80")
    code, stdout, _ = cli(*path, "--help")
    assert code == 0 and "Usage" in stdout
    for line in stdout.splitlines()[1:]:  # the usage line ends in "..." by design
        assert len(line) <= 80, line
        assert "…" not in line and not line.rstrip().endswith("..."), line

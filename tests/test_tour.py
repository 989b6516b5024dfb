"""The README's tour and the getting-started tutorial run as written: every ``swerve`` line of their command
blocks, in order, from an empty folder, ends with exit code 0, writes the files its --out and --preview name,
and says so in its output."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from swerve.data.idx import find_idx

ROOT = Path(__file__).resolve().parent.parent
SERVES = {"studio"}  # serves a page until stopped: the tour checks its arguments parse (--help)
NEEDS_FASHION = {"measure"}  # measures against real Fashion-MNIST test images
OUTPUTS = ("--out", "--preview")


def tour_commands(path: Path, heading: str) -> list[str]:
    """The ``swerve`` lines of the first bash block after ``heading`` (comments dropped)."""
    text = path.read_text()
    start = text.index(heading)
    block = re.search(r"```bash\n(.*?)```", text[start:], re.S)
    assert block, f"no bash block after {heading!r} in {path.name}"
    lines = [line.split(" #")[0].strip() for line in block.group(1).splitlines()]
    return [line for line in lines if line.startswith("swerve ")]


def _outputs(args: list[str]) -> list[str]:
    return [args[i + 1].rstrip("/") for i, arg in enumerate(args[:-1]) if arg in OUTPUTS]


def run_tour(cli, commands: list[str], folder: Path, monkeypatch) -> list[str]:
    monkeypatch.chdir(folder)
    fashion = find_idx("fashion-mnist", "test") is not None
    skipped = []
    for line in commands:
        args = shlex.split(line)[1:]
        if args[0] in NEEDS_FASHION and not fashion:
            skipped.append(f"{line}: Fashion-MNIST is not installed (swerve doctor)")
            continue
        if args[0] in SERVES:
            args = [*args, "--help"]
        code, stdout, stderr = cli(*args, *(["--no-progress"] if args[0] in ("train", "finetune") else []))
        assert code == 0, f"{line}\n{stderr}"
        for out in _outputs(args):
            assert (folder / out).exists(), f"{line} did not write {out}"
            assert out in stdout, f"{line} does not name {out} in its output:\n{stdout}"
    return skipped


@pytest.mark.slow
@pytest.mark.parametrize(
    ("page", "heading"), [("README.md", "## A tour"), ("docs/getting-started.md", "## A first hour")]
)
def test_tour_runs_as_written(cli, tmp_path, monkeypatch, page, heading):
    commands = tour_commands(ROOT / page, heading)
    assert len(commands) >= 5
    skipped = run_tour(cli, commands, tmp_path, monkeypatch)
    if skipped:
        pytest.skip("ran every other command; skipped " + "; ".join(skipped))


def test_tour_parser_reads_each_command_line():
    commands = tour_commands(ROOT / "README.md", "## A tour")
    assert commands[0].startswith("swerve ") and all("#" not in line for line in commands)
    assert _outputs(shlex.split('swerve bend g --bend "a b" --out x/ --preview p.png')) == ["x", "p.png"]

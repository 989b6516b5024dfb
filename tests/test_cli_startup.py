"""The command line answers at once: help and the zoo list import neither torch nor NumPy."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROBE = """
import json, sys
from swerve.cli.main import main
sys.argv = ["swerve", *json.loads(sys.argv[1])]
try:
    main()
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "heavy": sorted(m for m in ("torch", "numpy", "scipy") if m in sys.modules)}))
"""


@pytest.mark.parametrize("args", [["--help"], ["bend", "--help"], ["finetune", "--help"], ["zoo", "list"]])
def test_help_and_zoo_list_import_no_torch(args):
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)], capture_output=True, text=True, cwd=ROOT, check=False
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["code"] in (0, None), done.stderr
    assert result["heavy"] == [], f"swerve {' '.join(args)} imported {result['heavy']}"


def test_every_command_help_imports_no_torch():
    script = (
        "import sys, typer\nfrom swerve.cli.main import register_commands\n"
        "root = typer.main.get_command(register_commands())\n"
        "ctx = root.context_class(root, info_name='swerve')\n"
        "for name, command in root.commands.items():\n"
        "    command.get_help(command.context_class(command, info_name=name, parent=ctx))\n"
        "print(sorted(m for m in ('torch', 'numpy') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"

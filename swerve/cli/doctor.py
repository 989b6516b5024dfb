"""``swerve doctor``: what this machine has (data sets, extras, browser, device), what each enables, and the
exact command that gets each missing one."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path
from typing import Any

import typer

from swerve.cli.main import app, emit

GPU_ENABLES = "faster training, fine-tuning and refinement (the CPU runs everything)"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")

# (module to find, distribution for its version, what it enables, the command that installs it)
EXTRAS = (
    ("fastapi", "fastapi", "the studio's HTTP API (swerve studio)", "pip install 'swerve[studio]'"),
    ("uvicorn", "uvicorn", "the studio's local server (swerve studio)", "pip install 'swerve[studio]'"),
    ("librosa", "librosa", "music videos from a track (swerve react)", "pip install 'swerve[audio]'"),
    ("accelerate", "accelerate", "training on several processes or GPUs", "pip install 'swerve[accelerate]'"),
    ("ray", "ray", "sweeps on a Ray cluster (swerve sweep --backend ray)", "pip install 'swerve[ray]'"),
    (
        "open_clip",
        "open_clip_torch",
        "CLIP guidance (swerve finetune --method nada)",
        "pip install 'swerve[clip]'",
    ),
)


def _check(name: str, kind: str, found: str | None, enables: str, get: str) -> dict[str, Any]:
    """One line of the report: ``found`` is where or which version, or None when missing."""
    return {
        "name": name,
        "kind": kind,
        "present": found is not None,
        "found": found,
        "enables": enables,
        "get": None if found is not None else get,
    }


def _idx(name: str) -> str | None:
    from swerve.data.idx import find_idx

    train, test = find_idx(name, "train"), find_idx(name, "test")
    return str(train) if train is not None and test is not None else None


def emoji_files() -> tuple[Path | None, Path | None]:
    """The emoji font and ``emoji-test.txt`` where the emoji data set looks for them (its environment
    variables, then Debian's paths), each None when it is not there."""
    from swerve.data import emoji

    font = Path(os.environ.get("SWERVE_EMOJI_FONT") or emoji.DEBIAN_FONT)
    table = Path(os.environ.get("SWERVE_EMOJI_TEST") or emoji.DEBIAN_TEST)
    return (font if font.is_file() else None, table if table.is_file() else None)


def download_command(name: str) -> str:
    """The one-line command that downloads an IDX data set into swerve's cache (checksums verified)."""
    load = "from swerve.data import load_dataset as load; "
    return f"python -c \"{load}[load('{name}', s, download=True) for s in ('train', 'test')]\""


def data_checks() -> list[dict[str, Any]]:
    """The data sets swerve reads from disk."""
    font, table = emoji_files()
    return [
        _check(
            "Fashion-MNIST",
            "data",
            _idx("fashion-mnist"),
            "the demo's Fashion-MNIST cards, FD/precision/recall against real images, fine-tuning metrics",
            "apt-get install dataset-fashion-mnist   (or: " + download_command("fashion-mnist") + ")",
        ),
        _check(
            "MNIST",
            "data",
            _idx("mnist"),
            "cross-domain fine-tuning on digits (--dataset mnist)",
            download_command("mnist"),
        ),
        _check(
            "emoji font",
            "data",
            str(font) if font else None,
            "the emoji colour data set (dataset: emoji)",
            "apt-get install fonts-noto-color-emoji (or SWERVE_EMOJI_FONT=FILE)",
        ),
        _check(
            "emoji-test.txt",
            "data",
            str(table) if table else None,
            "emoji names and groups for the emoji data",
            "apt-get install unicode-data (or SWERVE_EMOJI_TEST=FILE)",
        ),
    ]


def _version(module: str, dist: str) -> str | None:
    from importlib import metadata  # slow to import: only here

    if importlib.util.find_spec(module) is None:
        return None
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "installed"


def extra_checks() -> list[dict[str, Any]]:
    """Optional Python packages and what each enables."""
    return [
        _check(module, "extra", _version(module, dist), enables, get) for module, dist, enables, get in EXTRAS
    ]


def browser_check() -> dict[str, Any]:
    """A Chromium-family browser for the studio's browser tests (``SWERVE_CHROMIUM`` first)."""
    given = os.environ.get("SWERVE_CHROMIUM")
    found = (given if given and os.path.exists(given) else None) or next(
        (path for path in map(shutil.which, BROWSERS) if path), None
    )
    return _check(
        "Chromium", "browser", found, "the studio's end-to-end browser tests", "apt-get install chromium"
    )


def device_check() -> dict[str, Any]:
    """The accelerator swerve would pick (CUDA, then Apple MPS); the CPU always works."""
    import torch

    if torch.cuda.is_available():
        return _check("GPU", "device", f"cuda: {torch.cuda.get_device_name(0)}", GPU_ENABLES, "")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return _check("GPU", "device", "mps", GPU_ENABLES, "")
    if torch.version.cuda is None:
        get = f"PyTorch {torch.__version__} is a CPU build; with an NVIDIA GPU: make test TORCH_INDEX="
    else:
        get = f"PyTorch {torch.__version__} sees no GPU: check the driver with nvidia-smi"
    return _check("GPU", "device", None, GPU_ENABLES, get)


def checks() -> list[dict[str, Any]]:
    """Every check, in the order the report prints them."""
    return [*data_checks(), *extra_checks(), browser_check(), device_check()]


@app.command()
def doctor(as_json: bool = typer.Option(False, "--json", help="Print the checks as JSON.")) -> None:
    """What this machine has (data sets, extras, Chromium, GPU), what each enables, how to get the rest."""
    found = checks()
    lines = []
    for item in found:
        mark = "ok     " if item["present"] else "missing"
        lines.append(f"{mark} {item['name']:<15} {item['enables']}")
        lines.append(f"        {'':<15} {item['found'] if item['present'] else 'get it: ' + item['get']}")
    missing = sum(not item["present"] for item in found)
    lines.append(
        f"{len(found) - missing} of {len(found)} present" + (f"; {missing} missing" if missing else "")
    )
    emit(
        {"checks": found, "missing": [item["name"] for item in found if not item["present"]]},
        as_json,
        "\n".join(lines),
    )

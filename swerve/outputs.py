"""Where commands write: swerve never replaces what a user already had.

The rule, for every command and for :func:`swerve.utils.atomic_path`:

- a path that does not exist, or an empty folder, is written;
- an existing *file* is replaced only when the caller says so (``--overwrite``);
- an existing non-empty *folder* is replaced (a bundle, a sample folder) only with ``--overwrite`` and only
  when swerve recognises it as its own output of the same kind; a folder a command adds to (a training
  run, a sweep, a demo) must be new, empty or one swerve made for the same kind of work.

swerve recognises its folders by a marker file it writes into them (:data:`MARKER`), a bundle by its
``config.json``, and folders written before the marker existed by their manifest (:data:`LEGACY`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from swerve.errors import SwerveError

MARKER = "swerve-output.json"
# Files that name a folder's kind in folders swerve wrote before it wrote MARKER.
LEGACY = {
    "samples": "swerve-samples.json",
    "run": "checkpoint",
    "sweep": "sweep.json",
    "demo": "demo.json",
    "checkpoint": "optimizers.safetensors",
    "trail-step": "weights.safetensors",
}


class OutputError(SwerveError):
    """A command was pointed at a file or folder it must not replace."""


def output_kind(path: str | os.PathLike) -> str | None:
    """The kind of swerve output the folder ``path`` holds ('bundle', 'samples', 'run', ...), or None."""
    path = Path(path)
    if not path.is_dir():
        return None
    try:
        marker = json.loads((path / MARKER).read_text())
        if isinstance(marker, dict) and isinstance(marker.get("kind"), str):
            return marker["kind"]
    except (OSError, ValueError):
        pass
    try:
        config = json.loads((path / "config.json").read_text())
        if isinstance(config, dict) and config.get("format") == "swerve-bundle":
            return "bundle"
    except (OSError, ValueError):
        pass
    for kind, name in LEGACY.items():
        if (path / name).exists():
            return kind
    return None


def _is_empty_dir(path: Path) -> bool:
    return path.is_dir() and not any(path.iterdir())


def check_output(path: str | os.PathLike, kind: str = "file", overwrite: bool = False) -> Path:
    """Raise OutputError unless a command may write its ``kind`` of output at ``path`` (see the module doc).

    ``kind`` is 'file' for one file, else the kind of folder ('bundle', 'samples', ...) that replaces
    whatever is at ``path``. Call it before the work, so a refusal costs nothing.
    """
    path = Path(path)
    if not os.path.lexists(path) or _is_empty_dir(path):
        return path
    if kind == "file":
        if path.is_dir():
            raise OutputError(f"{path} is a folder; give a file name (a folder is never replaced by a file)")
        if not overwrite:
            raise OutputError(f"{path} already exists; pass --overwrite to replace it")
        return path
    if not path.is_dir():
        raise OutputError(
            f"{path} is a file, not a folder; choose another --out (--overwrite replaces only "
            f"a swerve {kind})"
        )
    found = output_kind(path)
    if found is None:
        raise OutputError(
            f"{path} is a folder swerve did not write; it is never replaced, not even with --overwrite: "
            "choose another --out"
        )
    if found != kind:
        raise OutputError(f"{path} holds a swerve {found} folder, not a {kind} folder; choose another --out")
    if not overwrite:
        raise OutputError(f"{path} already holds a swerve {kind} folder; pass --overwrite to replace it")
    return path


def check_outputs(paths: list[str | os.PathLike], overwrite: bool = False) -> None:
    """:func:`check_output` for each of several files one command writes (a picture and its record)."""
    for path in paths:
        check_output(path, "file", overwrite)


def mark_folder(path: str | os.PathLike, kind: str) -> None:
    """Write the marker that tells :func:`output_kind` swerve made the folder ``path`` for ``kind``."""
    from swerve import __version__

    marker = Path(path) / MARKER
    if not marker.exists():
        marker.write_text(json.dumps({"kind": kind, "swerve_version": __version__}) + "\n")


def check_folder(path: str | os.PathLike, kind: str) -> Path:
    """Raise OutputError unless ``path`` may become a folder of ``kind`` that a command adds to (a run, a
    sweep, a demo): a new or empty folder, or one swerve made for the same kind (runs resume, sweeps reuse
    finished jobs). A file or any other non-empty folder is refused."""
    path = Path(path)
    if os.path.lexists(path) and not path.is_dir():
        raise OutputError(f"{path} is a file, not a folder; choose another folder")
    if path.is_dir() and not _is_empty_dir(path):
        found = output_kind(path)
        if found is None:
            raise OutputError(
                f"{path} is a folder swerve did not write; swerve will not write into it, not even with "
                "--overwrite: choose another folder"
            )
        if found != kind:
            raise OutputError(f"{path} holds a swerve {found} folder, not a {kind}; choose another folder")
    return path


def claim_folder(path: str | os.PathLike, kind: str) -> Path:
    """:func:`check_folder`, then create ``path`` and mark it as swerve's folder of ``kind``."""
    path = check_folder(path, kind)
    path.mkdir(parents=True, exist_ok=True)
    mark_folder(path, kind)
    return path

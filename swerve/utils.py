"""Small shared helpers: devices, seeds, atomic writes and strict JSON."""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from swerve.errors import ConfigError
from swerve.outputs import OutputError, output_kind

if TYPE_CHECKING:
    import torch


def pick_device(device: str | None = None) -> torch.device:
    """Return ``device`` if given, else CUDA when present, else Apple MPS, else CPU."""
    import torch

    if device and device != "auto":
        try:
            chosen = torch.device(device)
        except RuntimeError:
            raise ConfigError(f"unknown device {device!r}; use cpu, cuda, cuda:N, mps or auto") from None
        available = {"cuda": torch.cuda.is_available, "mps": torch.backends.mps.is_available}
        if chosen.type in available and not available[chosen.type]():
            raise ConfigError(f"device {device!r} is not available on this machine; use cpu or auto")
        return chosen
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def make_generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A torch random generator seeded with ``seed``; every random draw in swerve goes through one."""
    import torch

    gen = torch.Generator(device=device)
    gen.manual_seed(int(seed))
    return gen


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "", kind: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    A crash or Ctrl-C inside the block leaves the old file (or no file), never a half-written one.
    Works for files and, with ``kind``, for folders: an existing non-empty folder is replaced only when
    it is swerve's own output of that kind (see :mod:`swerve.outputs`); any other is refused before the block.
    """
    path = Path(path)
    if path.is_dir() and kind is None:
        raise OutputError(f"{path} is a folder; give a file name (swerve never replaces a folder by a file)")
    if path.is_dir() and any(path.iterdir()):
        found = output_kind(path)
        if found != kind:
            what = f"a swerve {found}" if found else "a folder swerve did not write"
            raise OutputError(f"{path} is {what}; refusing to replace it: choose another --out")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix + ".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()
    try:
        yield tmp
        if path.is_dir() and tmp.is_dir():
            old = path.with_name(f".{path.name}.old")
            _remove(old)
            path.rename(old)
            tmp.rename(path)
            _remove(old)
        else:
            os.replace(tmp, path)
    finally:
        _remove(tmp)


def _remove(path: Path) -> None:
    if path.is_dir():
        import shutil

        shutil.rmtree(path, ignore_errors=True)
    elif path.exists():
        path.unlink()


def sha256_file(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes, as hex: bundles and checkpoints record it to detect corrupt files."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def remove_stale_temps(*directories: str | os.PathLike) -> list[Path]:
    """Delete the temporary files and folders that :func:`atomic_path` leaves in ``directories`` when a
    process is killed mid-write. Call it only where no other process is writing."""
    removed = []
    for directory in map(Path, directories):
        if not directory.is_dir():
            continue
        for entry in directory.iterdir():
            if entry.name.startswith(".") and entry.name.endswith(".tmp"):
                _remove(entry)
                removed.append(entry)
    return removed


NOT_FINITE = "not_finite"  # the key json_text(..., mark=True) adds: where a number was NaN or infinite


def _plain(obj: Any) -> Any:
    """A torch tensor or NumPy array as a list, a NumPy scalar as a Python number; else ``obj``. Such values
    exist only once their library is imported, so neither is imported here."""
    np, torch = sys.modules.get("numpy"), sys.modules.get("torch")
    if np is not None and isinstance(obj, np.generic):
        return obj.item()
    if (np is not None and isinstance(obj, np.ndarray)) or (
        torch is not None and isinstance(obj, torch.Tensor)
    ):
        return obj.tolist()
    return obj


def finite_json(obj: Any, replaced: list[str] | None = None, where: str = "") -> Any:
    """``obj`` with NaN and ±infinity as None and NumPy / torch values as plain Python ones.

    Dicts, lists and tuples are copied, other values kept as they are; ``replaced`` collects the path
    (``rows/2/fd``) of every number that became None.
    """
    obj = _plain(obj)
    if isinstance(obj, float):
        if math.isfinite(obj):
            return obj
        if replaced is not None:
            replaced.append(where or "/")
        return None
    if isinstance(obj, Mapping):
        return {k: finite_json(v, replaced, f"{where}/{k}".lstrip("/")) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite_json(v, replaced, f"{where}/{i}".lstrip("/")) for i, v in enumerate(obj)]
    return obj


def json_text(obj: Any, mark: bool = False, **kwargs: Any) -> str:
    """``json.dumps`` for everything swerve prints or writes: strict JSON, never NaN or Infinity.

    Non-finite numbers become null (:func:`finite_json`); with ``mark=True`` a dict also gets a
    ``"not_finite"`` list of where that happened, so no number drops silently. ``kwargs`` go to
    ``json.dumps`` (``indent``, ``default``, ...); a ``default`` that returns a non-finite float is refused.
    """
    replaced: list[str] = []
    clean = finite_json(obj, replaced)
    if mark and replaced and isinstance(clean, dict):
        clean[NOT_FINITE] = sorted(set(clean.get(NOT_FINITE) or []) | set(replaced))
    return json.dumps(clean, allow_nan=False, **kwargs)

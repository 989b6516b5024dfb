"""Bring your own StyleGAN: turn foreign checkpoints into swerve bundles, safely.

- rosinality/stylegan2-pytorch ``.pt`` files (``torch.load(weights_only=True)``; architecture from shapes);
- NVIDIA stylegan2-ada-pytorch / stylegan3 ``.pkl`` files (a restricted unpickler: no code in the file runs).

    bundle = import_model("ffhq.pkl")      # -> Bundle with generator (+ discriminator)
    bundle.save("ffhq")                    # then: swerve sample ffhq, bend, blend, ...
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from swerve.bundle import Bundle, DataSpec, LatentSpec
from swerve.errors import BundleError
from swerve.models.importers.nvidia import read_nvidia_pickle
from swerve.models.importers.rosinality import read_rosinality
from swerve.models.importers.safe_pickle import UnsafePickleError

__all__ = ["UnsafePickleError", "detect_format", "import_model", "read_nvidia_pickle", "read_rosinality"]

FORMATS = ("nvidia", "rosinality")


def detect_format(path: Path) -> str:
    """``nvidia`` for a plain pickle, ``rosinality`` for a ``torch.save`` zip archive (by content)."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head.startswith(b"PK"):
        return "rosinality"
    if head[:1] == b"\x80":
        return "nvidia"
    raise BundleError(f"{path} is neither a PyTorch checkpoint (.pt) nor a network pickle (.pkl)")


def import_model(path: str | Path, name: str | None = None, fmt: str | None = None) -> Bundle:
    """Read a foreign StyleGAN checkpoint into a bundle; ``fmt`` (``nvidia`` | ``rosinality``) overrides
    detection. The history records the source file and its SHA-256."""
    path = Path(path)
    if not path.is_file():
        raise BundleError(f"no such file: {path}")
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise BundleError(f"unknown format {fmt!r} (expected one of {', '.join(FORMATS)})")
    nets = read_nvidia_pickle(path) if fmt == "nvidia" else read_rosinality(path)
    config = nets["generator"].config
    data = DataSpec(
        shape=[config.channels, config.resolution, config.resolution],
        classes=[str(i) for i in range(config.c_dim)],
        dataset=f"imported:{path.name}",
    )
    bundle = Bundle(
        nets,
        data,
        LatentSpec(config.z_dim),
        name=name or path.stem,
        training={"source": str(path), "format": fmt},
    )
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    bundle.record(
        "import", source=path.name, format=fmt, sha256=digest, architecture=type(nets["generator"]).__name__
    )
    return bundle

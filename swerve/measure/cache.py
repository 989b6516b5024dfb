"""Reference statistics cached by content hash: features of a real set are computed once per extractor.

The key is a SHA-256 of everything the features depend on — the reference images' bytes, the extractor's
weights, the layer and the normalisation — so a changed dataset or a retrained classifier can never be
served stale features. Entries are safetensors files (no pickle) written atomically: a crash leaves the
old entry or none, never half a file. The cache lives in ``$SWERVE_CACHE`` or ``~/.cache/swerve``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from swerve.measure.features import extract_features
from swerve.utils import atomic_path


def default_cache_dir() -> Path:
    return Path(os.environ.get("SWERVE_CACHE", Path.home() / ".cache" / "swerve")) / "features"


def content_hash(*parts: torch.Tensor | nn.Module | str) -> str:
    """SHA-256 over tensors' bytes (with dtype and shape), modules' state dicts and strings."""
    digest = hashlib.sha256()

    def add_tensor(t: torch.Tensor) -> None:
        t = t.detach().cpu().contiguous()
        digest.update(f"{t.dtype}{tuple(t.shape)}".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())

    for part in parts:
        if isinstance(part, nn.Module):
            for name, value in sorted(part.state_dict().items()):
                digest.update(name.encode())
                add_tensor(value)
        elif isinstance(part, torch.Tensor):
            add_tensor(part)
        else:
            digest.update(str(part).encode())
        digest.update(b"\0")
    return digest.hexdigest()


def cached(key: str, compute: Callable[[], dict[str, torch.Tensor]], cache_dir: Path | None = None) -> dict:
    """The tensors stored under ``key``, or ``compute()``'s, stored first (atomically)."""
    path = Path(cache_dir or default_cache_dir()) / f"{key}.safetensors"
    if path.exists():
        try:
            return load_file(path)
        except (SafetensorError, OSError):
            pass  # an unreadable entry is recomputed and replaced
    tensors = {name: t.detach().cpu().contiguous() for name, t in compute().items()}
    with atomic_path(path, suffix=".safetensors") as tmp:
        save_file(tensors, str(tmp))
    return tensors


def reference_features(
    model: nn.Module,
    reference: torch.Tensor,
    layer: str | None = None,
    normalise: str = "none",
    cache_dir: Path | None = None,
) -> torch.Tensor:
    """Features of the real ``reference`` set (float64), from the cache when they were computed before."""
    key = content_hash(reference, model, layer or "", normalise)
    entry = cached(
        key,
        lambda: {"features": extract_features(model, reference, layer=layer, normalise=normalise)},
        cache_dir,
    )
    return entry["features"]

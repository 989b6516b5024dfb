"""The zoo: small models swerve ships, each built by ``swerve zoo build NAME`` from a recipe in recipes.py."""

from __future__ import annotations

from pathlib import Path

BUNDLES = Path(__file__).parent / "bundles"


def zoo_names() -> list[str]:
    """Names of the shipped bundles."""
    if not BUNDLES.is_dir():
        return []
    return sorted(p.name for p in BUNDLES.iterdir() if (p / "config.json").is_file())


def zoo_path(name: str) -> Path | None:
    """The directory of zoo model ``name``, or None if swerve ships no model of that name."""
    if "/" in name or name.startswith("."):
        return None
    path = BUNDLES / name
    return path if (path / "config.json").is_file() else None

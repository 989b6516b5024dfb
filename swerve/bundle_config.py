"""Checks of a bundle's ``config.json``: every field's type and range, so a bad file is one clear line.

:func:`check_config` takes the parsed JSON and returns it with defaults filled in, or raises a
:class:`~swerve.errors.BundleError` naming the file and the field. Which classes it may name is
:mod:`swerve.trust`'s business; whether the weights fit them is checked when they are read.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from swerve.errors import BundleError

FORMAT = "swerve-bundle"
FORMAT_VERSION = 1
ROLE = re.compile(r"\w+")
SHA256 = re.compile(r"[0-9a-f]{64}")


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _network(role: str, spec: Any) -> str | None:
    """What is wrong with one ``networks`` entry (``None`` if nothing)."""
    if not isinstance(role, str) or not ROLE.fullmatch(role):
        return f"network role {role!r} must be letters, digits and underscores"
    if not isinstance(spec, dict):
        return f"networks.{role} must be an object with 'class', got {type(spec).__name__}"
    if not isinstance(spec.get("class"), str):
        return f"networks.{role}.class must be a 'package.module:Class' string"
    if not isinstance(spec.get("kwargs", {}), dict):
        return f"networks.{role}.kwargs must be an object"
    if not isinstance(spec.get("file", ""), str):
        return f"networks.{role}.file must be a file name"
    if "sha256" in spec and not (isinstance(spec["sha256"], str) and SHA256.fullmatch(spec["sha256"])):
        return f"networks.{role}.sha256 must be 64 hexadecimal digits"
    return None


def _data(data: Any) -> str | None:
    if not isinstance(data, dict):
        return "'data' must be an object with 'shape'"
    unknown = sorted(set(data) - {"shape", "range", "classes", "dataset"})
    if unknown:
        return f"data has an unknown field {unknown[0]!r}"
    shape = data.get("shape")
    if not isinstance(shape, list) or not shape or not all(_int(s) and s > 0 for s in shape):
        return f"data.shape must be a list of positive integers, got {shape!r}"
    low_high = data.get("range", [-1.0, 1.0])
    if not (isinstance(low_high, list) and len(low_high) == 2 and all(map(_number, low_high))):
        return f"data.range must be two finite numbers, got {low_high!r}"
    if not low_high[0] < low_high[1]:
        return f"data.range must go from low to high, got {low_high!r}"
    if not _strings(data.get("classes", [])):
        return "data.classes must be a list of names"
    if not isinstance(data.get("dataset", ""), str):
        return "data.dataset must be a name"
    return None


def _latent(latent: Any) -> str | None:
    if latent is None:
        return None
    if not isinstance(latent, dict):
        return "'latent' must be an object with 'dim', or null"
    unknown = sorted(set(latent) - {"dim", "distribution"})
    if unknown:
        return f"latent has an unknown field {unknown[0]!r}"
    if not (_int(latent.get("dim")) and latent["dim"] > 0):
        return f"latent.dim must be a positive integer, got {latent.get('dim')!r}"
    if latent.get("distribution", "normal") not in ("normal", "uniform"):
        return f"latent.distribution must be normal or uniform, got {latent.get('distribution')!r}"
    return None


def check_config(config: Any, config_file: Path) -> dict[str, Any]:
    """``config`` checked field by field (a :class:`BundleError` naming the first problem)."""
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise BundleError(f"{config_file} is not a swerve bundle config (no 'format': '{FORMAT}')")
    version = config.get("format_version")
    if not _int(version) or version < 1:
        raise BundleError(f"{config_file}: format_version must be a whole number >= 1, got {version!r}")
    if version > FORMAT_VERSION:
        raise BundleError(
            f"{config_file.parent} uses bundle format {version}; this swerve reads up to {FORMAT_VERSION} "
            "(upgrade swerve)"
        )
    networks = config.get("networks")
    problem = None
    if not isinstance(networks, dict) or not networks:
        problem = "'networks' must be an object mapping each role to its class and file"
    else:
        problem = next(filter(None, (_network(role, spec) for role, spec in networks.items())), None)
    problem = problem or _data(config.get("data")) or _latent(config.get("latent"))
    kinds = {"name": (str, "a string"), "training": (dict, "an object"), "history": (list, "a list")}
    for key, (kind, what) in {**kinds, "extra": (dict, "an object")}.items():
        if not problem and not isinstance(config.get(key, kind()), kind):
            problem = f"'{key}' must be {what}"
    if problem:
        raise BundleError(f"{config_file}: {problem}")
    return config

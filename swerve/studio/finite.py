"""No NaN or Infinity in what the studio sends: JSON cannot carry them, and a browser refuses the text."""

from __future__ import annotations

import math
from typing import Any

from swerve import utils

NOTE = "not finite (NaN or infinite), sent as null"


def not_finite(value: Any) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


def finite_json(content: Any) -> Any:
    """``content`` ready for strict JSON: non-finite numbers become null, and an object answer names them
    under ``"not_finite"`` (``{"fields": [...], "why": ...}``) so nothing is dropped without a word."""
    found: list[str] = []
    clean = utils.finite_json(content, found)
    if found and isinstance(clean, dict):
        clean["not_finite"] = {"fields": found[:50], "count": len(found), "why": NOTE}
    return clean


def finite_values(values: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    """Measured ``values`` with each non-finite one set to None and a note saying which and why."""
    for key, value in values.items():
        if not_finite(value):
            values[key] = None
            notes.append(f"{key} could not be measured: it came out {value} (a NaN or inf in the picture)")
    return values

"""No NaN or Infinity in what the studio sends: JSON cannot carry them, and a browser refuses the text."""

from __future__ import annotations

import math
from typing import Any

NOTE = "not finite (NaN or infinite), sent as null"


def not_finite(value: Any) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


def cleaned(value: Any, path: str, found: list[str]) -> Any:
    """``value`` with every non-finite float replaced by None, each one's path added to ``found``."""
    if not_finite(value):
        found.append(path or "value")
        return None
    if isinstance(value, dict):
        return {k: cleaned(v, f"{path}.{k}" if path else str(k), found) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [cleaned(v, f"{path}[{i}]", found) for i, v in enumerate(value)]
    return value


def finite_json(content: Any) -> Any:
    """``content`` ready for strict JSON: non-finite numbers become null, and an object answer names them
    under ``"not_finite"`` (``{"fields": [...], "why": ...}``) so nothing is dropped without a word."""
    found: list[str] = []
    clean = cleaned(content, "", found)
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

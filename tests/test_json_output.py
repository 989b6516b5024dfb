"""Everything swerve prints or writes as JSON is strict JSON: NaN and infinity become null, and say so."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from swerve.cli.main import emit
from swerve.utils import NOT_FINITE, finite_json, json_text


def strict_loads(text: str):
    """json.loads that refuses NaN, Infinity and -Infinity (Python's json accepts them by default)."""

    def refuse(name: str):
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def test_emit_prints_strict_json_and_names_what_was_not_finite(capsys) -> None:
    result = {
        "score": float("inf"),
        "rows": [{"fd": float("nan"), "n": 3}, {"fd": np.float32(-np.inf), "ok": np.float64(0.5)}],
        "tensor": torch.tensor([1.0, float("nan")]),
        "count": np.int64(4),
        "path": Path("a/b"),
    }
    emit(result, True, "summary")
    out = strict_loads(capsys.readouterr().out)
    assert out["score"] is None and out["rows"][0]["fd"] is None and out["rows"][1]["fd"] is None
    assert out["rows"][1]["ok"] == 0.5 and out["tensor"] == [1.0, None] and out["count"] == 4
    assert out["path"] == "a/b"  # other objects are printed as text, as before
    assert out[NOT_FINITE] == ["rows/0/fd", "rows/1/fd", "score", "tensor/1"]
    emit({"score": 1.5}, True, "summary")
    assert NOT_FINITE not in strict_loads(capsys.readouterr().out)  # nothing to report: no key
    with pytest.raises(ValueError, match="not JSON"):
        strict_loads(json.dumps({"x": math.nan}))  # the check above would catch the old output


def test_json_text_keeps_finite_values_and_refuses_a_non_finite_default() -> None:
    data = {"a": [1, 2.5, True, None, "x"], "b": (0.1, -0.0)}
    assert strict_loads(json_text(data)) == {"a": [1, 2.5, True, None, "x"], "b": [0.1, -0.0]}
    assert finite_json([np.bool_(True), np.array([[1, 2]])]) == [True, [[1, 2]]]
    with pytest.raises(ValueError):
        json_text({"x": object()}, default=lambda _: math.inf)  # never printed as Infinity

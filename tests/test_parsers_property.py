"""Property-based tests of every parser of user input: whatever the input, it parses or raises a
SwerveError (one clear line for the CLI), never another exception."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis", reason="property tests need hypothesis (the dev extra)")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from swerve.errors import SwerveError  # noqa: E402
from swerve.scale.sweep import SPEC_KEYS, load_spec, parse_spec  # noqa: E402
from swerve.train import TrainConfig  # noqa: E402

SETTINGS = settings(
    max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
FIELDS = [f.name for f in dataclasses.fields(TrainConfig)]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["gan", "vae", "mlp", "dcgan", "wgan-gp", "1e-4", "nan", "inf", "-3", "sample", "bend"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=8), st.integers()), inner, max_size=4),
    ),
    max_leaves=12,
)


def _message_is_one_clear_line(exc: SwerveError) -> None:
    text = str(exc)
    assert text and "Traceback" not in text


def _parses_or_refuses(parse, obj) -> None:
    try:
        parse(obj)
    except SwerveError as exc:
        _message_is_one_clear_line(exc)


@SETTINGS
@given(
    st.dictionaries(
        st.one_of(st.sampled_from(FIELDS), st.text(max_size=8), st.integers()), values, max_size=6
    )
)
def test_train_config_from_dict(obj):
    _parses_or_refuses(TrainConfig.from_dict, obj)


@SETTINGS
@given(values)
def test_train_config_from_anything(obj):
    _parses_or_refuses(TrainConfig.from_dict, obj)


@SETTINGS
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200)), st.sampled_from([".yaml", ".json", ""]))
def test_train_config_from_file(content, suffix):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"config{suffix}"
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        _parses_or_refuses(TrainConfig.from_file, path)


job_groups = st.dictionaries(
    st.sampled_from(["operation", "bundle", "params", "grid", "seeds", "n", "metrics", "other"]),
    values,
    max_size=5,
)


@SETTINGS
@given(
    st.dictionaries(st.sampled_from(sorted(SPEC_KEYS)), values, max_size=5),
    st.lists(st.one_of(job_groups, values), max_size=3),
)
def test_sweep_spec(spec, groups):
    _parses_or_refuses(parse_spec, {**spec, "jobs": groups} if groups else spec)


@SETTINGS
@given(st.text(max_size=200))
def test_sweep_spec_file(content):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "spec.yaml"
        path.write_text(content)
        _parses_or_refuses(load_spec, path)


@SETTINGS
@given(st.lists(st.text(max_size=30), max_size=4))
def test_cli_overrides(pairs):
    from swerve.cli.make import _parse_overrides

    def parse(items):
        return TrainConfig.from_dict({**TrainConfig().to_dict(), **_parse_overrides(items)})

    _parses_or_refuses(parse, pairs)


# --- bend recipes (swerve.diverge.bend) ------------------------------------------------------------------
def _transform_names() -> list[str]:
    from swerve.diverge.transforms import TRANSFORMS

    return sorted(TRANSFORMS)


@st.composite
def bends(draw):
    """Bends that are nearly right: a real transform, its own parameter names, values of any kind."""
    from swerve.diverge.transforms import TRANSFORMS

    name = draw(st.sampled_from(_transform_names()))
    names = sorted(TRANSFORMS[name].params) + ["bogus"]
    params = draw(st.dictionaries(st.sampled_from(names), values, max_size=3))
    bend = {"layer": draw(st.sampled_from(["blocks.0", "stem", "", "conv:0"])), "transform": name}
    if draw(st.booleans()):
        bend["params"] = params
    if draw(st.booleans()):
        bend["channels"] = draw(
            st.one_of(
                values, st.fixed_dictionaries({"fraction": values, "seed": values}), st.lists(st.integers())
            )
        )
    return bend


@SETTINGS
@given(st.one_of(values, st.lists(st.one_of(bends(), values), max_size=3)))
def test_bend_recipes(obj):
    from swerve.diverge.bend import parse_bends

    _parses_or_refuses(parse_bends, obj)


@SETTINGS
@given(st.text(max_size=60))
def test_bend_command_line(text):
    from swerve.cli.bend import parse_bend_arg
    from swerve.diverge.bend import parse_bends

    _parses_or_refuses(lambda t: parse_bends([parse_bend_arg(t)]), text)

"""Property-based tests of every parser of user input: whatever the input, it is either refused with a
SwerveError (one clear line for the CLI, never another exception), or accepted, and then what was accepted is
valid: every number finite and in range, every field of its type (checked here independently of the
parser's own checks). Where one field is wrong, the error names that field."""

from __future__ import annotations

import dataclasses
import json
import math
import tempfile
from pathlib import Path
from typing import Any

import pytest

hypothesis = pytest.importorskip("hypothesis", reason="property tests need hypothesis (the dev extra)")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from swerve.errors import ConfigError, SwerveError  # noqa: E402
from swerve.scale.operations import METRICS, OPERATIONS  # noqa: E402
from swerve.scale.sweep import SPEC_KEYS, SweepSpec, load_spec, parse_spec  # noqa: E402
from swerve.train import TrainConfig  # noqa: E402
from swerve.train.config import ARCHS, KINDS, OBJECTIVES  # noqa: E402

# Derandomised: the same examples every run, so a CI run cannot fail on a draw the last one did not make.
SETTINGS = settings(
    max_examples=60,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
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
    assert text and "Traceback" not in text and "\n" not in text.strip()


def _parses_or_refuses(parse, obj, valid) -> None:
    """``parse(obj)`` refuses with a SwerveError, or its result passes ``valid``."""
    try:
        result = parse(obj)
    except SwerveError as exc:
        _message_is_one_clear_line(exc)
        return
    valid(result)


def _finite_json(value: Any) -> None:
    json.dumps(value, allow_nan=False)  # raises on NaN, infinity and anything that is not plain JSON


def _is_int(value: Any) -> bool:
    return type(value) is int


def _is_float(value: Any) -> bool:
    return type(value) is float and math.isfinite(value)


# --- training configs --------------------------------------------------------------------------------------
# What each field may hold, written out here rather than taken from TrainConfig.validate.
TRAIN_RULES = {
    "lr_g": lambda v: _is_float(v) and v > 0,
    "lr_d": lambda v: _is_float(v) and v > 0,
    "vae_sigma": lambda v: _is_float(v) and v > 0,
    "gp_weight": lambda v: _is_float(v) and v >= 0,
    "ema": lambda v: _is_float(v) and 0 <= v < 1,
    "steps": lambda v: _is_int(v) and 1 <= v <= 10_000_000,
    "batch_size": lambda v: _is_int(v) and 1 <= v <= 1 << 20,
    "latent_dim": lambda v: _is_int(v) and 1 <= v <= 1 << 16,
    "width": lambda v: _is_int(v) and 1 <= v <= 1 << 16,
    "depth": lambda v: _is_int(v) and 1 <= v <= 1000,
    "n_critic": lambda v: _is_int(v) and 1 <= v <= 1000,
    "log_every": lambda v: _is_int(v) and 0 <= v <= 10_000_000,
    "sample_every": lambda v: _is_int(v) and 0 <= v <= 10_000_000,
    "checkpoint_every": lambda v: _is_int(v) and 0 <= v <= 10_000_000,
    "seed": _is_int,
    "d_width": lambda v: v is None or (_is_int(v) and 1 <= v <= 1 << 16),
    "lr_decay_start": lambda v: v is None or (_is_int(v) and v >= 0),  # and below steps (checked below)
    "image_size": lambda v: v is None or (_is_int(v) and 1 <= v <= 1 << 14),
    "channels": lambda v: v is None or (_is_int(v) and v in (1, 3)),
    "kind": lambda v: v in KINDS,
    "arch": lambda v: v in ARCHS,
    "objective": lambda v: v in OBJECTIVES,
    "latent_distribution": lambda v: v in ("normal", "uniform"),
    "bad_images": lambda v: v in ("skip", "raise"),
    "conditional": lambda v: type(v) is bool,
    "spectral_norm": lambda v: type(v) is bool,
    "download": lambda v: type(v) is bool,
    "mirror": lambda v: type(v) is bool,
    "augment": lambda v: v in ("", "diffaugment", "ada"),
    "augment_policy": lambda v: isinstance(v, str),
    "ada_target": lambda v: _is_float(v) and -1 <= v <= 1,
    "ada_interval": lambda v: _is_int(v) and 1 <= v <= 10_000_000,
    "ada_kimg": lambda v: _is_float(v) and v > 0,
    "r1_gamma": lambda v: _is_float(v) and v >= 0,
    "r1_every": lambda v: _is_int(v) and 1 <= v <= 10_000_000,
    "max_width": lambda v: _is_int(v) and 1 <= v <= 10_000_000,
    "style_mixing": lambda v: _is_float(v) and 0 <= v <= 1,
    "pl_weight": lambda v: _is_float(v) and v >= 0,
    "pl_every": lambda v: _is_int(v) and 1 <= v <= 10_000_000,
    "name": lambda v: isinstance(v, str),
    "dataset": lambda v: isinstance(v, str),
    "device": lambda v: isinstance(v, str),
    "betas": lambda v: isinstance(v, list) and len(v) == 2 and all(_is_float(b) and 0 <= b < 1 for b in v),
    "classes": lambda v: v is None or (isinstance(v, list) and all(_is_int(c) and c >= 0 for c in v)),
    "params": lambda v: isinstance(v, dict),
}


def _valid_train_config(cfg: TrainConfig) -> None:
    assert isinstance(cfg, TrainConfig)
    assert set(TRAIN_RULES) == set(FIELDS)  # a new field needs its rule here
    for name, rule in TRAIN_RULES.items():
        assert rule(getattr(cfg, name)), (name, getattr(cfg, name))
    assert cfg.lr_decay_start is None or cfg.lr_decay_start < cfg.steps
    _finite_json(cfg.to_dict())


def _as_number(value: Any) -> Any:
    """A YAML-1.1 number string (``"1e-4"``) as the float a training config reads it as."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


NUMBER_FIELDS = [n for n, r in TRAIN_RULES.items() if n not in ("name", "dataset", "device", "params")]


@SETTINGS
@given(st.sampled_from(NUMBER_FIELDS), scalars)
def test_one_wrong_training_field_is_refused_by_name(field, value):
    """Each field alone, on an otherwise good config: accepted exactly when its rule holds."""
    values = {**TrainConfig().to_dict(), field: value}
    float_fields = ("lr_g", "lr_d", "vae_sigma", "gp_weight", "ema")
    float_fields += ("ada_target", "ada_kimg", "r1_gamma", "style_mixing", "pl_weight")
    if field in float_fields:
        value = _as_number(value)
        value = float(value) if _is_int(value) else value
    if field == "kind" and value in ("can", "nodata", "sparse-ae", "vae", "classifier"):
        return  # these kinds need other fields to match; the whole-config property covers them
    if TRAIN_RULES[field](value):
        cfg = TrainConfig.from_dict(values)
        assert getattr(cfg, field) == value
        _valid_train_config(cfg)
    else:
        with pytest.raises(ConfigError, match=field):
            TrainConfig.from_dict(values)


@SETTINGS
@given(
    st.dictionaries(
        st.one_of(st.sampled_from(FIELDS), st.text(max_size=8), st.integers()), values, max_size=6
    )
)
def test_train_config_from_dict(obj):
    _parses_or_refuses(TrainConfig.from_dict, obj, _valid_train_config)


@SETTINGS
@given(values)
def test_train_config_from_anything(obj):
    _parses_or_refuses(TrainConfig.from_dict, obj, _valid_train_config)


@SETTINGS
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200)), st.sampled_from([".yaml", ".json", ""]))
def test_train_config_from_file(content, suffix):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"config{suffix}"
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        _parses_or_refuses(TrainConfig.from_file, path, _valid_train_config)


def _valid_spec(spec: SweepSpec) -> None:
    assert isinstance(spec, SweepSpec) and spec.jobs and type(spec.save_samples) is bool
    assert isinstance(spec.name, str) and spec.name and "/" not in spec.name
    for job in spec.jobs:
        assert isinstance(job.bundle, str) and job.bundle
        assert job.operation in OPERATIONS
        assert _is_int(job.seed) and job.seed >= 0
        assert _is_int(job.n) and 1 <= job.n <= 100_000
        assert all(m in METRICS for m in job.metrics)
        assert isinstance(job.params, dict)
        _finite_json(job.params)


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
    _parses_or_refuses(parse_spec, {**spec, "jobs": groups} if groups else spec, _valid_spec)


@SETTINGS
@given(st.sampled_from(["n", "seeds"]), values)
def test_one_wrong_sweep_field_is_refused_by_name(field, value):
    group = {"operation": "sample", "bundle": "fashion-gan", field: value}
    ok = (
        _is_int(value) and 1 <= value <= 100_000
        if field == "n"
        else (isinstance(value, list) and value and all(_is_int(s) and s >= 0 for s in value))
    )
    if ok:
        _valid_spec(parse_spec({"jobs": [group]}))
    else:
        with pytest.raises(ConfigError, match=field):
            parse_spec({"jobs": [group]})


@SETTINGS
@given(st.floats(allow_nan=True, allow_infinity=True))
def test_sweep_params_hold_only_finite_numbers(number):
    spec = {"jobs": [{"operation": "sample", "bundle": "fashion-gan", "grid": {"x": [number]}}]}
    if math.isfinite(number):
        with pytest.raises(ConfigError, match="takes no parameter"):  # finite: refused for the name only
            parse_spec(spec)
    else:
        with pytest.raises(ConfigError, match="finite"):
            parse_spec(spec)


@SETTINGS
@given(st.text(max_size=200))
def test_sweep_spec_file(content):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "spec.yaml"
        path.write_text(content)
        _parses_or_refuses(load_spec, path, _valid_spec)


@SETTINGS
@given(st.lists(st.text(max_size=30), max_size=4))
def test_cli_overrides(pairs):
    from swerve.cli.make import _parse_overrides

    def parse(items):
        return TrainConfig.from_dict({**TrainConfig().to_dict(), **_parse_overrides(items)})

    _parses_or_refuses(parse, pairs, _valid_train_config)


@SETTINGS
@given(
    st.sampled_from(["lr_g", "lr_d", "gp_weight", "ema", "vae_sigma"]),
    st.sampled_from(["NaN", "Infinity", "-Infinity", ".nan", ".inf", "-.inf", "nan", "inf", "1e999"]),
)
def test_cli_overrides_never_let_a_non_finite_number_through(field, text):
    from swerve.cli.make import _parse_overrides

    with pytest.raises(ConfigError, match=field):
        TrainConfig.from_dict({**TrainConfig().to_dict(), **_parse_overrides([f"{field}={text}"])})


# --- bend recipes (swerve.diverge.bend) ------------------------------------------------------------------
def _valid_param(spec: Any, value: Any) -> None:
    """``value`` fits a transform parameter: its kind, finite, inside [low, high]."""
    if spec.kind == "bool":
        assert type(value) is bool
    elif spec.kind == "choice":
        assert value in spec.choices
    else:
        # a whole-number parameter takes an int or a float with a whole value (JSON may send 2.0 for 2)
        whole = _is_int(value) or (_is_float(value) and value == int(value))
        assert whole if spec.kind == "int" else _is_float(value) or _is_int(value)
        assert math.isfinite(value)
        assert (spec.low is None or value >= spec.low) and (spec.high is None or value <= spec.high)


def _valid_bends(bends: list) -> None:
    from swerve.diverge.transforms import TRANSFORMS

    for bend in bends:
        assert isinstance(bend.layer, str) and bend.layer
        spec = TRANSFORMS[bend.transform].params
        assert set(bend.params) == set(spec)  # every parameter filled in, no stranger
        for key, value in bend.params.items():
            _valid_param(spec[key], value)
        channels = bend.channels
        assert (
            channels == "all"
            or (isinstance(channels, list) and channels and all(_is_int(c) and c >= 0 for c in channels))
            or (
                set(channels) == {"fraction", "seed"}
                and 0 < channels["fraction"] <= 1
                and channels["seed"] >= 0
            )
            or (set(channels) == {"cluster"} and _is_int(channels["cluster"]) and channels["cluster"] >= 0)
        ), channels
        _finite_json(bend.to_dict())


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

    _parses_or_refuses(parse_bends, obj, _valid_bends)


@SETTINGS
@given(st.text(max_size=60))
def test_bend_command_line(text):
    from swerve.cli.bend import parse_bend_arg
    from swerve.diverge.bend import parse_bends

    _parses_or_refuses(lambda t: parse_bends([parse_bend_arg(t)]), text, _valid_bends)


@SETTINGS
@given(st.sampled_from(_transform_names()), st.data())
def test_a_bend_parameter_out_of_its_range_is_refused_by_name(name, data):
    from swerve.diverge.bend import Bend
    from swerve.diverge.transforms import TRANSFORMS

    params = TRANSFORMS[name].params
    if not params:
        return
    key = data.draw(st.sampled_from(sorted(params)))
    value = data.draw(scalars)
    try:
        _valid_param(params[key], value)
        ok = True
    except AssertionError:
        ok = False
    if ok:
        assert Bend("conv:0", name, {key: value}).params[key] == value
    else:
        with pytest.raises(ConfigError, match=key):
            Bend("conv:0", name, {key: value})


def test_a_whole_number_parameter_takes_a_whole_float_as_an_int():
    from swerve.diverge.bend import Bend

    for value in (0.0, 2.0):
        radius = Bend("conv:0", "dilate", {"radius": value}).params["radius"]
        assert radius == value and type(radius) is int
    with pytest.raises(ConfigError, match="radius"):
        Bend("conv:0", "dilate", {"radius": 1.5})


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_whole_number_parameter_refuses_nan_and_infinity(value):
    from swerve.diverge.bend import Bend

    with pytest.raises(ConfigError, match="radius"):
        Bend("conv:0", "erode", {"radius": value})

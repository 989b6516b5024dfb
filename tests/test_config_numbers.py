"""NaN, infinity, strings and booleans where a number belongs are refused in every config (one helper,
swerve.errors.check_number), and counts such as steps are bounded."""

from __future__ import annotations

import inspect
import math

import pytest
import typer

from swerve.errors import MAX_STEPS, ConfigError, check_finite, check_number

BAD_FLOATS = [math.nan, math.inf, -math.inf, "fast", True, None, [1.0]]


def test_check_number_refuses_what_is_not_a_finite_number_in_range() -> None:
    for value in BAD_FLOATS:
        with pytest.raises(ConfigError, match="lr"):
            check_number("lr", value, 0, open_low=True)
    assert check_number("lr", 1, 0, open_low=True) == 1.0 and isinstance(check_number("x", 1), float)
    with pytest.raises(ConfigError, match=r"ema must be in \[0, 1\)"):
        check_number("ema", 1.0, 0, 1, open_high=True)
    with pytest.raises(ConfigError, match="positive integer up to 10,000,000"):
        check_number("steps", MAX_STEPS + 1, 1, MAX_STEPS, integer=True)
    with pytest.raises(ConfigError, match="must be an integer"):
        check_number("steps", 2.0, 1, integer=True)
    assert check_number("steps", 10**30, integer=True) == 10**30  # a huge int is no overflow
    with pytest.raises(ConfigError, match=r"params\.a\.b"):
        check_finite("params", {"a": {"b": [1.0, math.nan]}})


# --- training ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("field", ["lr_g", "lr_d", "gp_weight", "vae_sigma", "ema"])
@pytest.mark.parametrize("value", BAD_FLOATS)
def test_training_config_refuses_non_finite_and_non_numbers(field, value) -> None:
    from swerve.train import TrainConfig

    with pytest.raises(ConfigError, match=field):
        TrainConfig(**{field: value})


@pytest.mark.parametrize(
    ("field", "value"),
    [("steps", 0), ("steps", MAX_STEPS + 1), ("steps", 1.5), ("steps", True), ("batch_size", 10**9),
     ("latent_dim", 10**7), ("log_every", -1), ("checkpoint_every", MAX_STEPS + 1), ("n_critic", 0)],
)  # fmt: skip
def test_training_config_bounds_counts(field, value) -> None:
    from swerve.train import TrainConfig

    with pytest.raises(ConfigError, match=field):
        TrainConfig(**{field: value})


def test_training_config_refuses_non_finite_method_settings() -> None:
    from swerve.train import TrainConfig

    with pytest.raises(ConfigError, match=r"params\.weight"):
        TrainConfig(kind="can", params={"weight": math.inf})


@pytest.mark.parametrize("setting", ["lr_d=Infinity", "gp_weight=NaN", "lr_g=-Infinity", "ema=.nan"])
def test_train_command_refuses_non_finite_settings_before_training(cli, tmp_path, setting) -> None:
    out = tmp_path / "run"
    code, _, err = cli("train", "--preset", "digits-gan", "--set", setting, "--out", out, "--no-progress")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert setting.split("=")[0] in err and "finite" in err
    assert not out.exists()


# --- fine-tuning ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "field", ["lr", "lr_d", "alpha", "beta", "global_weight", "ema", "shift_fraction", "collapse_threshold"]
)
@pytest.mark.parametrize("value", BAD_FLOATS)
def test_finetune_config_refuses_non_finite_and_non_numbers(field, value) -> None:
    from swerve.diverge.finetune import FinetuneConfig

    with pytest.raises(ConfigError, match=field):
        FinetuneConfig(**{field: value})


@pytest.mark.parametrize(
    ("field", "value"),
    [("steps", MAX_STEPS + 1), ("steps", 2.5), ("trail_every", True), ("grid_size", 10**6),
     ("adaptive_layers", -1), ("away", "yes")],
)  # fmt: skip
def test_finetune_config_bounds_counts_and_switches(field, value) -> None:
    from swerve.diverge.finetune import FinetuneConfig

    with pytest.raises(ConfigError, match=field):
        FinetuneConfig(**{field: value})


# --- refinement -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "setting", "value"),
    [("dgflow", "eta", math.nan), ("dgflow", "gamma", math.inf), ("dgflow", "eta", "big"),
     ("dgflow", "steps", 2.5), ("dgflow", "steps", MAX_STEPS + 1), ("ddls", "eps", -math.inf),
     ("ddls", "decay", True), ("dot", "lr", math.inf), ("drs", "percentile", math.nan),
     ("mh", "k", math.inf)],
)  # fmt: skip
def test_refinement_settings_refuse_non_finite_and_wrong_types(method, setting, value) -> None:
    import swerve
    from swerve.refine import bundle_critic, initial_latents, run_method

    bundle = swerve.load("gaussians25-wgangp", device="cpu")
    critic, _ = bundle_critic(bundle, "discriminator")
    z, labels = initial_latents(bundle, 4, 0)
    with pytest.raises(ConfigError, match=setting):
        run_method(method, bundle, critic, z, labels=labels, **{setting: value})


@pytest.mark.parametrize("setting", ["eta=NaN", "gamma=Infinity", "steps=1e9"])
def test_refine_command_refuses_bad_settings(cli, tmp_path, setting) -> None:
    out = tmp_path / "r.png"
    code, _, err = cli("refine", "gaussians25-wgangp", "--n", "4", "--set", setting, "--out", out)
    assert code == 2 and len(err.strip().splitlines()) == 1 and setting.split("=")[0] in err, err
    assert not out.exists()


# --- sweeps -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_sweep_specs_refuse_non_finite_params(value) -> None:
    from swerve.scale import parse_spec

    spec = {"bundle": "fashion-gan", "jobs": [{"operation": "sample", "params": {"amount": value}}]}
    with pytest.raises(ConfigError, match=r"params\.amount must be finite"):
        parse_spec(spec)
    grid = {"bundle": "fashion-gan", "jobs": [{"operation": "sample", "grid": {"amount": [value, 0.1]}}]}
    with pytest.raises(ConfigError, match="finite"):
        parse_spec(grid)


# --- every float option of every command ------------------------------------------------------------------
def _commands(app: typer.Typer):
    for info in app.registered_commands:
        yield info.callback
    for group in app.registered_groups:
        yield from _commands(group.typer_instance)


def test_every_float_option_refuses_nan_and_infinity() -> None:
    from swerve.cli import bend, diverge, finetune, importer, look, make, measure, refine, scale, studio  # noqa: F401, I001
    from swerve.cli.main import app, finite

    options = [
        (command.__name__, name, param.default)
        for command in _commands(app)
        for name, param in inspect.signature(command).parameters.items()
        if str(param.annotation).startswith("float")
    ]
    assert len(options) >= 15  # finetune --lr, blend --alpha, novelty --sigma, scan --alpha-max, ...
    for command, name, option in options:
        assert isinstance(option, typer.models.OptionInfo) and option.callback is finite, (command, name)
    for text in ("nan", "inf", "-inf"):
        with pytest.raises(typer.BadParameter, match="finite"):
            finite(float(text))


@pytest.mark.parametrize(
    "args",
    [("blend", "fashion-gan", "fashion-gan", "--alpha", "nan"),
     ("finetune", "fashion-gan", "--method", "uncanny", "--lr", "inf"),
     ("diverge", "can", "--weight", "-inf"),
     ("scan", "fashion-gan", "--layer", "conv:0", "--alpha-max", "nan")],
)  # fmt: skip
def test_a_non_finite_option_is_one_line(cli, tmp_path, monkeypatch, args) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = cli(*args)
    assert code == 2 and len(err.strip().splitlines()) == 1 and args[-2] in err, err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "args",
    [("train", "--preset", "digits-gan", "--steps", "20000000"),
     ("diverge", "nodata", "--steps", "20000000"),
     ("ratio", "gaussians25-wgangp", "--steps", "20000000", "--out", "r"),
     ("finetune", "fashion-gan", "--method", "uncanny", "--steps", "20000000"),
     ("diverge", "novelty", "fashion-gan", "--budget", "20000000")],
)  # fmt: skip
def test_a_step_count_past_the_bound_is_one_line(cli, tmp_path, monkeypatch, args) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = cli(*args)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "10000000" in err.replace(",", ""), err
    assert list(tmp_path.iterdir()) == []

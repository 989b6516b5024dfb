"""The one exception type swerve raises for problems a user can fix.

The CLI turns a :class:`SwerveError` into one line on stderr and exit code 2; anything else is a bug.
"""

import math


class SwerveError(Exception):
    """A problem with the user's input: a missing file, a corrupt image, a bad config value."""


class ConfigError(SwerveError):
    """A config value of the wrong type or out of range."""


class BundleError(SwerveError):
    """A model bundle that cannot be read: missing, truncated, foreign or corrupt."""


class DataError(SwerveError):
    """A dataset that cannot be read or does not fit the model."""


class DatasetNotFound(DataError):
    """A known dataset whose files are not on this machine (and were not to be downloaded)."""


def require_positive_ints(owner: object, *names: str) -> None:
    """Raise ConfigError unless each named attribute of ``owner`` is a positive integer (bools excluded)."""
    for name in names:
        value = getattr(owner, name)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")


def check_betas(betas: object) -> list[float]:
    """Adam's two betas as floats; a ConfigError unless they are two numbers in [0, 1)."""
    if (
        not isinstance(betas, list | tuple)
        or len(betas) != 2
        or not all(isinstance(b, int | float) and not isinstance(b, bool) and 0 <= b < 1 for b in betas)
    ):
        raise ConfigError(f"betas must be two numbers in [0, 1), got {betas!r}")
    return [float(b) for b in betas]


# The most steps any training, fine-tuning or refinement run may ask for: more is a typo, not a plan.
MAX_STEPS = 10_000_000


def check_number(
    name: str,
    value: object,
    low: float | None = None,
    high: float | None = None,
    *,
    open_low: bool = False,
    open_high: bool = False,
    integer: bool = False,
) -> float | int:
    """``value`` as a float (an int with ``integer``); a ConfigError naming ``name`` unless it is a finite
    number (never a bool or a string) within ``low``..``high`` (``open_*``: the bound itself excluded)."""
    if isinstance(value, bool) or not isinstance(value, int if integer else int | float):
        raise ConfigError(f"{name} must be {'an integer' if integer else 'a number'}, got {value!r}")
    if not isinstance(value, int) and not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {value!r}")
    below = low is not None and (value <= low if open_low else value < low)
    above = high is not None and (value >= high if open_high else value > high)
    if below or above:
        raise ConfigError(f"{name} must be {_range(low, high, open_low, open_high, integer)}, got {value!r}")
    return int(value) if integer else float(value)


def _range(low: float | None, high: float | None, open_low: bool, open_high: bool, integer: bool) -> str:
    """The allowed range in words: 'positive', 'a positive integer up to 1,000', 'in [0, 1)'."""
    most = "" if high is None else f" up to {high:,}"
    if integer and low == 1 and not open_low and not open_high:
        return "a positive integer" + most
    if integer and low == 0 and not open_low and not open_high:
        return "0 or a positive integer" + most
    if low == 0 and high is None:
        return "positive" if open_low else "non-negative"
    if low is not None and high is not None:
        return f"in {'(' if open_low else '['}{low:g}, {high:g}{')' if open_high else ']'}"
    if low is not None:
        return f"{'>' if open_low else '>='} {low:g}"
    return f"{'<' if open_high else '<='} {high:g}"


def check_finite(name: str, value: object) -> None:
    """Raise ConfigError if ``value`` (a number, or lists/mappings of them at any depth) holds NaN or inf."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{name} must be finite, got {value!r}")
    if isinstance(value, dict):
        for key, item in value.items():
            check_finite(f"{name}.{key}", item)
    elif isinstance(value, list | tuple):
        for item in value:
            check_finite(name, item)


def key_list(keys: object) -> str:
    """Mapping keys for a one-line message: sorted as text, a key with a line break or other
    unprintable character shown quoted (``'a\\nb'``), so a message stays one line."""
    shown = (str(k) if str(k).isprintable() else repr(str(k)) for k in keys)
    return ", ".join(sorted(shown))

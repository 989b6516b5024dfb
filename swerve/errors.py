"""The one exception type swerve raises for problems a user can fix.

The CLI turns a :class:`SwerveError` into one line on stderr and exit code 2; anything else is a bug.
"""


class SwerveError(Exception):
    """A problem with the user's input: a missing file, a corrupt image, a bad config value."""


class ConfigError(SwerveError):
    """A config value of the wrong type or out of range."""


class BundleError(SwerveError):
    """A model bundle that cannot be read: missing, truncated, foreign or corrupt."""


class DataError(SwerveError):
    """A dataset that cannot be read or does not fit the model."""


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

"""The ``swerve`` command: a thin layer over the Python API.

Every command parses its arguments, calls the API, and prints a short human summary or, with ``--json``, one
JSON document. Problems a user can fix end with one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import json
import sys
import warnings
from typing import Any

import typer

from swerve.errors import SwerveError

app = typer.Typer(
    name="swerve",
    help="Active divergence with deep generative models: make, diverge, refine, measure, look.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def emit(result: dict[str, Any], as_json: bool, summary: str) -> None:
    """Print ``result`` as JSON, or the one-line ``summary`` for people."""
    if as_json:
        typer.echo(json.dumps(result, indent=2, default=str))
    else:
        typer.echo(summary)


def register_commands() -> typer.Typer:
    """Import every command module, which registers its commands on ``app`` in the loop's order."""
    from swerve.cli import make, importer, look, bend, diverge, finetune, refine, measure, scale, studio  # noqa: F401, I001
    from swerve.cli import doctor  # noqa: F401

    return app


def main() -> None:
    """Entry point: run the app and turn user errors into one clear line and exit code 2."""
    register_commands()
    warnings.formatwarning = lambda message, *args, **kwargs: f"warning: {message}\n"
    try:
        code = app(standalone_mode=False)
    except typer.Abort:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except SwerveError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except OSError as exc:
        name = f" {exc.filename}" if exc.filename else ""
        typer.echo(f"error:{name}: {exc.strerror or exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:
        if not _is_usage_error(exc):
            raise
        message = exc.format_message()
        if message:  # no message: the help text was shown, as for a bare `swerve`
            typer.echo(f"error: {message}", err=True)
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)


def _is_usage_error(exc: Exception) -> bool:
    """Click's (and Typer's vendored click's) usage errors: an unknown option, a value out of range, ..."""
    return hasattr(exc, "format_message") and hasattr(exc, "exit_code") and not isinstance(exc, SwerveError)

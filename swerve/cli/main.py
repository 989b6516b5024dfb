"""The ``swerve`` command: a thin layer over the Python API.

Every command parses its arguments, calls the API, and prints a short human summary or, with ``--json``, one
JSON document. Problems a user can fix end with one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import math
import sys
import warnings
from typing import Any

import typer

from swerve.errors import SwerveError
from swerve.utils import json_text

app = typer.Typer(
    name="swerve",
    help="Active divergence with deep generative models: make, diverge, refine, measure, look.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,  # plain help: wraps at any width instead of cutting words off, and loads faster
)


@app.callback()
def _options(
    trust: list[str] = typer.Option(
        [],
        "--trust",
        metavar="MODULE",
        help="Let bundles use network classes from MODULE (and its submodules); importing it runs its code, "
        "so name only modules you trust. Repeatable; SWERVE_TRUST=a,b does the same.",
    ),
) -> None:
    """Active divergence with deep generative models: make, diverge, refine, measure, look."""
    if trust:
        from swerve.bundle import trust as trust_modules

        trust_modules(*trust)


def emit(result: dict[str, Any], as_json: bool, summary: str) -> None:
    """Print ``result`` as JSON, or the one-line ``summary`` for people."""
    if as_json:
        typer.echo(json_text(result, mark=True, indent=2, default=str))
    else:
        typer.echo(summary)


# One line per command, by its path, for the command lists: short enough for 80 columns (click cuts longer).
SHORT_HELP = {
    "train": "Train a GAN, VAE or classifier from a recipe or a config.",
    "import": "Import a StyleGAN2/3 checkpoint as a bundle, running no code.",
    "sample": "Draw samples: a PNG grid, an .npz or an image folder.",
    "walk": "A looping latent walk as a GIF or MP4.",
    "info": "What a bundle holds and what was done to it.",
    "demo": "Write report.html: every method, shown on the zoo.",
    "layers": "The generator's layers and its conv:i / linear:i shortcuts.",
    "clusters": "Group a layer's channels that respond alike.",
    "bend": "Bend layers: bent samples, an animation or a bent bundle.",
    "blend": "Blend models: interpolate, merge, task vectors, mix outputs.",
    "glitch": "Glitch the generator's weights, reproducibly from a seed.",
    "rewrite": "Rewrite a layer to paste a region of one sample into another.",
    "finetune": "Fine-tune away from the data, keeping a checkpoint trail.",
    "chain": "Run a chain of operations, recorded in the model's history.",
    "refine": "Refine samples with a critic (DGflow or a baseline).",
    "ratio": "Train a density-ratio estimator: data against samples.",
    "scan": "Subset-scan activations: which samples and units stand out.",
    "measure": "The divergence map: novelty against quality.",
    "sweep": "Run a sweep of jobs; running it again resumes it.",
    "studio": "Play with a model in the browser.",
    "react": "A music video: a track's sound drives the pictures.",
    "project": "Find the latent from which a model best remakes a picture.",
    "translate": "Render a picture through a pix2pix model (with its bends).",
    "doctor": "What this machine has, and how to get the rest.",
    "zoo": "The shipped models: list them or rebuild one.",
    "diverge": "Diverge while making: push a model from its data.",
    "trail": "A fine-tuning trail: show it, export a step.",
    "diverge novelty": "Latent novelty search: an archive of novel codes.",
    "diverge digits-not": "Digits that are not: fixed points of a sparse autoencoder.",
    "diverge iterate": "Iterated learning: retrain on the most novel samples.",
    "diverge held-out": "Out-of-class novelty of models trained without classes.",
    "diverge can": "Train a creative adversarial network (CAN).",
    "diverge nodata": "Train two generators and a discriminator without data.",
    "zoo list": "The shipped models and what they are.",
    "zoo build": "Train a zoo model from its recipe.",
    "data": "Image folders: survey one, or prepare it once for training.",
    "data info": "Count a folder's images, sizes, classes, bad files, duplicates.",
    "data prepare": "Decode, crop and resize a folder once into a training cache.",
    "rate": "Blind rating sessions and their agreement with the measures.",
    "rate new": "Start a blind, shuffled rating session.",
    "rate list": "The rating sessions in a store, newest first.",
    "rate report": "Agreement between raters, and of each measure with them.",
    "trail show": "Render a trail: an image, a GIF and a plot of its metrics.",
    "trail export": "Export one step of a trail as a bundle.",
}


def _shorten(typer_app: typer.Typer, prefix: str = "") -> None:
    """Give every command and group of ``typer_app`` (recursively) its line from SHORT_HELP, by its path."""
    for info in typer_app.registered_commands:
        name = info.name or (info.callback.__name__.replace("_", "-") if info.callback else "")
        info.short_help = info.short_help or SHORT_HELP.get(prefix + name)
    for group in typer_app.registered_groups:
        path = prefix + (group.name or "")
        group.short_help = group.short_help or SHORT_HELP.get(path)
        if group.typer_instance is not None:
            _shorten(group.typer_instance, path + " ")


def register_commands() -> typer.Typer:
    """Import every command module, which registers its commands on ``app`` in the loop's order."""
    from swerve.cli import make, data, importer, look, bend, diverge, project  # noqa: F401, I001
    from swerve.cli import finetune, refine, measure, scale, studio, react, rate, doctor  # noqa: F401, I001

    _shorten(app)
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


# Every command that writes --out takes this flag; without it nothing that exists is replaced, and with it
# only swerve's own output is (see swerve.outputs).
OVERWRITE = typer.Option(
    False, "--overwrite", help="Replace an existing --out (a folder only if swerve wrote it)."
)


def finite(value: float | None) -> float | None:
    """Typer callback for every float option: NaN and infinity are refused like any other bad value."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"must be a finite number, got {value}")
    return value

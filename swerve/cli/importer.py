"""``swerve import``: turn a foreign StyleGAN checkpoint into a swerve bundle."""

from __future__ import annotations

from pathlib import Path

import typer

from swerve.cli.main import OVERWRITE, app, emit


@app.command("import")
def import_checkpoint(
    file: Path = typer.Argument(..., help="A rosinality .pt or an NVIDIA stylegan2-ada / stylegan3 .pkl."),
    out: Path = typer.Option(..., "--out", help="Bundle directory to write."),
    name: str = typer.Option(None, help="Bundle name (default: the file's stem)."),
    fmt: str = typer.Option(None, "--format", help="nvidia or rosinality (default: detect from content)."),
    overwrite: bool = OVERWRITE,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Import a StyleGAN2/3 checkpoint without running code from it, and save it as a bundle."""
    from swerve.bundle import check_bundle_target
    from swerve.models.importers import import_model

    check_bundle_target(out, overwrite)  # before the import, not after it
    bundle = import_model(file, name=name, fmt=fmt)
    bundle.save(out)
    g = bundle.generator
    result = {
        "out": str(out),
        "name": bundle.name,
        "format": bundle.training.get("format"),
        "architecture": type(g).__name__,
        "config": g.config.__dict__,
        "networks": sorted(bundle.networks),
    }
    emit(result, as_json, f"imported {file} ({type(g).__name__}, {g.config.resolution}px) into {out}")

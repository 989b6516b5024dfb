"""``swerve sweep``: many (operation x parameters x seed) jobs, cached, resumable, on local workers or Ray."""

from __future__ import annotations

from pathlib import Path

import typer

from swerve.cli.main import app, emit


@app.command()
def sweep(
    spec: Path = typer.Argument(..., help="A YAML or JSON sweep spec (see swerve.scale.sweep)."),
    out: Path = typer.Option(None, help="Results folder (default: sweeps/NAME); finished jobs are reused."),
    workers: int = typer.Option(1, help="Jobs at a time: 1 runs here; more use a process pool (or Ray)."),
    backend: str = typer.Option(
        "local", help="local (process pool) or ray (the 'ray' extra; a cluster through RAY_ADDRESS)."
    ),
    progress: bool = typer.Option(True, help="Show a progress bar."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Run a sweep; Ctrl-C lets running jobs finish, and running it again continues where it stopped."""
    from swerve.scale import load_spec, run_sweep

    parsed = load_spec(spec)
    folder = out or Path("sweeps") / parsed.name
    result = run_sweep(parsed, folder, workers=workers, backend=backend, progress=progress)
    summary = (
        f"{len(result.results)}/{result.total} jobs done ({result.ran} run now, {result.cached} cached"
        + (f", {len(result.failed)} failed" if result.failed else "")
        + f"); results: {folder / 'results.json'}"
        + ("; interrupted: run again to continue" if result.interrupted else "")
    )
    for failure in result.failed:
        typer.echo(f"job {failure['key']} failed: {failure['error']}", err=True)
    emit(
        {
            "out": str(folder),
            "total": result.total,
            "ran": result.ran,
            "cached": result.cached,
            "failed": result.failed,
            "interrupted": result.interrupted,
            "results": result.results,
        },
        as_json,
        summary,
    )
    if result.interrupted:
        raise typer.Exit(130)
    if result.failed:
        raise typer.Exit(2)

"""``swerve rate``: blind rating sessions, and how well the automatic measures agree with people."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from swerve.cli.main import app, emit
from swerve.errors import ConfigError

rate_app = typer.Typer(
    help="Rate pictures blind (novelty and value, or pairwise), and compare with the measures."
)
app.add_typer(rate_app, name="rate")

DB_HELP = "The project store (the studio keeps it at <out>/swerve.db)."


@rate_app.command("new")
def new(
    source: str = typer.Option(
        ...,
        "--from",
        help="An .npz of samples, a sweep folder (or its results.json), a folder of PNGs, or 'gallery'.",
    ),
    out: Path = typer.Option(Path("studio-out/swerve.db"), "--out", "--db", help=DB_HELP),
    kind: str = typer.Option(
        "scores", help="scores (novelty and value, 1 to 5) or pairwise (more surprising)."
    ),
    name: str = typer.Option(None, help="The session's name (default session-N)."),
    seed: int = typer.Option(0, min=0, help="Seed of the shuffle (and of the pairs)."),
    pairs: int = typer.Option(
        None, min=1, help="Pairwise: how many comparisons (default three per picture)."
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Start a blind, shuffled rating session; rate it in `swerve studio --out` the store's folder."""
    from swerve.look.rating import new_session
    from swerve.look.store import Store

    if kind not in ("scores", "pairwise"):
        raise ConfigError(f"--kind must be scores or pairwise, got {kind!r}")
    if out.suffix != ".db":
        raise ConfigError(f"--out names the store file and ends in .db, got {out}")
    store = Store(out)
    session = store.session(new_session(store, source, kind=kind, name=name, seed=seed, pairs=pairs))
    emit(
        {"session": session, "db": str(out)},
        as_json,
        f"session {session['name']} (id {session['id']}): {session['items']} {kind} items in {out}",
    )


@rate_app.command("list")
def list_sessions(
    db: Path = typer.Option(Path("studio-out/swerve.db"), "--db", help=DB_HELP),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The rating sessions in a store, newest first."""
    from swerve.look.store import Store

    store = _open(db, Store)
    sessions = store.sessions()
    lines = [f"{s['id']:>4}  {s['name']}  {s['kind']}  {s['items']} items  ({s['source']})" for s in sessions]
    emit({"sessions": sessions}, as_json, "\n".join(lines) or f"no sessions in {db}")


@rate_app.command("report")
def report_cmd(
    session: str = typer.Argument(..., help="The session's name or id."),
    db: Path = typer.Option(Path("studio-out/swerve.db"), "--db", help=DB_HELP),
    csv_out: Path = typer.Option(None, "--csv", help="Write the correlations as CSV here."),
    plots: Path = typer.Option(None, "--plots", help="Write a scatter plot per measure into this folder."),
    boot: int = typer.Option(1000, min=10, max=100_000, help="Bootstrap resamples for the intervals."),
    seed: int = typer.Option(0, min=0, help="Seed of the bootstrap."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Inter-rater agreement (Krippendorff's alpha) and each measure's rank agreement with the mean human
    scores (Spearman, Kendall, bootstrap intervals), best first."""
    from swerve.look.rating import report, write_csv, write_plots
    from swerve.look.store import Store
    from swerve.studio.finite import finite_json

    result = report(_open(db, Store), session, n_boot=boot, seed=seed)
    if csv_out is not None:
        write_csv(result, csv_out)
    if plots is not None:
        result["plots"] = [str(p) for p in write_plots(result, plots)]
    if as_json:
        typer.echo(json.dumps(finite_json(result), indent=2, allow_nan=False))
        return
    typer.echo(_summary(result))


def _open(db: Path, store_class: type):  # noqa: ANN202
    if not db.is_file():
        raise ConfigError(f"no store at {db} (make one with swerve rate new, or keep pictures in the studio)")
    return store_class(db)


def _summary(result: dict) -> str:
    s = result["session"]
    lines = [f"session {s['name']}: {result['ratings']} ratings by {len(result['raters'])} rater(s)"]
    for target, found in result["agreement"].items():
        alphas = ", ".join(f"{k[6:]} {_num(v)}" for k, v in found.items() if k.startswith("alpha_"))
        lines.append(f"  agreement on {target}: Krippendorff's alpha {alphas}")
    for row in result["measures"]:
        rho, tau = row["spearman"], row["kendall"]
        if rho is None:
            lines.append(f"  {row['target']} ~ {row['measure']}: {'; '.join(row['notes'])}")
            continue
        lines.append(
            f"  {row['target']} ~ {row['measure']}:"
            f" rho {rho['r']:+.2f} [{_num(rho['low'])}, {_num(rho['high'])}]"
            f"  tau {tau['r']:+.2f} [{_num(tau['low'])}, {_num(tau['high'])}]  n={row['n']}"
            + (f", missing for {len(row['missing'])}: {row['missing'][0]['why']}" if row["missing"] else "")
        )
    for target, best in result["best"].items():
        lines.append(f"  best agreement with {target}: {best or 'none (nothing to correlate)'}")
    return "\n".join(lines)


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.2f}"

"""``swerve train`` and ``swerve zoo``: making models."""

from __future__ import annotations

import json
from pathlib import Path

import typer
import yaml

from swerve.cli.main import OVERWRITE, app, emit
from swerve.errors import ConfigError

zoo_app = typer.Typer(
    help="The small models swerve ships: list them, or rebuild one from its recipe.", rich_markup_mode=None
)
app.add_typer(zoo_app, name="zoo")


def _parse_overrides(pairs: list[str]) -> dict:
    values = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set takes key=value, got {pair!r}")
        try:
            values[key.strip()] = json.loads(raw)  # numbers like 1e-4, lists, true/false
        except json.JSONDecodeError:
            try:
                values[key.strip()] = yaml.safe_load(raw)  # bare words: fashion-mnist, folder:./images
            except yaml.YAMLError:
                raise ConfigError(f"--set {key.strip()}: cannot read the value {raw!r}") from None
    return values


@app.command()
def train(
    config: Path = typer.Argument(
        None, help="A YAML or JSON training config (see swerve.train.TrainConfig)."
    ),
    preset: str = typer.Option(None, help="Start from a zoo recipe instead of a file, e.g. fashion-gan."),
    out: Path = typer.Option(None, help="Run directory (default: runs/NAME)."),
    resume: bool = typer.Option(False, help="Continue the run in --out from its last checkpoint."),
    steps: int = typer.Option(None, help="Override the number of steps."),
    seed: int = typer.Option(None, help="Override the seed."),
    device: str = typer.Option(None, help="cpu, cuda, mps or auto."),
    set_: list[str] = typer.Option(
        [], "--set", help="Override any config field: --set lr_g=1e-4 (repeatable)."
    ),
    progress: bool = typer.Option(True, help="Show a progress bar."),
    launcher: str = typer.Option(
        "none",
        help="'accelerate' trains data-parallel on several processes or GPUs (the 'accelerate' extra).",
    ),
    processes: int = typer.Option(
        None, help="With --launcher accelerate: how many processes (default: accelerate's own config)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Train a GAN, VAE or classifier; Ctrl-C saves a checkpoint that --resume continues exactly."""
    from swerve.train import Trainer
    from swerve.train.distributed import launch_command, launched, make_accelerator
    from swerve.zoo.recipes import train_config

    if launcher not in ("none", "accelerate"):
        raise ConfigError(f"--launcher must be none or accelerate, got {launcher!r}")
    flags = {"steps": steps, "seed": seed, "device": device}
    overrides = {**_parse_overrides(set_), **{k: v for k, v in flags.items() if v is not None}}
    cfg = train_config(preset, config, overrides)
    if launcher == "accelerate" and not launched():
        # The config is checked first (a bad one is one line here, not one per process); then start
        # `accelerate launch -m swerve train ...` with the same arguments.
        import subprocess
        import sys

        cmd, env = launch_command(sys.argv[1:], processes)
        raise typer.Exit(subprocess.call(cmd, env=env))

    run_dir = out or Path("runs") / cfg.name
    accelerator = make_accelerator(cfg.device) if launched() else None  # also `accelerate launch -m swerve`
    result = Trainer(cfg, run_dir, resume=resume, progress=progress, accelerator=accelerator).fit()
    if accelerator is not None and not accelerator.is_main_process:
        raise typer.Exit(130 if result.interrupted else 0)  # the main process reports
    state = "interrupted at" if result.interrupted else "finished at"
    emit(
        {
            "run_dir": str(run_dir),
            "step": result.step,
            "interrupted": result.interrupted,
            "bundle": str(result.bundle_path),
            "stats": result.last_stats,
            "config": cfg.to_dict(),
        },
        as_json,
        f"{state} step {result.step}; bundle: {result.bundle_path}"
        + ("; continue with --resume" if result.interrupted else ""),
    )
    if result.interrupted:
        raise typer.Exit(130)


@zoo_app.command("list")
def zoo_list(as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """The shipped models and what they are."""
    from swerve.zoo import DESCRIPTIONS, describe, read_config, zoo_names

    shipped = set(zoo_names())
    rows = []
    for name in sorted(shipped | set(DESCRIPTIONS)):
        row: dict = {"name": name, "shipped": name in shipped}
        config = read_config(name)  # JSON only: listing builds no network
        if config is not None:
            row.update(networks=sorted(config["networks"]), dataset=config["data"].get("dataset"))
            row["shape"] = config["data"].get("shape")
        row["description"] = describe(name, config)
        rows.append(row)
    where = {r["name"]: (r.get("dataset") or "-") if r["shipped"] else "(not built)" for r in rows}
    lines = [f"{r['name']:<20} {where[r['name']]:<14} {r['description']}" for r in rows]
    emit({"models": rows}, as_json, "\n".join(lines))


@zoo_app.command("build")
def zoo_build(
    name: str = typer.Argument(..., help="Recipe name (see swerve zoo list)."),
    out: Path = typer.Option(None, help="Where to write the bundle (default: into the installed zoo)."),
    run_dir: Path = typer.Option(
        None, help="Run directory for checkpoints and grids (default: runs/zoo-NAME)."
    ),
    resume: bool = typer.Option(False, help="Continue an interrupted build."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
    overwrite: bool = OVERWRITE,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Train a zoo model from its recipe, exactly as the shipped one was made."""
    from swerve.zoo import BUNDLES
    from swerve.zoo.build import build

    target = out or BUNDLES / name
    result = build(
        name, target, run_dir or Path("runs") / f"zoo-{name}", resume, progress, overwrite=overwrite
    )
    if result.get("interrupted"):
        emit(result, as_json, f"interrupted at step {result['step']}; continue with --resume")
        raise typer.Exit(130)
    emit(result, as_json, f"built {name} -> {target}")

"""``swerve finetune`` and ``swerve trail``: divergent fine-tuning and looking at its checkpoint trail."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from swerve.cli.main import OVERWRITE, app, emit, finite
from swerve.cli.make import _parse_overrides
from swerve.errors import MAX_STEPS, ConfigError
from swerve.outputs import check_folder, check_outputs
from swerve.utils import json_text, write_text_atomic

trail_app = typer.Typer(
    help="A fine-tuning run's checkpoint trail: show it, export any step as a bundle.", rich_markup_mode=None
)
app.add_typer(trail_app, name="trail")


def _classes(items: list[str], scorer: str) -> list[int]:
    """Class ids from ids or names (names looked up in the scorer bundle's classes)."""
    if not items:
        return []
    names: list[str] = []
    if any(not item.isdigit() for item in items):
        from swerve import load

        names = load(scorer, device="cpu").data.classes if scorer else []
    picked = []
    for item in items:
        if item.isdigit():
            picked.append(int(item))
        elif item in names:
            picked.append(names.index(item))
        else:
            raise ConfigError(
                f"unknown class {item!r}; give ids or one of: {', '.join(names) or '(no names)'}"
            )
    return picked


@app.command()
def finetune(
    bundle: str = typer.Argument(..., help="Bundle directory or zoo name to start from."),
    method: str = typer.Option(..., help="cross-domain, domain-shift, uncanny, guided or nada."),
    out: Path = typer.Option(None, help="Run directory (default: runs/ + bundle + method)."),
    resume: bool = typer.Option(
        False, help="Continue the run in --out from its last checkpoint, with its own settings."
    ),
    steps: int = typer.Option(None, min=1, max=MAX_STEPS, help="Fine-tuning steps (default 300)."),
    trail_every: int = typer.Option(50, min=1, help="A trail entry (weights, grid, metrics) every N steps."),
    lr: float = typer.Option(2e-4, help="The generator's learning rate.", callback=finite),
    batch_size: int = typer.Option(16, min=1, help="Samples per step."),
    seed: int = typer.Option(0, help="Seed for latents, data order and the trail's fixed latents."),
    freeze: list[str] = typer.Option([], help="A generator layer to leave untouched (repeatable)."),
    dataset: str = typer.Option("", help="cross-domain, domain-shift: the data to train on."),
    loss: str = typer.Option("inverted", help="uncanny: 'inverted' or the gentler 'log'."),
    scorer: str = typer.Option("", help="guided: a bundle whose classifier scores the samples."),
    target: list[str] = typer.Option([], help="guided: a class (id or name) to move towards (repeatable)."),
    away: bool = typer.Option(False, help="guided: move away from the target classes instead."),
    alpha: float = typer.Option(1.0, help="guided: weight of the scorer.", callback=finite),
    beta: float = typer.Option(
        0.0, help="guided: weight of the frozen discriminator's realism anchor.", callback=finite
    ),
    text: str = typer.Option("", help="nada: text describing what the model should make."),
    source: str = typer.Option("photo", help="nada: text describing what it makes now."),
    clip: str = typer.Option(
        "ViT-B-32", help="nada: open_clip model name (needs the clip extra), or 'tiny'."
    ),
    set_: list[str] = typer.Option([], "--set", help="Any FinetuneConfig field: --set shift_fraction=0.5."),
    device: str = typer.Option("auto", help="cpu, cuda, mps or auto."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Fine-tune a bundle away from its data, keeping a checkpoint trail; Ctrl-C keeps the trail and a
    checkpoint that --resume continues exactly."""
    from swerve.diverge.finetune import FinetuneConfig
    from swerve.diverge.finetune import finetune as run_finetune
    from swerve.diverge.finetune.trail import missing_note

    values = dict(
        method=method, steps=steps, trail_every=trail_every, lr=lr, batch_size=batch_size, seed=seed,
        freeze=list(freeze), dataset=dataset, loss=loss, scorer=scorer, target=_classes(target, scorer),
        away=away, alpha=alpha, beta=beta, text=text, source=source, clip=clip, device=device,
    )  # fmt: skip
    values.update(_parse_overrides(set_))
    run_dir = out or Path("runs") / f"{Path(bundle).name}-{method}"
    check_folder(run_dir, "run")  # its config.json is read below only if swerve wrote it
    saved = run_dir / "config.json"
    if resume and saved.is_file():  # the run's own config; only --steps and --device may change
        previous = {k: v for k, v in json.loads(saved.read_text()).items() if k != "start"}
        values = {**previous, "steps": steps or previous["steps"], "device": device}
    values["steps"] = values["steps"] or 300
    cfg = FinetuneConfig.from_dict(values)
    result = run_finetune(bundle, cfg, run_dir, resume=resume, progress=progress)
    if result.collapse_step is not None:
        state = f"collapsed at step {result.collapse_step}; kept step {result.kept_step}"
    else:
        state = ("interrupted at" if result.interrupted else "finished at") + f" step {result.step}"
    emit(
        {
            "run_dir": str(run_dir),
            "step": result.step,
            "interrupted": result.interrupted,
            "collapse_step": result.collapse_step,
            "kept_step": result.kept_step,
            "bundle": str(result.bundle_path),
            "trail": result.trail.metrics(),
            "config": cfg.to_dict(),
        },
        as_json,
        f"{state}; bundle: {result.bundle_path}; trail: {len(result.trail.steps())} entries "
        f"(swerve trail show {run_dir})"
        + ("; continue with --resume" if result.interrupted else "")
        + _note(missing_note(result.trail.metrics())),
    )
    if result.interrupted:
        raise typer.Exit(130)


def _note(text: str) -> str:
    """``text`` on a line of its own, or nothing."""
    return f"\n{text}" if text else ""


def _trail(run_dir: Path):
    from swerve.diverge.finetune import Trail

    trail = Trail(run_dir / "trail" if (run_dir / "trail").is_dir() else run_dir)
    trail.base()  # a clear error when this is no trail
    return trail


@trail_app.command("show")
def trail_show(
    run_dir: Path = typer.Argument(..., help="A fine-tuning run directory (or its trail/ folder)."),
    out: Path = typer.Option(None, help="The picture, one row per step (default: RUN_DIR/trail.png)."),
    gif: Path = typer.Option(None, help="The animation, one frame per step (default: RUN_DIR/trail.gif)."),
    per_row: int = typer.Option(8, min=1, help="Samples per row of the picture."),
    overwrite: bool = OVERWRITE,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Render a trail as one image (rows = steps), a GIF and a plot of its metrics; list the metrics."""
    out = out or run_dir / "trail.png"
    gif = gif or run_dir / "trail.gif"
    curves = out.with_name(out.stem + "-metrics.png")
    check_outputs([out, gif, curves, out.with_name(out.name + ".json")], overwrite)
    trail = _trail(run_dir)
    from swerve.diverge.finetune.trail import CURVE_COLOURS, missing_note, trail_curves

    trail.render(out, per_row=per_row)
    trail.animate(gif)
    metrics = trail.metrics()
    trail_curves(metrics, list(CURVE_COLOURS) + ["clip_target"], title=str(run_dir.name), path=curves)
    record = {
        "run_dir": str(run_dir),
        "image": str(out),
        "gif": str(gif),
        "curves": str(curves),
        "metrics": metrics,
    }
    config = trail.directory.parent / "config.json"
    if config.is_file():
        record["config"] = json.loads(config.read_text())
    collapse = trail.directory / "collapse.json"
    if collapse.is_file():
        record["collapse"] = json.loads(collapse.read_text())
    write_text_atomic(out.with_name(out.name + ".json"), json_text(record, mark=True, indent=2) + "\n")
    keys = [k for k in metrics[0] if k not in ("step", "missing")][:5] if metrics else []
    lines = ["step " + " ".join(f"{k:>10}" for k in keys)]
    lines += [
        f"{m['step']:>4} " + " ".join(f"{m.get(k, float('nan')):>10.4g}" for k in keys) for m in metrics
    ]
    if "collapse" in record:
        c = record["collapse"]
        lines.append(f"collapse at step {c['collapse_step']}; the run kept step {c['kept_step']}")
    note = missing_note(metrics)
    lines += [note] if note else []
    emit(record, as_json, "\n".join(lines) + f"\nwrote {out}, {curves} and {gif}")


@trail_app.command("export")
def trail_export(
    run_dir: Path = typer.Argument(..., help="A fine-tuning run directory (or its trail/ folder)."),
    step: int = typer.Option(..., help="The trail step to export."),
    out: Path = typer.Option(..., help="Where to write the bundle."),
    overwrite: bool = OVERWRITE,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Export one step of a trail as a full bundle (its history says which run and step)."""
    from swerve.bundle import check_bundle_target

    check_bundle_target(out, overwrite)
    bundle = _trail(run_dir).export(step)
    bundle.save(out)
    emit({"bundle": str(out), "name": bundle.name, "step": step}, as_json, f"wrote {bundle.name} -> {out}")


@app.command()
def chain(
    bundle: str = typer.Argument(..., help="Bundle directory or zoo name to start from."),
    recipe: Path = typer.Argument(..., help="YAML list of steps, e.g. '- {op: finetune, method: uncanny}'."),
    out: Path = typer.Option(..., help="Where to write the final bundle."),
    workdir: Path = typer.Option(None, help="Each step's files (default: OUT.steps); reruns skip done ones."),
    samples: Path = typer.Option(None, help="Also draw the result's samples (bends, refinement) as a PNG."),
    n: int = typer.Option(64, min=1, help="How many samples --samples draws."),
    seed: int = typer.Option(0, help="Seed for --samples."),
    device: str = typer.Option(None, help="cpu, cuda, mps or auto."),
    progress: bool = typer.Option(True, help="Show progress bars."),
    overwrite: bool = OVERWRITE,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Run a chain of operations (fine-tune, bend, glitch, blend, refine) and record it in the history."""
    from swerve import load
    from swerve.bundle import check_bundle_target
    from swerve.diverge.chain import OPERATIONS, Pipeline, sample_chain
    from swerve.look.grid import make_grid, save_image, upscale
    from swerve.look.plot import scatter_points

    if samples is not None and samples.suffix.lower() != ".png":
        raise ConfigError(f"--samples must end in .png, got {samples}")
    check_bundle_target(out, overwrite)
    if samples is not None:
        check_outputs([samples, samples.with_name(samples.name + ".json")], overwrite)
    check_folder(workdir or out.with_name(out.name + ".steps"), "chain")
    pipeline = Pipeline.from_file(recipe)
    start = load(bundle, device=device)
    result = pipeline.run(start, workdir or out.with_name(out.name + ".steps"), progress=progress)
    result.save(out)
    record = {"bundle": str(out), "chain": result.history[-1], "operations": sorted(OPERATIONS)}
    if samples is not None:
        drawn = sample_chain(result, n, seed=seed, progress=progress)
        if result.data.is_image:
            save_image(upscale(make_grid(drawn.x, value_range=tuple(result.data.range))), samples)
        else:
            scatter_points(drawn.x, path=samples, title=result.name)
        record.update(samples=str(samples), n=n, seed=seed, recipe=drawn.recipe)
        write_text_atomic(
            samples.with_name(samples.name + ".json"), json_text(record, mark=True, indent=2) + "\n"
        )
    ops = " → ".join(s.op for s in pipeline.steps)
    emit(record, as_json, f"{ops}: wrote {result.name} -> {out}" + (f" and {samples}" if samples else ""))

"""``swerve refine`` and ``swerve ratio``: refining samples with a critic, and training a density ratio."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from swerve.cli.main import OVERWRITE, app, emit
from swerve.cli.make import _parse_overrides
from swerve.errors import MAX_STEPS, ConfigError
from swerve.outputs import check_outputs
from swerve.utils import atomic_path, json_text, write_text_atomic

if TYPE_CHECKING:
    import torch

    from swerve.bundle import Bundle


def _critic(bundle: Bundle, name: str, classifier: str | None, method: str, params: dict):
    """``auto``, ``ratio``, ``discriminator``, or ``class:NAME`` (a class of ``--classifier``'s model); a
    discriminator that is not a density ratio is refused for a method that needs one."""
    from swerve.bundle import load
    from swerve.refine import bundle_critic, class_critic

    if not name.startswith("class:"):
        return bundle_critic(bundle, name, method, params)
    source = load(classifier, device=str(bundle.device)) if classifier else bundle
    if list(source.data.shape) != list(bundle.data.shape):
        raise ConfigError(
            f"{source.name}'s classifier reads shape {tuple(source.data.shape)}, "
            f"but {bundle.name} makes {tuple(bundle.data.shape)}"
        )
    classes = source.data.classes
    wanted = name.split(":", 1)[1]
    if wanted.isdigit() and (not classes or int(wanted) < len(classes)):
        target = int(wanted)
    elif wanted in classes:
        target = classes.index(wanted)
    else:
        raise ConfigError(f"unknown class {wanted!r}; classes: {', '.join(classes) or 'none'}")
    return class_critic(source.classifier, target), name


@app.command()
def refine(
    bundle_name: str = typer.Argument(..., metavar="BUNDLE", help="Bundle directory or zoo name."),
    method: str = typer.Option("dgflow", help="dgflow, ddls, dot, drs or mh."),
    out: Path = typer.Option(
        None,
        help="Grid or scatter plot (.png, the default); a text model's strings (.txt, the default, or "
        ".jsonl). Arrays go beside it.",
    ),
    n: int = typer.Option(500, min=1, max=100_000, help="Number of samples."),
    seed: int = typer.Option(0, min=0, help="Seed for the latents and the method's randomness."),
    critic: str = typer.Option(
        "auto", help="auto (ratio if trained, else discriminator), ratio, discriminator, or class:NAME."
    ),
    classifier: str = typer.Option(None, help="Bundle whose classifier a class:NAME critic uses."),
    settings: list[str] = typer.Option(
        [], "--set", help="A method setting, e.g. --set divergence=js --set steps=50 (repeatable)."
    ),
    device: str = typer.Option(None, help="cpu, cuda, mps or auto."),
    overwrite: bool = OVERWRITE,
    as_json: bool = typer.Option(
        False, "--json", help="Print the result as JSON: metrics before and after, and 'missing' (why not)."
    ),
) -> None:
    """Refine samples with a critic (DGflow or a baseline); write them and report quality before/after,
    naming any metric that could not be computed and why (e.g. the reference data are not installed)."""
    import numpy as np
    import torch

    from swerve.bundle import load
    from swerve.data.text import bundle_vocab
    from swerve.refine import get_method, initial_latents, run_method
    from swerve.refine.scores import score_samples

    get_method(method)
    bundle = load(bundle_name, device=device)
    vocab = bundle_vocab(bundle)
    out = out or Path("refined.txt" if vocab else "refined.png")
    wanted = (".txt", ".jsonl") if vocab else (".png",)
    if out.suffix.lower() not in wanted:
        raise ConfigError(
            f"--out must end in {' or '.join(wanted)} (arrays are written beside it as .npz), got {out}"
        )
    check_outputs([out, out.with_suffix(".npz"), out.with_name(out.name + ".json")], overwrite)
    params = _parse_overrides(settings)
    chosen, critic_name = _critic(bundle, critic, classifier, method, params)
    z, labels = initial_latents(bundle, n, seed)
    with torch.no_grad():
        base = bundle.sample(n, seed=seed, z=z, labels=labels).x
    refined = run_method(method, bundle, chosen, z, labels=labels, seed=seed, **params)
    record = {
        "bundle": bundle_name,
        "bundle_name": bundle.name,
        "method": method,
        "critic": critic_name,
        "n": n,
        "seed": seed,
        "settings": refined.params,
        "history": bundle.history,
        "command": "swerve refine",
    }
    if vocab:
        _write_text(base, refined.x, vocab, out)
    else:
        _write_picture(bundle, base, refined.x, out, method)
    arrays_path = out.with_suffix(".npz")
    arrays = {"x": refined.x.numpy(), "x_base": base.numpy(), "z_base": z.numpy()}
    if refined.z is not None:
        arrays["z"] = refined.z.numpy()
    if labels is not None:
        arrays["labels"] = labels.numpy()
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays, recipe=np.array(json_text(record)))
    with atomic_path(arrays_path) as tmp:
        tmp.write_bytes(buffer.getvalue())
    side = out.with_name(out.name + ".json")
    write_text_atomic(side, json_text(record, mark=True, indent=2) + "\n")
    result = {**record, "out": str(out), "arrays": str(arrays_path), "record": str(side)}
    result["cost"] = refined.summary()
    result["before"], missing = score_samples(bundle, base, labels, chosen)
    result["after"], _ = score_samples(bundle, refined.x, labels, chosen)
    result["missing"] = missing
    summary = f"wrote {len(refined.x)} samples refined by {method} to {out}, {arrays_path} and {side}"
    emit(result, as_json, summary + _metrics_text(result["before"], result["after"], missing))


def _metrics_text(before: dict, after: dict, missing: dict[str, str]) -> str:
    """The metrics before -> after, one a line, then each reason some could not be computed."""
    from swerve.measure import explain_missing

    lines = [f"{key}: {before[key]:.4g} -> {after[key]:.4g}" for key in before if key in after]
    return "".join(f"\n  {line}" for line in lines + explain_missing(missing))


def _write_text(base: torch.Tensor, refined: torch.Tensor, vocab: list[str], out: Path) -> None:
    from swerve.cli.look import write_strings
    from swerve.data.text import decode

    strings, before = decode(refined, vocab), decode(base, vocab)
    write_strings(out, strings, [{"before": b} for b in before])


def _write_picture(bundle: Bundle, base: torch.Tensor, refined: torch.Tensor, out: Path, method: str) -> None:
    """Images: the original samples above the refined ones (same latents), captioned; 2-D points: one plot."""
    from swerve.look.grid import captioned, make_grid, save_image, upscale

    if bundle.data.is_image:
        lo, hi = bundle.data.range
        grids = [upscale(make_grid(x[:64], value_range=(lo, hi))) for x in (base, refined)]
        save_image(
            captioned([(f"original: {bundle.name}", grids[0]), (f"refined by {method}", grids[1])]), out
        )
        return
    if list(bundle.data.shape) != [2]:
        raise ConfigError(f"cannot draw samples of shape {bundle.data.shape}; the arrays are in the .npz")
    from swerve.look.plot import scatter_points

    scatter_points(refined, reference=base, path=out, title=f"{bundle.name}: refined (grey: before)")


@app.command()
def ratio(
    bundle_name: str = typer.Argument(..., metavar="BUNDLE", help="Bundle directory or zoo name."),
    out: Path = typer.Option(..., help="Where to save the bundle with its new 'ratio' network."),
    corrector: bool = typer.Option(False, help="Learn a correction added to the bundle's discriminator."),
    steps: int = typer.Option(1000, min=1, max=MAX_STEPS, help="Training steps."),
    batch_size: int = typer.Option(256, min=2, help="Real and generated samples per step."),
    seed: int = typer.Option(0, min=0, help="Seed for the network and every draw."),
    device: str = typer.Option(None, help="cpu, cuda, mps or auto."),
    overwrite: bool = OVERWRITE,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Train a density-ratio estimator (data vs the model's samples) and save it in a copy of the bundle."""
    from swerve.bundle import check_bundle_target, load
    from swerve.data import load_like
    from swerve.refine import fit_ratio

    check_bundle_target(out, overwrite)  # before training, not after it
    bundle = load(bundle_name, device=device)
    if not bundle.data.dataset:
        raise ConfigError(f"{bundle.name} does not say which dataset it was trained on")
    data = load_like(bundle.data.dataset, bundle.data.shape, seed=seed)
    if corrector and "discriminator" not in bundle.networks:
        raise ConfigError(f"--corrector needs a discriminator, and {bundle.name} has none")
    summary = fit_ratio(
        bundle,
        data.x,
        data.labels,
        corrector=corrector,
        steps=steps,
        batch_size=batch_size,
        seed=seed,
        progress=not as_json,
    )
    bundle.save(out)
    emit(
        {"bundle": str(out), **summary},
        as_json,
        f"wrote {out} with a density-ratio estimator (training accuracy {summary['final_accuracy']:.2f})",
    )

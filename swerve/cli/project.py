"""``swerve project``: the latent from which a model best remakes a picture (see swerve.diverge.project)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from swerve.cli.main import OVERWRITE, app, emit, finite
from swerve.errors import ConfigError
from swerve.outputs import check_output, mark_folder
from swerve.utils import atomic_path, json_text

if TYPE_CHECKING:
    from swerve.bundle import Bundle


def projection_recipe(bundle_name: str, bundle: Bundle, result) -> dict:
    """A studio recipe remaking the projected picture: z and class, or for w / w+ a zero z whose mapped
    ws are shifted onto the projected ones (an offset on the ``mapping`` layer's output)."""
    import torch

    from swerve.studio.recipe import Recipe, offset_entry

    name = str(Path(bundle_name).resolve()) if Path(bundle_name).is_dir() else bundle_name
    if result.ws is None:
        return Recipe(bundle=name, z=result.z[0].tolist(), label=result.label).to_dict()
    gen = bundle.generator
    z = torch.zeros(1, bundle.latent.dim, device=bundle.device)
    labels = None if result.label is None else torch.tensor([result.label], device=bundle.device)
    with torch.no_grad():
        mapped = gen.mapping(z, labels).cpu()
    offset = offset_entry("mapping", (result.ws - mapped)[0])
    return Recipe(bundle=name, z=z[0].tolist(), label=result.label, offsets=[offset]).to_dict()


def loss_plot(curves: list[list[float]], best: int, path: Path) -> None:
    """The loss per step of every restart (the kept one drawn bold), on a log scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2), dpi=100)
    for i, curve in enumerate(curves):
        ax.plot(curve, lw=2.2 if i == best else 0.8, label=f"restart {i}" + (" (kept)" if i == best else ""))
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)


@app.command()
def project(
    bundle_name: str = typer.Argument(..., metavar="BUNDLE", help="Bundle directory or zoo name."),
    picture: Path = typer.Argument(..., help="The picture to remake (any size or mode)."),
    out: Path = typer.Option(..., help="Folder to write the latent, recipe, pictures and loss curve into."),
    steps: int = typer.Option(
        200, min=0, max=100_000, help="Optimisation steps (0 with --space encoder: the encoder alone)."
    ),
    restarts: int = typer.Option(
        4, min=1, max=256, help="Random starts, optimised together; the best is kept."
    ),
    space: str = typer.Option(
        "auto", help="auto, z, w, w+ or encoder (auto: w for a StyleGAN, encoder for a VAE)."
    ),
    feature_weight: float = typer.Option(
        0.1, min=0.0, help="Weight of the perceptual (domain-feature) loss.", callback=finite
    ),
    label: int = typer.Option(
        None, "--class", help="Class to project with (default: the domain classifier's guess)."
    ),
    noise: bool = typer.Option(True, help="StyleGAN: optimise the noise maps too (kept in latent.npz only)."),
    seed: int = typer.Option(0, help="Seed for the starts and the noise."),
    overwrite: bool = OVERWRITE,
    device: str = typer.Option(None, help="cpu, cuda, mps or auto."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Find the latent that best remakes PICTURE: writes latent.npz, recipe.json (the studio opens it),
    compare.png (original | remade) and loss.png into --out."""
    import numpy as np
    import torch

    from swerve.bundle import load
    from swerve.diverge.project import load_picture
    from swerve.diverge.project import project as run_projection
    from swerve.look.grid import make_grid, save_image, upscale

    check_output(out, "projection", overwrite)
    bundle = load(bundle_name, device=device)
    if "generator" not in bundle.networks:
        raise ConfigError(f"{bundle.name} has no generator to project into")
    target = load_picture(picture, bundle)
    result = run_projection(
        bundle, target, steps, restarts, space, None, feature_weight, label, noise, seed, progress=not as_json
    )
    recipe = projection_recipe(bundle_name, bundle, result)
    summary = {"bundle": bundle_name, "picture": str(picture), "seed": seed, **result.summary()}
    if result.noise:
        summary["notes"].append(
            "recipe.json uses the generator's own noise maps; latent.npz holds the optimised ones"
        )
    arrays = {"target": result.target.numpy(), "x": result.x.numpy()}
    if result.z is not None:
        arrays["z"] = result.z.numpy()
    if result.ws is not None:
        arrays["ws"] = result.ws.numpy()
    for name, m in result.noise.items():
        arrays[f"noise/{name}"] = m.numpy()
    if result.label is not None:
        arrays["label"] = np.array([result.label])
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays, record=np.array(json_text(summary)))
    with atomic_path(out, kind="projection") as tmp:
        tmp.mkdir()
        mark_folder(tmp, "projection")
        (tmp / "latent.npz").write_bytes(buffer.getvalue())
        (tmp / "recipe.json").write_text(json_text(recipe, indent=2) + "\n")
        (tmp / "projection.json").write_text(json_text(summary, mark=True, indent=2) + "\n")
        pair = torch.cat([result.target, result.x.clamp(*bundle.data.range)])
        save_image(
            upscale(make_grid(pair, nrow=2, value_range=tuple(bundle.data.range))), tmp / "compare.png"
        )
        loss_plot(result.curves, result.best, tmp / "loss.png")
    emit(
        {**summary, "out": str(out)},
        as_json,
        f"projected {picture} into {bundle.name} ({result.space}): "
        f"pixel MSE {result.pixel_mse:.4g}; wrote {out}",
    )


@app.command()
def translate(
    bundle_name: str = typer.Argument(..., metavar="BUNDLE", help="A translation (pix2pix) bundle."),
    picture: Path = typer.Argument(..., help="The input picture (a sketch, edges, ...), any size or mode."),
    out: Path = typer.Option(..., help="PNG to write: the input beside its translation."),
    as_target: bool = typer.Option(
        False, "--as-target", help="PICTURE is a finished picture: make the model's input from it first."
    ),
    dgflow: int = typer.Option(
        0,
        min=0,
        max=1000,
        help="Also refine the output by this many DGflow steps on the U-Net's bottleneck, against the "
        "model's conditional D (swerve.refine.translation); the PNG gains a third picture.",
    ),
    overwrite: bool = OVERWRITE,
    device: str = typer.Option(None, help="cpu, cuda, mps or auto."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Render PICTURE through a pix2pix model (with its bends): writes input | output as one PNG."""
    import torch

    from swerve.bundle import load
    from swerve.data.picture import read_picture
    from swerve.look.grid import make_grid, save_image, upscale
    from swerve.translate import input_shape, make_input, translation_of
    from swerve.translate import translate as run_translation

    if out.suffix.lower() != ".png":
        raise ConfigError(f"--out must end in .png, got {out}")
    check_output(out, "file", overwrite)
    bundle = load(bundle_name, device=device)
    info = translation_of(bundle)
    value_range = tuple(bundle.data.range)
    if as_target:
        source = make_input(bundle, read_picture(picture, *bundle.data.shape, value_range))
    else:
        source = read_picture(picture, *input_shape(bundle), value_range)
    result = run_translation(bundle, source)
    shown = source if source.shape[1] == result.shape[1] else source.expand(-1, result.shape[1], -1, -1)
    parts = [shown, result.clamp(*value_range)]
    if dgflow:
        from swerve.refine.translation import dgflow_translation

        parts.append(dgflow_translation(bundle, source, steps=dgflow).x.clamp(*value_range))
    save_image(upscale(make_grid(torch.cat(parts), len(parts), value_range=value_range)), out)
    record = {
        "bundle": bundle_name,
        "picture": str(picture),
        "transform": info.get("transform"),
        "dgflow_steps": dgflow,
        "out": str(out),
    }
    emit(record, as_json, f"translated {picture} with {bundle.name}; wrote {out}")

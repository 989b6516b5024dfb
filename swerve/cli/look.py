"""``swerve sample``, ``walk``, ``info`` and ``demo``: looking at models."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from swerve.cli.main import OVERWRITE, app, emit
from swerve.errors import ConfigError
from swerve.outputs import check_output, check_outputs, mark_folder
from swerve.utils import atomic_path, json_text, write_text_atomic

if TYPE_CHECKING:
    from swerve.bundle import Bundle, Samples


def _parse_labels(bundle: Bundle, labels: str | None) -> int | list[int] | None:
    """``--class`` accepts class indices or names, comma-separated."""
    if labels is None:
        return None
    if bundle.num_classes == 0:
        raise ConfigError(f"{bundle.name} is unconditional; --class needs a class-conditional model")
    names = bundle.data.classes
    picked = []
    for item in labels.split(","):
        item = item.strip()
        if item.isdigit() and int(item) < bundle.num_classes:
            picked.append(int(item))
        elif item in names:
            picked.append(names.index(item))
        else:
            raise ConfigError(
                f"unknown class {item!r}; classes: 0..{bundle.num_classes - 1} or {', '.join(names)}"
            )
    return picked[0] if len(picked) == 1 else picked


def _sidecar_path(path: Path) -> Path:
    """The JSON record written beside a picture or array file (inside a sample folder)."""
    return path.with_name(path.name + ".json") if path.suffix else path / "swerve-samples.json"


def _check_out(out: Path, overwrite: bool) -> None:
    """Refuse, before any work, an --out (or its record) that would replace what the user had."""
    if out.suffix:
        check_outputs([out, _sidecar_path(out)], overwrite)
    else:
        check_output(out, "samples", overwrite)


def _sidecar(path: Path, record: dict) -> Path:
    side = _sidecar_path(path)
    write_text_atomic(side, json_text(record, mark=True, indent=2) + "\n")
    return side


@app.command()
def sample(
    bundle_name: str = typer.Argument(..., metavar="BUNDLE", help="Bundle directory or zoo name."),
    out: Path = typer.Option(
        None,
        help="samples.png (the default), arrays.npz, or a directory (image dataset); "
        "for a text model, strings.txt or strings.jsonl (it prints them when --out is not given).",
    ),
    n: int = typer.Option(64, min=1, max=100_000, help="Number of samples."),
    seed: int = typer.Option(0, help="Seed for the latents."),
    labels: str = typer.Option(None, "--class", help="Class index or name (comma-separated for several)."),
    per_class: int = typer.Option(
        None, help="For an image-folder dataset: this many samples of every class."
    ),
    device: str = typer.Option(None, help="cpu, cuda, mps or auto."),
    overwrite: bool = OVERWRITE,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Draw samples as a PNG grid, an .npz of arrays, or an image folder with a subfolder per class;
    a text model's samples as strings, printed or written one a line."""
    import numpy as np

    from swerve.bundle import load
    from swerve.data.text import bundle_vocab
    from swerve.look.grid import make_grid, save_image, upscale

    bundle = load(bundle_name, device=device)
    vocab = bundle_vocab(bundle)
    if vocab is None and out is None:
        out = Path("samples.png")
    if vocab is None and out.suffix.lower() not in (".png", ".npz", ""):
        raise ConfigError(f"--out must end in .png or .npz, or be a directory; got {out}")
    if vocab is not None and out is not None and out.suffix.lower() not in (".txt", ".jsonl"):
        raise ConfigError(f"a text model writes its strings to .txt or .jsonl; got {out}")
    if out is not None:
        _check_out(out, overwrite)
    picked = _parse_labels(bundle, labels)
    if per_class is not None:
        if bundle.num_classes == 0:
            raise ConfigError("--per-class needs a class-conditional model")
        picked = [c for c in range(bundle.num_classes) for _ in range(per_class)]
        n = len(picked)
    elif isinstance(picked, list):
        picked = [picked[i % len(picked)] for i in range(n)]
    result: Samples = bundle.sample(n, seed=seed, labels=picked)
    record = {
        "bundle": bundle_name,
        "bundle_name": bundle.name,
        "n": n,
        "seed": seed,
        "class": labels,
        "per_class": per_class,
        "history": bundle.history,
        "command": "swerve sample",
    }
    if vocab is not None:
        _text_samples(result, vocab, record, out, as_json)
        return
    kind = out.suffix.lower()
    if kind == ".png":
        image = make_grid(result.x, nrow=bundle.num_classes or None) if bundle.data.is_image else None
        if image is None:
            from swerve.look.plot import scatter_points

            image = scatter_points(result.x, title=bundle.name)
        save_image(upscale(image) if bundle.data.is_image else image, out)
    elif kind == ".npz":
        buffer = io.BytesIO()
        arrays = {"x": result.x.numpy(), "z": result.z.numpy()}
        if result.labels is not None:
            arrays["labels"] = result.labels.numpy()
        np.savez_compressed(buffer, **arrays, recipe=np.array(json_text(record)))
        with atomic_path(out) as tmp:
            tmp.write_bytes(buffer.getvalue())
    else:
        _write_image_folder(bundle, result, out, record)
    side = _sidecar_path(out) if kind == "" else _sidecar(out, record)
    emit(
        {**record, "out": str(out), "record": str(side)},
        as_json,
        f"wrote {n} samples to {out} and {side} (seed {seed})",
    )


def _text_samples(result: Samples, vocab: list[str], record: dict, out: Path | None, as_json: bool) -> None:
    """Print a text model's samples (decoded by argmax), or write them as .txt or .jsonl."""
    from swerve.data.text import decode

    strings = decode(result.x, vocab)
    if out is None:
        emit({**record, "samples": strings}, as_json, "\n".join(strings))
        return
    write_strings(out, strings)
    side = _sidecar(out, record)
    n, seed = record["n"], record["seed"]
    summary = f"wrote {n} strings to {out} (seed {seed})"
    emit({**record, "out": str(out), "record": str(side)}, as_json, summary)


def write_strings(out: Path, strings: list[str], rows: list[dict] | None = None) -> None:
    """Strings one a line (.txt) or as JSON lines ``{"text": ...}`` with ``rows``' fields (.jsonl)."""
    kind = out.suffix.lower()
    if kind == ".txt":
        write_text_atomic(out, "".join(s + "\n" for s in strings))
    elif kind == ".jsonl":
        rows = rows or [{} for _ in strings]
        lines = (json_text({"text": s, **r}) + "\n" for s, r in zip(strings, rows, strict=True))
        write_text_atomic(out, "".join(lines))
    else:
        raise ConfigError(f"a text model writes .txt or .jsonl; got {out}")


def _write_image_folder(bundle: Bundle, result: Samples, out: Path, record: dict) -> None:
    from PIL import Image

    from swerve.look.grid import to_uint8

    if not bundle.data.is_image:
        raise ConfigError(f"{bundle.name} makes points, not images; write .npz instead")
    pixels = to_uint8(result.x)
    names = bundle.data.classes or [str(i) for i in range(max(bundle.num_classes, 1))]
    with atomic_path(out, kind="samples") as tmp:
        tmp.mkdir()
        mark_folder(tmp, "samples")
        (tmp / "swerve-samples.json").write_text(json_text(record, mark=True, indent=2) + "\n")
        for i, img in enumerate(pixels):
            label = int(result.labels[i]) if result.labels is not None else None
            folder = tmp / (_safe(names[label]) if label is not None else "samples")
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img.squeeze(-1) if img.shape[-1] == 1 else img).save(folder / f"{i:06d}.png")


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in name).strip("-") or "class"


@app.command()
def walk(
    bundle_name: str = typer.Argument(..., metavar="BUNDLE", help="Bundle directory or zoo name."),
    out: Path = typer.Option(Path("walk.gif"), help="walk.gif or walk.mp4."),
    points: int = typer.Option(4, min=2, max=64, help="Latent points to visit (the walk loops back)."),
    frames: int = typer.Option(16, min=1, max=500, help="Frames between two points."),
    n: int = typer.Option(1, min=1, max=64, help="Walks side by side (a grid per frame)."),
    seed: int = typer.Option(0, help="Seed for the latent points."),
    labels: str = typer.Option(None, "--class", help="Class for a conditional model."),
    fps: int = typer.Option(12, min=1, max=60, help="Frames per second."),
    device: str = typer.Option(None, help="cpu, cuda, mps or auto."),
    overwrite: bool = OVERWRITE,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """A looping latent interpolation (spherical) as a GIF or MP4."""
    from swerve.bundle import load
    from swerve.look.walk import walk_frames

    if out.suffix.lower() not in (".gif", ".mp4"):
        raise ConfigError(f"--out must end in .gif or .mp4, got {out}")
    _check_out(out, overwrite)
    bundle = load(bundle_name, device=device)
    picked = _parse_labels(bundle, labels)
    if isinstance(picked, list):
        raise ConfigError("a walk takes one --class")
    from swerve.look.video import save_animation

    images = walk_frames(bundle, n_points=points, frames_per_leg=frames, n=n, seed=seed, label=picked)
    save_animation(images, out, fps=fps)
    record = {
        "bundle": bundle_name,
        "seed": seed,
        "points": points,
        "frames": frames,
        "n": n,
        "class": labels,
        "fps": fps,
        "command": "swerve walk",
    }
    side = _sidecar(out, record)
    emit(
        {**record, "out": str(out), "record": str(side), "total_frames": len(images)},
        as_json,
        f"wrote a {len(images)}-frame walk to {out}",
    )


@app.command()
def info(
    bundle_name: str = typer.Argument(..., metavar="BUNDLE", help="Bundle directory or zoo name."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """What a bundle holds: networks, data, latents, how it was trained and what was done to it."""
    from swerve.bundle import load

    bundle = load(bundle_name, device="cpu")
    config = bundle.config_dict()
    nets = {
        role: {
            "class": spec["class"],
            "parameters": sum(p.numel() for p in bundle.networks[role].parameters()),
        }
        for role, spec in config["networks"].items()
    }
    result = {
        "name": bundle.name,
        "networks": nets,
        "data": config["data"],
        "latent": config["latent"],
        "training": {k: v for k, v in bundle.training.items() if k != "config"},
        "recipe": bundle.training.get("config"),
        "history": bundle.history,
    }
    lines = [
        f"{bundle.name}  ({bundle.data.dataset or 'unknown data'}, samples of shape {bundle.data.shape})"
    ]
    for role, net in nets.items():
        lines.append(f"  {role:<14} {net['class']}  {net['parameters']:,} parameters")
    if bundle.latent:
        lines.append(f"  latent         {bundle.latent.dim}-d {bundle.latent.distribution}")
    if bundle.data.classes:
        lines.append(f"  classes        {', '.join(bundle.data.classes)}")
    for key in ("steps", "test_accuracy", "device", "torch_version"):
        if key in bundle.training:
            lines.append(f"  {key:<14} {bundle.training[key]}")
    for entry in bundle.history:
        lines.append(f"  history        {entry['op']} {json_text(entry.get('params', {}))}")
    emit(result, as_json, "\n".join(lines))


@app.command()
def demo(
    out: Path = typer.Option(Path("demo-out"), help="Directory for report.html and its figures."),
    seed: int = typer.Option(0, help="Seed for every sample in the report."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Write report.html: what swerve does, shown on the zoo."""
    import torch

    from swerve.look.demo import run_demo

    torch.set_grad_enabled(True)
    report = run_demo(out, seed=seed, progress=lambda message: typer.echo(message, err=True))
    emit({"report": str(report), "seed": seed}, as_json, f"wrote {report}  (open it in a browser)")

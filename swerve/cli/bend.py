"""``swerve layers``, ``clusters``, ``bend``, ``blend``, ``glitch`` and ``rewrite``: changing a trained model.

Bends change activations at inference (the result is images, an animation, or a bundle that carries the
bends); blends, glitches and rewrites change weights (the result is a new bundle). Every command writes the
recipe and seed beside what it makes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
import yaml

from swerve.cli.look import _check_out, _parse_labels, _sidecar, _sidecar_path
from swerve.cli.main import OVERWRITE, app, emit, finite
from swerve.cli.text_preview import before_after, check_preview_kind, is_text, write_text_preview
from swerve.errors import ConfigError
from swerve.outputs import check_outputs
from swerve.utils import make_generator

if TYPE_CHECKING:
    import torch

    from swerve.bundle import Bundle


def _value(raw: str) -> Any:
    """A command-line value as a number, bool or word (``1e-2``, ``true``, ``v``)."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        try:
            return yaml.safe_load(raw)
        except yaml.YAMLError:
            return raw


def parse_bend_arg(text: str) -> dict[str, Any]:
    """``"LAYER TRANSFORM key=value ... [@channels=0,3 | @fraction=0.5 @seed=1 | @cluster=2]"`` as a dict."""
    tokens = text.split()
    if len(tokens) < 2:
        raise ConfigError(f"--bend takes 'LAYER TRANSFORM [key=value ...]', got {text!r}")
    bend: dict[str, Any] = {"layer": tokens[0], "transform": tokens[1], "params": {}}
    channel: dict[str, Any] = {}
    for token in tokens[2:]:
        key, sep, raw = token.partition("=")
        if not sep or not key:
            raise ConfigError(f"in --bend {text!r}: expected key=value, got {token!r}")
        if key.startswith("@"):
            channel[key[1:]] = raw if key == "@channels" else _value(raw)
        else:
            bend["params"][key] = _value(raw)
    if "channels" in channel:
        raw = channel.pop("channels")
        bend["channels"] = "all" if raw == "all" else [int(c) for c in raw.split(",") if c.strip().isdigit()]
        if bend["channels"] != "all" and len(bend["channels"]) != len(raw.split(",")):
            raise ConfigError(f"@channels takes 'all' or indices like 0,3,5; got {raw!r}")
    if channel:
        bend["channels"] = channel
    return bend


def _read_bends(config: Path | None, inline: list[str]) -> list[dict[str, Any]]:
    bends: list[dict[str, Any]] = []
    if config is not None:
        try:
            loaded = yaml.safe_load(config.read_text())
        except yaml.YAMLError as exc:
            raise ConfigError(f"{config} is not valid YAML/JSON: {' '.join(str(exc).split())}") from None
        if isinstance(loaded, dict):
            loaded = loaded.get("bends", [loaded])
        if not isinstance(loaded, list):
            raise ConfigError(f"{config} must hold a list of bends (or {{bends: [...]}}), got {loaded!r}")
        bends += loaded
    return bends + [parse_bend_arg(text) for text in inline]


def _parse_sweep(spec: str) -> tuple[int, str, float, float]:
    """``[INDEX.]PARAM=START:END`` -> (index, param, start, end)."""
    target, sep, span = spec.partition("=")
    start, sep2, end = span.partition(":")
    index, dot, param = target.rpartition(".")
    try:
        if not (sep and sep2 and param):
            raise ValueError
        return int(index) if dot else 0, param, float(start), float(end)
    except ValueError:
        raise ConfigError(
            f"--sweep takes [BEND.]PARAM=START:END, e.g. 0.degrees=0:360; got {spec!r}"
        ) from None


def _grid_image(bundle: Bundle, x: torch.Tensor, nrow: int | None = None):  # noqa: ANN202
    from swerve.look.grid import make_grid, upscale

    if not bundle.data.is_image:
        from swerve.look.plot import scatter_points

        return scatter_points(x, title=bundle.name)
    return upscale(make_grid(x, nrow=nrow, value_range=tuple(bundle.data.range)))


def _check_preview(out: Path | None, overwrite: bool = False) -> None:
    if out is not None and out.suffix.lower() not in (".png", ".txt"):
        raise ConfigError(f"--preview must end in .png (a text model's in .txt), got {out}")
    if out is not None:
        check_outputs([out, _sidecar_path(out)], overwrite)  # before the work, not after it


def _write_preview(
    bundle: Bundle,
    out: Path | None,
    n: int,
    seed: int,
    labels: Any = None,
    original: Bundle | None = None,
    change: str = "changed",
) -> tuple[str | None, str]:
    """A PNG grid of ``bundle``'s samples (under ``original``'s on the same latents, when given), with the
    recipe (its history) and seed beside it; for a text model, the strings before -> after in a .txt file.
    Returns the path written and, for text, the lines to show."""
    if out is None:
        return None, ""
    from swerve.look.grid import save_image

    if is_text(bundle):
        lines = before_after(original or bundle, bundle, n, seed, labels)
        shown = write_text_preview(lines, out, f"# {(original or bundle).name} -> {change} (seed {seed})")
        _sidecar(out, {"bundle": bundle.name, "n": n, "seed": seed, "history": bundle.history})
        return str(out), "\n" + shown
    x = _samples(bundle, n, seed, labels)
    if original is not None:
        before = _samples(original, n, seed, labels)
        save_image(_before_after(original, before, x, change), out)
    else:
        save_image(_grid_image(bundle, x), out)
    _sidecar(out, {"bundle": bundle.name, "n": n, "seed": seed, "history": bundle.history})
    return str(out), ""


def _samples(bundle: Bundle, n: int, seed: int, labels: Any) -> torch.Tensor:
    """``n`` samples; for a translator (pix2pix), its translations of ``n`` held-out inputs."""
    if bundle.latent is None and "translation" in bundle.extra:
        from swerve.translate import held_out_inputs, translate

        return translate(bundle, held_out_inputs(bundle, n, seed))
    return bundle.sample(n, seed=seed, labels=labels).x


def _bundle_out(out: Path | None, bundle_name: str, suffix: str, overwrite: bool) -> Path:
    from swerve.bundle import check_bundle_target

    path = out if out is not None else Path(f"{Path(bundle_name).name}-{suffix}")
    check_bundle_target(path, overwrite)  # before the work, not after it
    return path


@app.command()
def layers(
    bundle_name: str = typer.Argument(..., metavar="BUNDLE", help="Bundle directory or zoo name."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """The generator's layers (name, output shape, channels) and what each conv:i / linear:i shortcut names:
    the layer whose weights it edits and the layer whose output it reads and writes."""
    from swerve.bundle import load
    from swerve.diverge.layers import bundle_layer_table, shortcut_table

    bundle = load(bundle_name, device="cpu")
    rows = bundle_layer_table(bundle)
    cuts = shortcut_table(bundle.generator)
    lines = [f"{'layer':<24} {'tap of':<10} {'channels':>8}  shape"]
    lines += [f"{r['name']:<24} {r['shortcut']:<10} {r['channels']:>8}  {tuple(r['shape'])}" for r in rows]
    lines += ["", f"{'shortcut':<10} {'edits weights of':<32} {'reads/writes output of'}"]
    lines += [f"{c['shortcut']:<10} {c['layer'] + ' (' + c['type'] + ')':<32} {c['tap']}" for c in cuts]
    emit({"bundle": bundle.name, "layers": rows, "shortcuts": cuts}, as_json, "\n".join(lines))


@app.command()
def clusters(
    bundle_name: str = typer.Argument(..., metavar="BUNDLE", help="Bundle directory or zoo name."),
    layer: list[str] = typer.Option(..., "--layer", help="Layer to cluster, coarse to fine (repeatable)."),
    k: list[int] = typer.Option([], "--k", help="Clusters per layer (default 5/4/3 coarse to fine)."),
    n: int = typer.Option(256, min=8, max=100_000, help="Samples to embed the channels with."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
    seed: int = typer.Option(0, min=0, help="Seed for the samples and k-means."),
    out: Path = typer.Option(None, help="Bundle directory to write (default: BUNDLE-clusters)."),
    device: str = typer.Option(None, help="cpu, cuda, mps or auto."),
    overwrite: bool = OVERWRITE,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Group each layer's channels that respond alike; bends then pick a group with @cluster=ID."""
    import torch

    from swerve.bundle import load
    from swerve.diverge.clusters import cluster_bundle

    bundle = load(bundle_name, device=device)
    target = _bundle_out(out, bundle_name, "clusters", overwrite)
    result = cluster_bundle(
        bundle, layer, k=(k[0] if len(k) == 1 else k) if k else None, n=n, seed=seed, progress=progress
    )
    path = result.save(target)
    sizes = {
        name: torch.bincount(torch.tensor(result.extra["clusters"][name])).tolist()
        for name in result.history[-1]["params"]["layers"]
    }
    summary = "; ".join(f"{name}: {len(s)} clusters of {s}" for name, s in sizes.items())
    emit({"bundle": str(path), "sizes": sizes, "seed": seed, "n": n}, as_json, f"wrote {path}  ({summary})")


def _before_after(bundle: Bundle, before: torch.Tensor, after: torch.Tensor, change: str):  # noqa: ANN202
    """The original samples above the changed ones (same latents), each part captioned."""
    from swerve.look.grid import captioned

    nrow = min(len(before), 16)
    same = "inputs" if bundle.latent is None and "translation" in bundle.extra else "latents"
    return captioned(
        [
            (f"original: {bundle.name}", _grid_image(bundle, before, nrow=nrow)),
            (f"{change}, same {same}", _grid_image(bundle, after, nrow=nrow)),
        ]
    )


@app.command()
def bend(
    bundle_name: str = typer.Argument(..., metavar="BUNDLE", help="Bundle directory or zoo name."),
    config: Path = typer.Option(None, help="YAML/JSON list of {layer, transform, params, channels}."),
    bend_: list[str] = typer.Option(
        [],
        "--bend",
        help="'LAYER TRANSFORM key=value ...', channels as @fraction=0.5 @seed=0, @channels=0,3 or "
        "@cluster=1 (repeatable).",
    ),
    out: Path = typer.Option(Path("bent.png"), help="grid.png, sweep.gif/.mp4, or a directory (a bundle)."),
    n: int = typer.Option(16, min=1, max=1024, help="Samples (per frame)."),
    seed: int = typer.Option(0, min=0, help="Seed for the latents."),
    labels: str = typer.Option(None, "--class", help="Class index or name for a conditional model."),
    sweep: str = typer.Option(None, help="[BEND.]PARAM=START:END swept over the frames of a GIF/MP4."),
    frames: int = typer.Option(24, min=1, max=1000, help="Frames of an animation."),
    fps: int = typer.Option(12, min=1, max=60, help="Frames per second."),
    compare: bool = typer.Option(True, help="In a PNG, put the unbent samples in the first row(s)."),
    device: str = typer.Option(None, help="cpu, cuda, mps or auto."),
    overwrite: bool = OVERWRITE,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Apply network bends: write bent samples, an animation sweeping a parameter, or a bent bundle."""
    from swerve.bundle import check_bundle_target, load
    from swerve.diverge.bend import TRANSFORMS, bend_bundle, bundle_bends, parse_bends
    from swerve.diverge.bend import sweep as sweep_frames

    kind = out.suffix.lower()
    if kind not in ("", ".png", ".gif", ".mp4", ".txt"):
        raise ConfigError(
            f"--out must end in .png, .gif or .mp4 (.txt for text), or be a directory; got {out}"
        )
    if kind == "":
        check_bundle_target(out, overwrite)  # before the work, not after it
    else:
        _check_out(out, overwrite)
    bundle = load(bundle_name, device=device)
    if kind != "":
        check_preview_kind(bundle, out if kind in (".png", ".txt") else out.with_suffix(".png"), "--out")
    bends = parse_bends(_read_bends(config, bend_))
    picked = _parse_labels(bundle, labels)
    record: dict[str, Any] = {
        "bundle": bundle_name,
        "bends": [b.to_dict() for b in bends],
        "seed": seed,
        "n": n,
        "class": labels,
        "command": "swerve bend",
    }
    if not bends and not (kind in (".gif", ".mp4") and bundle.extra.get("bends")):
        raise ConfigError("no bends given: use --config FILE or --bend 'LAYER TRANSFORM key=value'")
    if sweep and kind not in (".gif", ".mp4"):
        raise ConfigError(f"--sweep makes an animation: give --out NAME.gif or NAME.mp4, not {out}")
    if kind == "":
        bent = bend_bundle(bundle, bends)
        path = bent.save(out)
        emit({**record, "out": str(path)}, as_json, f"wrote bent bundle {path} ({len(bends)} bends)")
        return
    if kind in (".gif", ".mp4"):
        from swerve.look.video import save_animation

        if sweep:
            which, param, start, end = _parse_sweep(sweep)
            if not -len(bends) <= which < len(bends):
                raise ConfigError(f"--sweep names bend {which}, but {len(bends)} bends were given")
            spec = TRANSFORMS[bends[which].transform].params.get(param)
            steps = [start + (end - start) * i / max(frames - 1, 1) for i in range(frames)]
            if spec is not None and spec.kind == "int":
                steps = [round(v) for v in steps]
            which = which % len(bends) + len(bundle_bends(bundle))  # the bundle's own bends come first
            batches = sweep_frames(bundle, bends, which, param, steps, n=n, seed=seed, labels=picked)
            record["sweep"] = {"bend": which, "param": param, "values": steps}
        else:
            batches = sweep_frames(bundle, bends, frames=frames, n=n, seed=seed, labels=picked)
        save_animation([_grid_image(bundle, x) for x in batches], out, fps=fps)
        record.update(frames=len(batches), fps=fps)
    elif kind == ".txt":
        lines = before_after(bundle, bend_bundle(bundle, bends), n, seed, picked)
        shown = write_text_preview(lines, out, f"# {bundle.name} -> bent (seed {seed})")
        side = _sidecar(out, record)
        emit(
            {**record, "out": str(out), "record": str(side), "strings": lines},
            as_json,
            f"wrote {out} and {side} ({len(bends)} bends)\n{shown}",
        )
        return
    elif kind == ".png":
        from swerve.look.grid import save_image

        bent = bend_bundle(bundle, bends)
        x = bent.sample(n, seed=seed, labels=picked).x
        if compare:
            before = bundle.sample(n, seed=seed, labels=picked).x
            save_image(_before_after(bundle, before, x, "bent"), out)
        else:
            save_image(_grid_image(bundle, x), out)
    else:
        raise ConfigError(f"--out must end in .png, .gif or .mp4, or be a directory; got {out}")
    side = _sidecar(out, record)
    emit(
        {**record, "out": str(out), "record": str(side)},
        as_json,
        f"wrote {out} and {side} ({len(bends)} bends)",
    )


@app.command()
def blend(
    bundles: list[str] = typer.Argument(..., metavar="BUNDLE...", help="Two or more bundles (dirs or zoo)."),
    mode: str = typer.Option(
        "lerp", help="lerp (two models), merge (weighted average), task (arithmetic), predict (mix outputs)."
    ),
    alpha: float = typer.Option(0.5, help="lerp: weight of the second model.", callback=finite),
    layer_alpha: list[str] = typer.Option(
        [], "--layer-alpha", help="lerp: LAYER=ALPHA for one layer (repeatable); others get --alpha."
    ),
    pivot: str = typer.Option(None, help="lerp: resolution schedule around this layer (name or position)."),
    width: float = typer.Option(
        1.0, help="lerp: logistic width of the schedule, in layers.", callback=finite
    ),
    hard: bool = typer.Option(False, help="lerp: swap at the pivot instead of a logistic ramp."),
    weights: str = typer.Option(None, help="merge, predict: comma-separated weights (default equal)."),
    lam: float = typer.Option(1.0, help="task: scale of the task vectors (tuned - base).", callback=finite),
    layer: str = typer.Option(None, help="predict: mix this layer's activations instead of the outputs."),
    out: Path = typer.Option(None, help="Bundle directory to write (default: FIRST-blend)."),
    preview: Path = typer.Option(None, help="Also write a PNG grid of samples from the result."),
    n: int = typer.Option(16, min=1, max=1024, help="Preview samples."),
    seed: int = typer.Option(0, min=0, help="Preview seed."),
    device: str = typer.Option(None, help="cpu, cuda, mps or auto."),
    overwrite: bool = OVERWRITE,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Blend models: interpolate two, merge several, add task vectors, or mix their outputs."""
    from swerve.bundle import load
    from swerve.diverge.blend import blend_bundles, merge, task_arithmetic

    loaded = [load(name, device=device) for name in bundles]
    target = _bundle_out(out, bundles[0], "blend", overwrite) if mode != "predict" else None
    _check_preview(preview, overwrite)
    check_preview_kind(loaded[0], preview)
    if len(loaded) < 2:
        raise ConfigError("blending needs at least two bundles")
    if mode == "lerp":
        if len(loaded) != 2:
            raise ConfigError("--mode lerp blends exactly two bundles; use --mode merge for more")
        schedule = None
        if pivot is not None:
            schedule = {
                "pivot": int(pivot) if pivot.lstrip("-").isdigit() else pivot,
                "width": width,
                "hard": hard,
            }
        per_layer: float | dict[str, float] = alpha
        if layer_alpha:
            per_layer = {"*": alpha}
            for pair in layer_alpha:
                name, sep, value = pair.partition("=")
                try:
                    per_layer[name] = float(value)
                except ValueError:
                    sep = ""
                if not sep or not name:
                    raise ConfigError(f"--layer-alpha takes LAYER=ALPHA, e.g. conv:1=0.8; got {pair!r}")
        result = blend_bundles(loaded[0], loaded[1], alpha=per_layer, schedule=schedule)
    elif mode == "merge":
        w = None if weights is None else _weights(weights)
        result = merge(loaded, w)
    elif mode == "task":
        result = task_arithmetic(loaded[0], loaded[1:], lam=lam)
    elif mode == "predict":
        _blend_predictions(loaded, bundles, weights, layer, preview, n, seed, as_json)
        return
    else:
        raise ConfigError(f"unknown --mode {mode!r}; modes: lerp, merge, task, predict")
    path = result.save(target)
    shown, lines = _write_preview(result, preview, n, seed, original=loaded[0], change="blended")
    follows = result.history[-1]["params"].get("follows") or {}
    note = "".join(f"\n{key} follows {layer}" for key, layer in follows.items())
    if follows:
        note = f"\n{len(follows)} tensors outside the scheduled layers follow the one before them:{note}"
    emit(
        {"bundle": str(path), "preview": shown, "history": result.history[-1], "seed": seed},
        as_json,
        f"wrote {path}" + (f" and {shown}" if shown else "") + note + lines,
    )


def _weights(text: str) -> list[float]:
    """``--weights 0.7,0.3`` as numbers."""
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise ConfigError(f"--weights takes comma-separated numbers, e.g. 0.7,0.3; got {text!r}") from None


def _blend_predictions(
    loaded: list[Bundle],
    names: list[str],
    weights: str | None,
    layer: str | None,
    preview: Path | None,
    n: int,
    seed: int,
    as_json: bool,
) -> None:
    """``--mode predict``: one grid of samples whose outputs (or one layer) mix several models."""
    import torch

    from swerve.diverge.blend import blend_predictions
    from swerve.look.grid import save_image

    w = [1.0 / len(loaded)] * len(loaded) if weights is None else _weights(weights)
    if preview is None or preview.suffix.lower() != ".png":
        raise ConfigError("--mode predict writes images: give --preview OUT.png")
    first = loaded[0]
    dims = {b.latent.dim if b.latent else None for b in loaded}
    if len(dims) != 1 or None in dims or len({b.num_classes for b in loaded}) != 1:
        raise ConfigError("prediction blending needs models with the same latent space and classes")
    z = first.latent.sample(n, make_generator(seed)).to(first.device)
    inputs = (z,) if not first.num_classes else (z, torch.arange(n, device=first.device) % first.num_classes)
    nets = [b.generator.eval() for b in loaded]
    x = blend_predictions(nets, w, *inputs, layer=layer)
    save_image(_grid_image(first, x.cpu()), preview)
    record = {
        "bundles": names,
        "weights": w,
        "layer": layer,
        "n": n,
        "seed": seed,
        "command": "swerve blend --mode predict",
    }
    side = _sidecar(preview, record)
    emit({**record, "out": str(preview), "record": str(side)}, as_json, f"wrote {preview}")


@app.command()
def glitch(
    bundle_name: str = typer.Argument(..., metavar="BUNDLE", help="Bundle directory or zoo name."),
    kind: str = typer.Option("gaussian", help="gaussian, zero, shuffle or reconnect."),
    amount: float = typer.Option(
        0.3, min=0.0, help="Noise scale (gaussian) or fraction (the others).", callback=finite
    ),
    layer: list[str] = typer.Option([], "--layer", help="Layers to glitch (repeatable; default all)."),
    seed: int = typer.Option(0, min=0, help="Seed of the glitch."),
    out: Path = typer.Option(None, help="Bundle directory to write (default: BUNDLE-glitch)."),
    preview: Path = typer.Option(None, help="Picture of samples before/after (default: OUT.png)."),
    n: int = typer.Option(16, min=1, max=1024, help="Preview samples."),
    device: str = typer.Option(None, help="cpu, cuda, mps or auto."),
    overwrite: bool = OVERWRITE,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Glitch the generator's weights, reproducibly from the seed (the original bundle is left alone)."""
    from swerve.bundle import load
    from swerve.diverge.glitch import glitch as glitch_bundle

    bundle = load(bundle_name, device=device)
    target = _bundle_out(out, bundle_name, "glitch", overwrite)
    _check_preview(preview, overwrite)
    check_preview_kind(bundle, preview)
    note = ""
    if preview is None:
        preview = target.with_name(target.name + (".txt" if is_text(bundle) else ".png"))
        taken = preview.exists() or preview.with_name(preview.name + ".json").exists()
        if taken and not overwrite:  # never replace a file the user did not name
            note, preview = f" (no preview: {preview} exists; name one with --preview)", None
    result = glitch_bundle(bundle, kind, amount, layers=layer or None, seed=seed)
    path = result.save(target)
    shown, lines = _write_preview(result, preview, n, 0, original=bundle, change="glitched")
    emit(
        {"bundle": str(path), "preview": shown, "history": result.history[-1]},
        as_json,
        f"wrote {path}" + (f" and {shown}" if shown else "") + note + lines,
    )


def _region(spec: str, shape: list[int]) -> torch.Tensor:
    """``y0:y1,x0:x1`` in fractions of the image -> an (H, W) mask."""
    import torch

    try:
        rows, cols = (tuple(float(v) for v in part.split(":")) for part in spec.split(","))
        (y0, y1), (x0, x1) = rows, cols
    except ValueError:
        raise ConfigError(
            f"--region takes y0:y1,x0:x1 as fractions, e.g. 0.2:0.5,0.3:0.7; got {spec!r}"
        ) from None
    if not (0 <= y0 < y1 <= 1 and 0 <= x0 < x1 <= 1):
        raise ConfigError(f"--region fractions must satisfy 0 <= start < end <= 1, got {spec!r}")
    h, w = shape[-2:]
    mask = torch.zeros(h, w)
    top, left = round(y0 * h), round(x0 * w)
    mask[top : max(round(y1 * h), top + 1), left : max(round(x1 * w), left + 1)] = 1
    return mask


def _mask_file(path: Path, shape: list[int]) -> torch.Tensor:
    import numpy as np
    import torch
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            gray = img.convert("L").resize((shape[-1], shape[-2]), Image.Resampling.BILINEAR)
    except (OSError, UnidentifiedImageError) as exc:
        raise ConfigError(f"cannot read mask {path}: {exc}") from None
    return (torch.from_numpy(np.asarray(gray, dtype=np.float32)) > 127).float()


@app.command()
def rewrite(
    bundle_name: str = typer.Argument(..., metavar="BUNDLE", help="Bundle directory or zoo name."),
    layer: str = typer.Option("conv:0", help="Conv or linear layer to rewrite (name or conv:i)."),
    source: int = typer.Option(0, help="Sample (index in the seed's batch) to copy from."),
    target: int = typer.Option(1, help="Sample to paste into."),
    region: str = typer.Option("0.25:0.75,0.25:0.75", help="Region to copy, y0:y1,x0:x1 as fractions."),
    mask: Path = typer.Option(None, help="Or a PNG mask of the region (white = copy), any size."),
    shift: str = typer.Option("0,0", help="Move the pasted region by rows,cols at the layer's resolution."),
    rank: int = typer.Option(1, min=1, help="Rank of the weight change."),
    method: str = typer.Option("closed", help="closed (least squares) or optimize (projected Adam)."),
    n: int = typer.Option(
        None, min=8, help="Samples for the key statistics C (default: 100 keys per key dimension, >= 256)."
    ),
    progress: bool = typer.Option(True, help="Show a progress bar."),
    seed: int = typer.Option(0, min=0, help="Seed for the samples."),
    out: Path = typer.Option(None, help="Bundle directory to write (default: BUNDLE-rewrite)."),
    preview: Path = typer.Option(None, help="Also write a PNG: the samples before (top) and after."),
    device: str = typer.Option(None, help="cpu, cuda, mps or auto."),
    overwrite: bool = OVERWRITE,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Rewrite a layer so a region of one sample appears in another (Bau et al. 2020)."""
    import torch

    from swerve.bundle import load
    from swerve.diverge.rewrite import paste_rewrite

    bundle = load(bundle_name, device=device)
    destination = _bundle_out(out, bundle_name, "rewrite", overwrite)
    _check_preview(preview, overwrite)
    if not bundle.data.is_image:
        raise ConfigError(
            f"rewrite pastes image regions, and {bundle.name} makes points of shape "
            f"{tuple(bundle.data.shape)}, not images"
        )
    try:
        dy, dx = (int(v) for v in shift.split(","))
    except ValueError:
        raise ConfigError(f"--shift takes rows,cols, e.g. 0,2; got {shift!r}") from None
    area = _region(region, bundle.data.shape) if mask is None else _mask_file(mask, bundle.data.shape)
    result, info = paste_rewrite(
        bundle,
        layer,
        source,
        target,
        area,
        seed=seed,
        shift=(dy, dx),
        rank=rank,
        method=method,
        n=n,
        progress=progress,
    )
    path = result.save(destination)
    shown = None
    if preview is not None:
        from swerve.look.grid import save_image

        k = max(source, target) + 1
        count = max(k, 8)
        x = torch.cat([bundle.sample(count, seed=seed).x, result.sample(count, seed=seed).x])
        save_image(_grid_image(bundle, x, nrow=count), preview)
        _sidecar(preview, {"bundle": bundle_name, "n": count, "seed": seed, "history": result.history})
        shown = str(preview)
    record = {
        "bundle": str(path),
        "layer": info.layer,
        "residual": info.error(),
        "preview": shown,
        "history": result.history[-1],
    }
    emit(
        record,
        as_json,
        f"wrote {path}: {info.layer} rewritten, constraint residual {info.error():.2e}"
        + (f"; {shown}" if shown else ""),
    )

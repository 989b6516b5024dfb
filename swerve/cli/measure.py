"""``swerve scan`` and ``swerve measure``: which samples and nodes are anomalous; novelty against quality."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from swerve.cli.main import OVERWRITE, app, emit, finite
from swerve.errors import ConfigError, DataError
from swerve.outputs import check_output, check_outputs
from swerve.utils import json_text, write_text_atomic

if TYPE_CHECKING:
    import torch

ROLES = ("classifier", "discriminator", "encoder", "generator")


def _images(path: Path) -> torch.Tensor:
    """The ``x`` array of an .npz sample file (as ``swerve sample --out x.npz`` writes)."""
    import numpy as np
    import torch

    try:
        with np.load(path, allow_pickle=False) as data:
            if "x" not in data:
                raise DataError(f"{path} has no 'x' array (write samples with swerve sample --out x.npz)")
            return torch.from_numpy(np.asarray(data["x"], dtype=np.float32))
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read samples from {path}: {exc}") from None


def _activations(
    source: str, layer: str, n: int, seed: int, model: str | None, creative: bool
) -> tuple[torch.Tensor, dict]:
    """(N, J) activations of ``layer`` for a bundle's samples or a sample file's images."""
    from swerve.bundle import load
    from swerve.diverge.creative import creative_decoder
    from swerve.measure.scan.activations import PIXELS, layer_activations, sample_activations

    path = Path(source)
    if path.suffix == ".npz":
        x = _images(path)
        if layer == PIXELS:
            return x.reshape(len(x), -1), {"file": source, "n": len(x)}
        if model is None:
            raise ConfigError(f"to scan layer {layer!r} of images from a file, name the network with --model")
        bundle = load(model)
        role = next((r for r in ROLES if r in bundle.networks), None)
        if role is None:
            raise ConfigError(f"{model} has none of the networks {', '.join(ROLES)}")
        acts = layer_activations(bundle.networks[role], [x], [layer])[layer]
        return acts, {"file": source, "n": len(x), "model": model, "role": role}
    bundle = load(source)
    with creative_decoder(bundle.generator) if creative else _nothing():
        _, acts = sample_activations(bundle, n, [layer], seed=seed)
    return acts[layer], {"bundle": source, "n": n, "seed": seed, "creative": creative}


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


@app.command()
def scan(
    test: str = typer.Argument(
        ..., metavar="TEST", help="Bundle (zoo name or directory) or .npz sample file."
    ),
    background: str = typer.Option(
        None, help="Normal samples: a bundle or an .npz sample file (default: TEST's own bundle, undiverged)."
    ),
    layer: str = typer.Option("blocks.0", help="Layer to scan (a named_modules name) or 'pixels'."),
    model: str = typer.Option(None, help="Bundle whose network reads .npz images, for a hidden layer."),
    n: int = typer.Option(200, min=2, max=100_000, help="Samples to draw from a bundle."),
    seed: int = typer.Option(0, help="Seed: test samples use it, background samples seed + 1."),
    creative: bool = typer.Option(False, help="Decode TEST with the creative decoder (default settings)."),
    statistic: str = typer.Option("berk-jones", help="berk-jones, higher-criticism or kolmogorov-smirnov."),
    alpha_max: float = typer.Option(
        0.5, min=0.0, max=1.0, help="Largest p-value that counts as evidence.", callback=finite
    ),
    tail: str = typer.Option("upper", help="upper, lower or two."),
    ties: str = typer.Option("fractional", help="fractional (swerve) or pmax (ART's convention)."),
    restarts: int = typer.Option(10, min=1, max=1000, help="Random restarts of the group scan."),
    out: Path = typer.Option(None, help="Write the full result (subsets included) to this JSON file."),
    overwrite: bool = OVERWRITE,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Group-scan TEST's activations against a background: which samples and nodes are anomalous."""
    from swerve.measure.scan import empirical_pvalues, scan_group, scan_individual

    if out is not None:
        check_output(out, "file", overwrite)  # before the work, not after it

    if background is None:
        if test.endswith(".npz"):
            raise ConfigError("an .npz sample file needs --background: normal samples to compare with")
        background = test  # the same model's ordinary samples, with another seed
    acts, test_info = _activations(test, layer, n, seed, model, creative)
    bg, bg_info = _activations(background, layer, n, seed + 1, model, False)
    if acts.shape[1] != bg.shape[1]:
        raise ConfigError(f"TEST has {acts.shape[1]} nodes at {layer} but the background has {bg.shape[1]}")
    pv = empirical_pvalues(acts, bg, tail=tail, ties=ties)
    group = scan_group(pv, statistic=statistic, alpha_max=alpha_max, restarts=restarts, seed=seed)
    single = scan_individual(pv, statistic=statistic, alpha_max=alpha_max)
    result = {
        "command": "swerve scan",
        "test": test_info,
        "background": bg_info,
        "layer": layer,
        "tail": tail,
        **group.to_dict(),  # "samples" and "nodes": the indices of the anomalous subset
        "n_samples": acts.shape[0],  # the test samples and the layer's nodes
        "n_nodes": acts.shape[1],
        "individual": {
            "scores": single.scores.tolist(),
            "alphas": single.alphas.tolist(),
            "subset_sizes": single.sizes().tolist(),
        },
    }
    summary = {k: v for k, v in result.items() if k not in ("samples", "nodes", "individual")}
    summary.update(subset_samples=len(group.samples), subset_nodes=len(group.nodes))
    if out is not None:
        write_text_atomic(out, json_text(result, mark=True, indent=2) + "\n")
        summary["out"] = str(out)
    emit(
        summary if not as_json or out is not None else result,
        as_json,
        f"{statistic} score {group.score:.2f} at alpha {group.alpha:.4f}: {len(group.samples)} of "
        f"{acts.shape[0]} samples x {len(group.nodes)} of {acts.shape[1]} nodes of {layer}"
        f"; one-sample scans: mean score {single.scores.mean():.2f}, "
        f"mean subset {single.sizes().double().mean():.0f} nodes",
    )


@app.command()
def measure(
    bundles: list[str] = typer.Argument(..., metavar="BUNDLE...", help="Bundles (zoo names or directories)."),
    ops: list[str] = typer.Option(
        None, "--ops", help="Operations, e.g. none, creative:fraction=0.1,0.5 (repeat the option)."
    ),
    n: int = typer.Option(200, min=10, max=100_000, help="Samples per point."),
    seed: int = typer.Option(0, help="Seed for the samples."),
    reference_n: int = typer.Option(1000, min=10, max=100_000, help="Real test images to measure against."),
    out: Path = typer.Option(
        Path("divergence-map.png"), help="The plot; the table goes beside it (.csv, .json)."
    ),
    overwrite: bool = OVERWRITE,
    as_json: bool = typer.Option(False, "--json", help="Print the table as JSON."),
) -> None:
    """The divergence map: novelty against quality, one point per operation or parameter value."""
    from swerve.bundle import load
    from swerve.data import load_like
    from swerve.measure.divergence import DEFAULT_OPS, divergence_map, write_map

    stem = str(out)[:-4] if str(out).lower().endswith(".png") else str(out)
    check_outputs([Path(stem + ext) for ext in (".png", ".csv", ".json")], overwrite)

    loaded = [load(b) for b in bundles]
    datasets = {b.data.dataset for b in loaded}
    if len(datasets) != 1 or not next(iter(datasets)):
        raise ConfigError(f"the bundles must share one known dataset, got {sorted(datasets)}")
    dataset = datasets.pop()
    shapes = {tuple(b.data.shape) for b in loaded}
    if len(shapes) != 1:
        raise ConfigError(f"the bundles must make samples of one shape, got {sorted(map(list, shapes))}")
    if loaded[0].extra.get("vocab") is not None:  # text: held-out strings, one-hot like the samples
        from swerve.data.text import one_hot
        from swerve.refine.scores import held_out_text

        reference = one_hot(held_out_text(loaded[0])[:reference_n], loaded[0].data.shape[0])
    else:
        reference = load_like(dataset, loaded[0].data.shape, split="test", n=reference_n).x
    rows = divergence_map(loaded, list(ops or DEFAULT_OPS), reference, n=n, seed=seed)
    files = write_map(rows, out, title=f"divergence map ({dataset}, {n} samples per point, seed {seed})")
    best = max(rows, key=lambda r: r["novelty"] * r["precision"])
    emit(
        {"rows": rows, **files},
        as_json,
        f"wrote {files['plot']}, {files['csv']} and {files['json']} ({len(rows)} points); "
        "most novel at good quality: "
        f"{best['bundle']} {best['label']} "
        f"(novelty {best['novelty']:.2f}, precision {best['precision']:.2f})",
    )

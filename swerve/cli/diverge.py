"""``swerve diverge``: diverge while making (novelty search, Digits that are not, iterated learning,
held-out classes, CAN, training without data). Thin: parse, call swerve.diverge, write, print."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from swerve.cli.main import OVERWRITE, app, emit, finite
from swerve.errors import MAX_STEPS, ConfigError
from swerve.outputs import check_folder, check_outputs
from swerve.utils import atomic_path, json_text, write_text_atomic

if TYPE_CHECKING:
    import numpy as np
    import torch

    from swerve.bundle import Bundle
    from swerve.train import TrainConfig

diverge_app = typer.Typer(
    help="Diverge while making: push a model away from its data as it is made.", rich_markup_mode=None
)
app.add_typer(diverge_app, name="diverge")

JSON = typer.Option(False, "--json", help="Print the result as JSON.")
PROGRESS = typer.Option(True, help="Show a progress bar.")


def _bar(total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=desc, disable=not enabled, leave=False)

    def update(done: int, _total: int | None = None) -> None:
        bar.update(done - bar.n)

    return bar, update


def _check_archive(out: Path, overwrite: bool) -> None:
    """Refuse, before the work, an --out that is no .npz or whose files would replace what exists."""
    if out.suffix.lower() != ".npz":
        raise ConfigError(f"--out must end in .npz, got {out}")
    check_outputs([out, out.with_suffix(".png"), out.with_name(out.name + ".json")], overwrite)


def _write_archive(out: Path, arrays: dict[str, np.ndarray], record: dict[str, Any]) -> tuple[Path, Path]:
    """An .npz of samples plus a PNG grid and a JSON sidecar (method, params, seed, history) beside it;
    returns the grid's and the sidecar's paths."""
    import numpy as np
    import torch

    from swerve.look.grid import make_grid, save_image, upscale

    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays, recipe=np.array(json_text(record, default=str)))
    with atomic_path(out) as tmp:
        tmp.write_bytes(buffer.getvalue())
    picture = save_image(
        upscale(make_grid(torch.as_tensor(arrays["x"][:64]), nrow=8)), out.with_suffix(".png")
    )
    side = out.with_name(out.name + ".json")
    write_text_atomic(side, json_text(record, mark=True, indent=2, default=str) + "\n")
    return picture, side


def _extractor(name: str | None, dataset: str) -> tuple[torch.nn.Module, str]:
    from swerve.bundle import load
    from swerve.diverge.compare import default_extractor

    if name is None:
        net = default_extractor(dataset)
        if net is None:
            raise ConfigError(f"no domain classifier for {dataset!r}; give one with --extractor BUNDLE")
        return net, "domain-classifier"
    bundle = load(name)
    return bundle.networks.get("classifier") or bundle.discriminator, name


def _comparison(method: torch.Tensor, baseline: torch.Tensor, dataset: str, extractor, n: int, seed: int):
    """Novelty/quality of the method's samples next to the baseline's, or None (n = 0, no real data)."""
    from swerve.diverge.compare import compare, reference_images

    if n <= 0:
        return None
    reference = reference_images(dataset, n=max(n, 200), seed=seed, shape=list(method.shape[1:]))
    if reference is None or list(reference.shape[1:]) != list(method.shape[1:]):
        return None
    return compare(("method", method[:n]), ("baseline", baseline[:n]), reference, extractor, seed=seed)


def _summary_rows(rows: list[dict[str, Any]] | None) -> str:
    if not rows:
        return ""
    keys = ("novelty", "precision", "recall", "fd", "sparseness")
    return "\n" + "\n".join(
        f"  {r['samples']:<9} " + "  ".join(f"{k} {r[k]:.3g}" for k in keys if k in r) for r in rows
    )


def _config(preset: str | None, config: Path | None, overrides: dict[str, Any]) -> TrainConfig:
    from swerve.zoo.recipes import train_config

    return train_config(preset, config, {k: v for k, v in overrides.items() if v is not None})


# --- novelty search ----------------------------------------------------------------------------------------
@diverge_app.command()
def novelty(
    bundle_name: str = typer.Argument(..., metavar="BUNDLE", help="Bundle directory or zoo name."),
    out: Path = typer.Option(
        None,
        help="The archive (.npz, the default; a .png grid and .json go beside); a text model's "
        "words with their scores (.jsonl, default novelty.jsonl).",
    ),
    method: str = typer.Option("evolution", help="evolution or gradient."),
    extractor: str = typer.Option(
        None, help="Behaviour space: a bundle with a classifier (default: domain's)."
    ),
    layer: str = typer.Option(None, help="Use this layer of the extractor instead of its features."),
    budget: int = typer.Option(2000, min=2, max=MAX_STEPS, help="Generator evaluations to spend."),
    population: int = typer.Option(50, min=2, max=100_000, help="Codes per generation."),
    add: int = typer.Option(5, min=1, help="Codes added to the archive per generation."),
    k: int = typer.Option(10, min=1, help="Nearest neighbours in the novelty score."),
    sigma: float = typer.Option(0.5, min=0.0, help="Mutation strength (evolution).", callback=finite),
    lr: float = typer.Option(0.1, min=0.0, help="Step size (gradient).", callback=finite),
    quality: str = typer.Option(None, help="Quality constraint: discriminator or classifier."),
    quality_min: float = typer.Option(
        None, help="Keep only archive entries with quality above this.", callback=finite
    ),
    measure_n: int = typer.Option(500, min=0, help="Samples for novelty/quality vs the baseline (0: skip)."),
    seed: int = typer.Option(0, help="Seed of the search."),
    device: str = typer.Option(None, help="cpu, cuda, mps or auto."),
    progress: bool = PROGRESS,
    overwrite: bool = OVERWRITE,
    as_json: bool = JSON,
) -> None:
    """Latent novelty search: an archive of codes whose images differ most in a behaviour space."""
    from swerve.bundle import load
    from swerve.data.text import bundle_vocab
    from swerve.diverge.novelty import search_bundle

    bundle = load(bundle_name, device=device)
    if bundle_vocab(bundle) is not None:
        options = dict(method=method, budget=budget, population=population, add_per_generation=add, k=k)
        options.update(sigma=sigma, lr=lr, seed=seed)
        out = out or Path("novelty.jsonl")
        check_outputs([out, out.with_name(out.name + ".json")], overwrite)
        _text_novelty(bundle_name, bundle, out, quality, quality_min, options, as_json)
        return
    out = out or Path("novelty.npz")
    _check_archive(out, overwrite)
    net, net_name = _extractor(extractor, bundle.data.dataset)
    if quality is not None and quality_min is None:
        raise ConfigError("--quality needs --quality-min")
    bar, update = _bar(budget, "novelty search", progress)
    with bar:
        archive = search_bundle(
            bundle,
            net.to(bundle.device),
            layer=layer,
            quality=quality,
            quality_min=quality_min,
            classifier=net,
            method=method,
            budget=budget,
            population=population,
            add_per_generation=add,
            k=k,
            sigma=sigma,
            lr=lr,
            seed=seed,
            progress=update,
        )
    params = {**archive.params, "extractor": net_name, "layer": layer, "quality": quality}
    baseline = bundle.sample(len(archive), seed=seed + 1).x
    rows = _comparison(archive.x, baseline, bundle.data.dataset, net, min(measure_n, len(archive)), seed)
    record = _record(bundle_name, bundle, "novelty", params, rows)
    arrays = {"x": archive.x.numpy(), "z": archive.z.numpy(), "novelty": archive.novelty.numpy()}
    if archive.labels is not None:
        arrays["labels"] = archive.labels.numpy()
    if archive.quality is not None:
        arrays["quality"] = archive.quality.numpy()
    picture, side = _write_archive(out, arrays, record)
    result = {
        **record,
        "out": str(out),
        "picture": str(picture),
        "record": str(side),
        "archive_size": len(archive),
    }
    written = f"wrote {out}, {picture} and {side}"
    emit(result, as_json, f"archive of {len(archive)} codes: {written}" + _summary_rows(rows))


def _text_novelty(
    bundle_name: str,
    bundle: Bundle,
    out: Path,
    quality: str | None,
    quality_min: float | None,
    options: dict[str, Any],
    as_json: bool,
) -> None:
    """Novelty search on a text model in an n-gram feature space; prints the new strings with their scores
    (and, for the words model, dictionary novelty, pronounceability and nearest word)."""
    from swerve.cli.look import write_strings
    from swerve.data.text import dictionary_words, words_file
    from swerve.diverge.text_novelty import archive_strings, score_words, search_text

    if out.suffix.lower() != ".jsonl":
        raise ConfigError(f"a text model's archive is written as .jsonl; got {out}")
    if quality not in (None, "discriminator"):
        raise ConfigError("a text model's quality constraint is 'discriminator'")
    if quality is not None and quality_min is None:
        raise ConfigError("--quality needs --quality-min")
    archive = search_text(bundle, quality_min=quality_min if quality else None, **options)
    strings = archive_strings(bundle, archive)
    rows: list[dict[str, Any]] = [{"novelty": float(v)} for v in archive.novelty]
    if bundle.data.dataset == "words":
        for row, scores in zip(rows, score_words(strings, dictionary_words(words_file())), strict=True):
            row.update({k: v for k, v in scores.items() if k != "word"})
    params = {**archive.params, "behaviour": "character unigram and bigram profile"}
    record = _record(bundle_name, bundle, "novelty", params, None)
    write_strings(out, strings, rows)
    side = out.with_name(out.name + ".json")
    write_text_atomic(side, json_text(record, mark=True, indent=2) + "\n")
    order = sorted(range(len(strings)), key=lambda i: -rows[i]["novelty"])
    lines = [f"archive of {len(strings)} strings -> {out} (most novel first)"]
    for i in order:
        r = rows[i]
        line = f"  {strings[i]!r:<16} novelty {r['novelty']:.3f}"
        if "new" in r:
            line += f"  {'new' if r['new'] else 'known'}  logp/char {r['logp_per_char']:.2f}"
            line += f"  nearest {r['nearest']} (edit distance {r['distance']})"
        lines.append(line)
    samples = [{"text": s, **r} for s, r in zip(strings, rows, strict=True)]
    emit({**record, "out": str(out), "record": str(side), "samples": samples}, as_json, "\n".join(lines))


def _record(source: str, bundle: Bundle | None, method: str, params: dict, rows) -> dict[str, Any]:
    history = list(bundle.history) if bundle is not None else []
    history.append({"op": f"diverge-{method}", "params": params})
    return {
        "method": method,
        "source": source,
        "params": params,
        "history": history,
        "measured": rows,
        "command": f"swerve diverge {method}",
    }


# --- Digits that are not -----------------------------------------------------------------------------------
@diverge_app.command("digits-not")
def digits_not(
    autoencoder: str = typer.Argument("fashion-wta-ae", help="A sparse-autoencoder bundle (kind sparse-ae)."),
    out: Path = typer.Option(Path("digits-not.npz"), help="The fixed points (.npz; .png and .json beside)."),
    classifier: str = typer.Option(None, help="Classifier bundle (default: the data's domain classifier)."),
    n: int = typer.Option(500, min=2, max=100_000, help="Fixed points to make."),
    clusters: int = typer.Option(10, min=1, help="k-means clusters."),
    max_iter: int = typer.Option(
        100, min=1, max=MAX_STEPS, help="Iterations before giving up on a fixed point."
    ),
    theta: float = typer.Option(
        0.9, min=0.0, max=1.0, help="Confidence a recognised cluster needs.", callback=finite
    ),
    measure_n: int = typer.Option(500, min=0, help="Samples for novelty/quality vs the baseline (0: skip)."),
    seed: int = typer.Option(0, help="Seed of the starting noise."),
    progress: bool = PROGRESS,
    overwrite: bool = OVERWRITE,
    as_json: bool = JSON,
) -> None:
    """Iterate the autoencoder from noise to fixed points; report the clusters no known class claims."""
    import torch

    from swerve.bundle import load
    from swerve.data import load_dataset
    from swerve.diverge.digits_not import as_arrays, binarize, digits_that_are_not, white_ratio

    _check_archive(out, overwrite)
    bundle = load(autoencoder)
    ae = bundle.networks.get("autoencoder")
    if ae is None:
        raise ConfigError(
            f"{autoencoder} has no autoencoder; build one with 'swerve zoo build fashion-wta-ae'"
        )
    data = load_dataset(bundle.data.dataset)
    ratio = white_ratio(data.x)
    net, net_name = _extractor(classifier, bundle.data.dataset)
    bar, update = _bar(max_iter, "fixed points", progress)
    with bar:
        result = digits_that_are_not(
            ae,
            net,
            ratio,
            n=n,
            clusters=clusters,
            max_iter=max_iter,
            theta=theta,
            class_names=data.classes,
            seed=seed,
            progress=lambda it, done: update(it),
        )
    params = {**result.params, "classifier": net_name}
    # The undiverged baseline: the autoencoder doing its job, binarised reconstructions of real images.
    with torch.no_grad():
        real = data.x[torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:n]]
        baseline = binarize(ae(real), ratio)
    rows = _comparison(result.points.x, baseline, bundle.data.dataset, net, min(measure_n, n), seed)
    record = _record(autoencoder, bundle, "digits-not", params, rows)
    record["clusters"] = result.table
    picture, side = _write_archive(out, as_arrays(result), record)
    novel = result.novel_clusters
    emit(
        {
            **record,
            "out": str(out),
            "picture": str(picture),
            "record": str(side),
            "novel_clusters": novel,
            "converged": float(result.points.converged.double().mean()),
        },
        as_json,
        f"{n} fixed points ({100 * float(result.points.converged.double().mean()):.0f}% converged), "
        f"{len(novel)} of {len(result.table)} clusters not recognised; wrote {out}, {picture} and {side}"
        + _summary_rows(rows),
    )


# --- iterated learning -------------------------------------------------------------------------------------
@diverge_app.command()
def iterate(
    bundle_name: str = typer.Argument(..., metavar="BUNDLE", help="A GAN trained by swerve (or zoo name)."),
    out: Path = typer.Option(Path("runs/iterate"), help="Run directory: one trainer run per round."),
    rounds: int = typer.Option(3, min=1, max=1000, help="Rounds of adding own samples and retraining."),
    samples_per_round: int = typer.Option(
        2000, min=1, max=1_000_000, metavar="N", help="Samples drawn each round."
    ),
    keep: float = typer.Option(
        0.5, min=0.0, max=1.0, help="Fraction kept, most novel first (1: all).", callback=finite
    ),
    steps_per_round: int = typer.Option(500, min=1, max=MAX_STEPS, help="Training steps per round."),
    warm_start: bool = typer.Option(True, help="Continue from the last round's weights (else retrain)."),
    measure_n: int = typer.Option(500, min=2, help="Samples measured each round."),
    seed: int = typer.Option(0, help="Seed."),
    device: str = typer.Option(None, help="cpu, cuda, mps or auto."),
    progress: bool = PROGRESS,
    as_json: bool = JSON,
) -> None:
    """Iterated learning: add the model's most novel samples to its data, retrain, measure; repeat."""
    from swerve.bundle import load
    from swerve.data import load_dataset
    from swerve.diverge.compare import reference_images
    from swerve.diverge.iterated import iterated_learning
    from swerve.train import TrainConfig

    check_folder(out, "run")  # before the work, not after it
    bundle = load(bundle_name, device=device)
    cfg = TrainConfig.from_dict(bundle.training.get("config") or {"kind": "none"})
    data = load_dataset(cfg.dataset, classes=cfg.classes, image_size=cfg.image_size, channels=cfg.channels)
    net, _ = _extractor(None, bundle.data.dataset)
    reference = reference_images(bundle.data.dataset, n=2000, seed=seed, shape=bundle.data.shape)
    final, rows = iterated_learning(
        bundle,
        data,
        out,
        net,
        reference,
        rounds=rounds,
        samples_per_round=samples_per_round,
        keep=keep,
        steps_per_round=steps_per_round,
        warm_start=warm_start,
        measure_n=measure_n,
        seed=seed,
        progress=progress,
    )
    done = rows[-1]["round"]
    lines = [
        f"  round {r['round']}: +{r['added']} samples, novelty {r['novelty']:.3g}, recall {r['recall']:.3g}, "
        f"precision {r['precision']:.3g}"
        for r in rows
    ]
    emit(
        {"run_dir": str(out), "rounds_done": done, "rows": rows, "history": final.history},
        as_json,
        f"{done} of {rounds} rounds; bundle: {out / 'bundle'}"
        + ("" if done == rounds else " (interrupted: run again to resume)")
        + "\n"
        + "\n".join(lines),
    )
    if done < rounds:
        raise typer.Exit(130)


# --- training runs: held-out classes, CAN, no data ---------------------------------------------------------
def _fit(
    cfg: TrainConfig, out: Path, resume: bool, progress: bool, method: str, params: dict, data=None
) -> tuple[Bundle, bool]:
    from swerve.train import Trainer

    trainer = Trainer(cfg, out, resume=resume, data=data, progress=progress)
    result = trainer.fit()
    bundle = trainer.export()
    bundle.record(f"diverge-{method}", steps=result.step, seed=cfg.seed, **params)
    bundle.save(out / "bundle")
    return bundle, result.interrupted


def _class_list(text: str) -> list[int]:
    try:
        return [int(c) for c in text.split(",") if c.strip()]
    except ValueError:
        raise ConfigError(f"--held-out takes class ids like 5,7; got {text!r}") from None


@diverge_app.command("held-out")
def held_out(
    bundles: list[str] = typer.Argument(None, help="Bundles to judge (trained on the other classes)."),
    held: str = typer.Option("5,7", "--held-out", help="Held-out class ids, comma-separated."),
    preset: str = typer.Option(None, help="Train this recipe on the other classes first (e.g. fashion-gan)."),
    config: Path = typer.Option(None, help="...or this training config file."),
    out: Path = typer.Option(Path("runs/held-out"), help="Run directory when training."),
    steps: int = typer.Option(None, help="Override the training steps."),
    resume: bool = typer.Option(False, help="Continue an interrupted training run."),
    n: int = typer.Option(1000, min=1, max=100_000, help="Samples judged per model."),
    seed: int = typer.Option(0, help="Seed."),
    progress: bool = PROGRESS,
    as_json: bool = JSON,
) -> None:
    """Out-of-class novelty: how many samples a 10-class classifier puts in classes the model never saw."""
    import torch

    from swerve.bundle import load
    from swerve.data import load_dataset
    from swerve.diverge.inspiring import held_out_harness, training_classes

    classes = _class_list(held)
    models: dict[str, torch.Tensor] = {}
    dataset = None
    if preset is not None or config is not None:
        cfg = _config(preset, config, {"steps": steps, "seed": seed})
        num_classes = len(load_dataset(cfg.dataset, split="test").classes)
        cfg = cfg.replace(classes=training_classes(num_classes, classes))
        bundle, interrupted = _fit(cfg, out, resume, progress, "held-out", {"held_out": classes})
        if interrupted:
            emit({"run_dir": str(out), "interrupted": True}, as_json, "interrupted; continue with --resume")
            raise typer.Exit(130)
        models[f"{cfg.name} (trained)"] = bundle.sample(n, seed=seed).x
        dataset = cfg.dataset
    for name in bundles or []:
        bundle = load(name)
        models[name] = bundle.sample(n, seed=seed).x
        dataset = dataset or bundle.data.dataset
    if not models:
        raise ConfigError("give bundles to judge, or --preset/--config to train one")
    test = load_dataset(dataset or "fashion-mnist", split="test")
    inside = torch.isin(test.labels, torch.tensor(classes))
    models["real, held-out classes"] = test.x[inside][:n]
    models["real, training classes"] = test.x[~inside][:n]
    net, net_name = _extractor(None, dataset or "fashion-mnist")
    rows = held_out_harness(models, net, classes)
    lines = [
        f"  {r['method']:<32} count@0.9 {r['count@0.9']:.3f}  max {r['max']:.3f}  "
        f"objectness {r['objectness']:.2f}"
        for r in rows
    ]
    emit({"held_out": classes, "classifier": net_name, "rows": rows}, as_json, "\n".join(lines))


@diverge_app.command()
def can(
    config: Path = typer.Argument(None, help="A training config of kind can (or use --preset)."),
    preset: str = typer.Option(None, help="Start from a recipe, e.g. fashion-heldout-can."),
    out: Path = typer.Option(Path("runs/can"), help="Run directory."),
    weight: float = typer.Option(
        None, help="λ, the weight of style ambiguity (default: the recipe's, or 1).", callback=finite
    ),
    ambiguity: str = typer.Option(None, help="paper (per-class BCE to 1/K) or softmax (CE to uniform)."),
    steps: int = typer.Option(None, help="Override the training steps."),
    seed: int = typer.Option(None, help="Override the seed."),
    baseline: str = typer.Option("fashion-gan", help="Undiverged model the samples are measured against."),
    resume: bool = typer.Option(False, help="Continue the run in --out."),
    measure_n: int = typer.Option(500, min=0, help="Samples for novelty/quality vs the baseline (0: skip)."),
    progress: bool = PROGRESS,
    as_json: bool = JSON,
) -> None:
    """Train a CAN: a GAN whose generator is also pushed to make samples no known class claims."""
    from swerve.bundle import load
    from swerve.diverge.can import class_posterior
    from swerve.measure import posterior_entropy

    cfg = _config(preset, config, {"steps": steps, "seed": seed})
    params = dict(cfg.params)
    params.update(
        {k: v for k, v in (("ambiguity_weight", weight), ("ambiguity", ambiguity)) if v is not None}
    )
    cfg = cfg.replace(kind="can", params=params)
    bundle, interrupted = _fit(cfg, out, resume, progress, "can", params)
    if interrupted:
        emit({"run_dir": str(out), "interrupted": True}, as_json, "interrupted; continue with --resume")
        raise typer.Exit(130)
    x = bundle.sample(max(measure_n, 64), seed=cfg.seed).x
    entropy = posterior_entropy(class_posterior(bundle.discriminator, x, sorted(cfg.classes or []) or None))
    rows = None
    if measure_n:
        net, _ = _extractor(None, bundle.data.dataset)
        rows = _comparison(
            x,
            load(baseline).sample(measure_n, seed=cfg.seed).x,
            bundle.data.dataset,
            net,
            measure_n,
            cfg.seed,
        )
    emit(
        {
            "run_dir": str(out),
            "bundle": str(out / "bundle"),
            "class_head_entropy": entropy,
            "measured": rows,
            "history": bundle.history,
        },
        as_json,
        f"bundle: {out / 'bundle'}; class-head entropy on samples {entropy:.3f}" + _summary_rows(rows),
    )


@diverge_app.command()
def nodata(
    out: Path = typer.Option(Path("runs/nodata"), help="Run directory."),
    variant: str = typer.Option("adversarial", help="adversarial, cosine or euclidean."),
    variance_weight: float = typer.Option(
        1.0, min=0.0, help="Weight of the mini-batch variance reward.", callback=finite
    ),
    steps: int = typer.Option(1500, min=1, max=MAX_STEPS, help="Training steps."),
    image_size: int = typer.Option(28, min=4, help="Side of the square images."),
    channels: int = typer.Option(1, help="1 (grey) or 3 (RGB)."),
    batch_size: int = typer.Option(10, min=2, help="Batch size."),
    lr: float = typer.Option(0.01, min=0.0, help="Adam learning rate (all three networks).", callback=finite),
    seed: int = typer.Option(0, help="Seed."),
    baseline: str = typer.Option(
        "fashion-gan", help="Model its samples are measured against (same metrics)."
    ),
    resume: bool = typer.Option(False, help="Continue the run in --out."),
    measure_n: int = typer.Option(500, min=0, help="Samples for novelty/quality vs the baseline (0: skip)."),
    progress: bool = PROGRESS,
    as_json: bool = JSON,
) -> None:
    """Train two generators and a discriminator with no data at all (Broad & Grierson 2019)."""
    from swerve.bundle import load
    from swerve.diverge.nodata import batch_variance, nodata_config, train_without_data

    cfg = nodata_config(
        image_size=image_size,
        channels=channels,
        batch_size=batch_size,
        lr_g=lr,
        lr_d=lr,
        steps=steps,
        seed=seed,
        params={"variant": variant, "variance_weight": variance_weight},
    )
    bundle = train_without_data(cfg, out, resume=resume, progress=progress)
    if bundle.training.get("interrupted"):
        emit({"run_dir": str(out), "interrupted": True}, as_json, "interrupted; continue with --resume")
        raise typer.Exit(130)
    x = bundle.sample(max(measure_n, 64), seed=seed).x
    rows = None
    base = load(baseline) if measure_n else None
    if base is not None and list(base.data.shape) == list(x.shape[1:]):
        net, _ = _extractor(None, base.data.dataset)
        rows = _comparison(x, base.sample(measure_n, seed=seed).x, base.data.dataset, net, measure_n, seed)
    variance = float(batch_variance(x))
    emit(
        {
            "run_dir": str(out),
            "bundle": str(out / "bundle"),
            "batch_variance": variance,
            "measured": rows,
            "history": bundle.history,
        },
        as_json,
        f"bundle: {out / 'bundle'}; batch variance of samples {variance:.3f}" + _summary_rows(rows),
    )

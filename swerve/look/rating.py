"""Rating sessions: people judge pictures blind, and a report says which automatic measure agrees with them.

::

    from swerve.look.store import Store
    from swerve.look.rating import new_session, report
    store = Store("studio-out/swerve.db")
    session = new_session(store, "samples.npz", kind="scores", seed=0)   # or a sweep folder, or "gallery"
    ...                                                                   # raters rate in the studio
    result = report(store, session)                                       # alpha, rho and tau with intervals

A session is shuffled from a seed and shows only pictures (never the method or model behind them). It asks
for novelty and value on 1 to 5, or, pairwise, which of two pictures is more surprising. Every answer is
committed as it is given, so a session pauses and resumes anywhere. The statistics are in
:mod:`swerve.measure.agreement`.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from swerve.errors import ConfigError, DataError
from swerve.look.store import Store
from swerve.measure.agreement import krippendorff_alpha, pairwise_scores, rank_agreement
from swerve.utils import atomic_path, write_text_atomic

THUMB = 128  # pixels on the longer side of a stored thumbnail
MAX_PICTURES = 5000
NOT_MEASURED = "not measured for this picture"


def thumbnail_png(picture: Image.Image, size: int = THUMB) -> bytes:
    """``picture`` scaled to ``size`` on its longer side (nearest neighbour: pixels stay pixels) as PNG."""
    scale = size / max(picture.size)
    shape = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
    buffer = io.BytesIO()
    picture.convert("RGB").resize(shape, Image.Resampling.NEAREST).save(buffer, format="PNG")
    return buffer.getvalue()


# --- sources -----------------------------------------------------------------------------------------------
def import_pictures(store: Store, source: str | Path) -> tuple[list[int], str]:
    """Store the pictures of ``source`` (an .npz of samples, a sweep folder or its results.json, a folder of
    PNGs, or ``gallery`` for the kept pictures already in the store); answers their ids and a description."""
    if str(source) == "gallery":
        listing = store.gallery(kind="keep", per_page=MAX_PICTURES)["pictures"]
        return [p["id"] for p in listing], "gallery"
    path = Path(source)
    if not path.exists():
        raise DataError(f"{path} does not exist (give an .npz of samples, a sweep folder or 'gallery')")
    if path.suffix == ".npz":
        return _from_npz(store, path), f"samples {path}"
    if path.name == "results.json":
        path = path.parent
    if (path / "results.json").is_file():
        return _from_sweep(store, path), f"sweep {path}"
    if path.is_dir():
        return _from_folder(store, path), f"folder {path}"
    raise DataError(f"{path} is not an .npz of samples, a sweep folder or a folder of PNGs")


def _from_npz(store: Store, path: Path) -> list[int]:
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: np.asarray(data[k]) for k in data.files}
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read samples from {path}: {exc}") from None
    x = arrays.get("x")
    if x is None or x.ndim != 4:
        raise DataError(f"{path} needs an 'x' array of images N x C x H x W (write it with swerve sample)")
    if len(x) > MAX_PICTURES:
        raise DataError(f"{path} holds {len(x)} pictures; a session takes at most {MAX_PICTURES}")
    record = _npz_record(arrays.get("recipe"))
    # every other 1-D numeric array with one value per picture is a measure of it
    measures = {
        k: v.astype(float)
        for k, v in arrays.items()
        if k not in ("x", "z", "labels", "recipe")
        and v.ndim == 1
        and len(v) == len(x)
        and v.dtype.kind in "fiub"
    }
    low, high = (0.0, 1.0) if float(np.nanmin(x)) >= 0 else (-1.0, 1.0)
    pixels = np.clip((x.astype(float) - low) / (high - low) * 255, 0, 255).round().astype(np.uint8)
    pixels = pixels.transpose(0, 2, 3, 1)
    model = str(record.get("bundle", record.get("model", "")))
    method = str(record.get("method", record.get("command", "")))
    ids = []
    for i, image in enumerate(pixels):
        picture = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)
        ids.append(
            store.add_picture(
                "sample",
                f"{path.name}[{i}]",
                model=model,
                method=method,
                thumbnail=thumbnail_png(picture),
                measures={k: float(v[i]) for k, v in measures.items()},
                provenance={"file": str(path), "index": i, "record": record},
            )
        )
    return ids


def _npz_record(raw: np.ndarray | None) -> dict[str, Any]:
    if raw is None:
        return {}
    try:
        record = json.loads(str(raw))
    except json.JSONDecodeError:
        return {}
    return record if isinstance(record, dict) else {}


def _from_sweep(store: Store, folder: Path) -> list[int]:
    try:
        results = json.loads((folder / "results.json").read_text())["results"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise DataError(f"{folder / 'results.json'} is not a sweep's results: {exc}") from None
    ids = []
    for result in results:
        grid = folder / "jobs" / str(result.get("key", "")) / str(result.get("samples", ""))
        if not result.get("samples") or not grid.is_file():
            continue  # a job run without saved samples has no picture to rate
        job = result.get("job", {})
        measures = {k: v for k, v in (result.get("metrics") or {}).items() if isinstance(v, (int, float))}
        with Image.open(grid) as image:
            thumb = thumbnail_png(image, 256)
        ids.append(
            store.add_picture(
                "sweep",
                str(result["key"]),
                model=str(job.get("bundle", "")),
                method=str(job.get("operation", "")),
                thumbnail=thumb,
                measures=measures,
                provenance={"sweep": str(folder), "job": job},
            )
        )
    if not ids:
        raise DataError(f"the sweep in {folder} saved no sample pictures to rate (run it with save_samples)")
    return ids


def _from_folder(store: Store, folder: Path) -> list[int]:
    files = sorted(folder.glob("*.png"))
    if not files:
        raise DataError(f"{folder} holds no .png pictures")
    if len(files) > MAX_PICTURES:
        raise DataError(f"{folder} holds {len(files)} pictures; a session takes at most {MAX_PICTURES}")
    side = folder / "measures.json"
    table: dict[str, Any] = {}
    if side.is_file():
        try:
            table = json.loads(side.read_text())
        except json.JSONDecodeError as exc:
            raise DataError(f"{side} is not JSON: {exc}") from None
    ids = []
    for file in files:
        with Image.open(file) as image:
            thumb = thumbnail_png(image)
        measures = table.get(file.name, {}) if isinstance(table.get(file.name), dict) else {}
        missing = {} if side.is_file() else {"*": f"no measures.json beside the pictures in {folder}"}
        ids.append(
            store.add_picture(
                "sample",
                file.name,
                thumbnail=thumb,
                measures=measures,
                missing=missing,
                provenance={"file": str(file)},
            )
        )
    return ids


def new_session(
    store: Store,
    source: str | Path,
    kind: str = "scores",
    name: str | None = None,
    seed: int = 0,
    pairs: int | None = None,
) -> int:
    """A blind, shuffled rating session over the pictures of ``source``; answers its id.

    ``kind`` is ``scores`` (novelty and value, 1 to 5, per picture) or ``pairwise`` (which of two is more
    surprising; ``pairs`` comparisons, by default three per picture)."""
    ids, described = import_pictures(store, source)
    if not ids:
        raise DataError(f"{described} has no pictures to rate")
    rng = np.random.default_rng(seed)
    if kind == "scores":
        items: list[tuple[int, int | None]] = [(int(ids[i]), None) for i in rng.permutation(len(ids))]
    elif kind == "pairwise":
        if len(ids) < 2:
            raise DataError("a pairwise session needs at least two pictures")
        every = list(itertools.combinations(ids, 2))
        count = min(len(every), pairs or 3 * len(ids))
        chosen = [every[i] for i in rng.choice(len(every), size=count, replace=False)]
        items = [(a, b) if rng.random() < 0.5 else (b, a) for a, b in chosen]  # sides shuffled too
    else:
        raise ConfigError(f"a session is 'scores' or 'pairwise', got {kind!r}")
    name = name or f"session-{len(store.sessions()) + 1}"
    return store.add_session(name, kind, described, seed, items)


# --- the report --------------------------------------------------------------------------------------------
def report(store: Store, session_ref: int | str, n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Inter-rater agreement and, for every measure the pictures hold, its rank agreement with the mean human
    scores, best first (by the size of Spearman's rho: a measure that falls as people's scores rise agrees
    as well, its sign says which way); every picture a measure lacks is listed with the reason."""
    session = store.session(session_ref)
    items = store.items(session["id"])
    ratings = [r for r in store.ratings(session["id"]) if not r["skipped"]]
    raters = sorted({r["rater"] for r in ratings})
    result: dict[str, Any] = {
        "session": {k: session[k] for k in ("id", "name", "kind", "source", "seed", "items")},
        "raters": raters,
        "ratings": len(ratings),
        "skipped": sum(1 for r in store.ratings(session["id"]) if r["skipped"]),
        "bootstrap": {"n": n_boot, "seed": seed, "level": 0.95},
    }
    if session["kind"] == "scores":
        targets, agreement = _score_targets(items, ratings, raters)
    else:
        targets, agreement = _pairwise_targets(items, ratings, raters)
    result["agreement"] = agreement
    pictures = {pid: store.picture(pid) for pid in {p for t in targets.values() for p in t}}
    result["pictures"] = [
        {
            "id": pid,
            "name": p["name"],
            "model": p["model"],
            "method": p["method"],
            "human": {t: targets[t].get(pid) for t in targets},
            "measures": p["measures"],
            "missing": p["missing"],
        }
        for pid, p in sorted(pictures.items())
    ]
    rows = []
    for target, scores in targets.items():
        names = sorted({m for pid in scores for m in pictures[pid]["measures"]})
        for measure in names:
            rows.append(_measure_row(target, measure, scores, pictures, n_boot, seed))
    rows.sort(key=lambda r: -abs(r["spearman"]["r"]) if r["spearman"] else math.inf)
    result["measures"] = rows
    result["best"] = {
        t: next((r["measure"] for r in rows if r["target"] == t and r["spearman"]), None) for t in targets
    }
    if not rows:
        result["note"] = "no picture in this session holds an automatic measure to compare with"
    return result


def _score_targets(items: list[dict], ratings: list[dict], raters: list[str]) -> tuple[dict, dict]:
    """Mean novelty and value per picture, and Krippendorff's alpha of each."""
    by_position = {i["position"]: i["left_id"] for i in items}
    targets: dict[str, dict[int, float]] = {}
    agreement = {}
    for target in ("novelty", "value"):
        table = np.full((len(raters), len(items)), np.nan)
        for r in ratings:
            table[raters.index(r["rater"]), r["position"]] = r[target]
        sums: dict[int, list[float]] = {}
        for r in ratings:
            sums.setdefault(by_position[r["position"]], []).append(r[target])
        targets[target] = {pid: float(np.mean(v)) for pid, v in sums.items()}
        agreement[target] = _alpha(table, ("ordinal", "interval"))
    return targets, agreement


def _pairwise_targets(items: list[dict], ratings: list[dict], raters: list[str]) -> tuple[dict, dict]:
    """Each picture's share of wins as "more surprising", and nominal alpha of the choices."""
    table = np.full((len(raters), len(items)), np.nan)
    pairs = []
    for r in ratings:
        item = items[r["position"]]
        table[raters.index(r["rater"]), r["position"]] = r["choice"]
        pairs.append((item["left_id"], item["right_id"], r["choice"]))
    return {"surprise": pairwise_scores(pairs)}, {"surprise": _alpha(table, ("nominal",))}


def _alpha(table: np.ndarray, levels: tuple[str, ...]) -> dict[str, Any]:
    pairable = int((np.sum(~np.isnan(table), axis=0) >= 2).sum())
    found: dict[str, Any] = {"raters": int(table.shape[0]), "pairable_items": pairable}
    for level in levels:
        alpha = krippendorff_alpha(table, level) if table.size else math.nan
        found[f"alpha_{level}"] = None if math.isnan(alpha) else alpha
    if pairable == 0:
        found["note"] = "no item was rated by two raters: agreement needs at least two raters per item"
    return found


def _measure_row(
    target: str, measure: str, scores: dict[int, float], pictures: dict, n_boot: int, seed: int
) -> dict[str, Any]:
    have, missing = [], []
    for pid in sorted(scores):
        picture = pictures[pid]
        if measure in picture["measures"]:
            have.append((scores[pid], picture["measures"][measure]))
        else:
            why = picture["missing"].get(measure) or picture["missing"].get("*") or NOT_MEASURED
            missing.append({"picture": pid, "name": picture["name"], "why": why})
    human, values = (np.array(v, dtype=float) for v in zip(*have, strict=True)) if have else ([], [])
    agreement = rank_agreement(human, values, n_boot=n_boot, seed=seed)
    return {"target": target, "measure": measure, **agreement, "missing": missing}


def write_csv(result: dict[str, Any], path: str | Path) -> None:
    """One row per (target, measure): n, rho and tau with their intervals, and how many pictures lacked it."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        [
            "target",
            "measure",
            "n",
            "spearman",
            "spearman_low",
            "spearman_high",
            "kendall",
            "kendall_low",
            "kendall_high",
            "missing",
            "notes",
        ]
    )
    for row in result["measures"]:
        cells = []
        for name in ("spearman", "kendall"):
            stat = row[name] or {}
            cells += [stat.get("r"), stat.get("low"), stat.get("high")]
        writer.writerow(
            [
                row["target"],
                row["measure"],
                row["n"],
                *("" if c is None else f"{c:.6g}" for c in cells),
                len(row["missing"]),
                "; ".join(row["notes"]),
            ]
        )
    write_text_atomic(path, buffer.getvalue())


def write_plots(result: dict[str, Any], folder: str | Path) -> list[Path]:
    """A scatter plot per (target, measure): the measure against the mean human score, rho in the title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for row in result["measures"]:
        points = [
            (p["measures"][row["measure"]], p["human"][row["target"]])
            for p in result["pictures"]
            if row["measure"] in p["measures"] and p["human"].get(row["target"]) is not None
        ]
        figure, axes = plt.subplots(figsize=(4, 3.2), dpi=100)
        if points:
            axes.scatter(*zip(*points, strict=True), s=14, alpha=0.7)
        rho = row["spearman"]
        title = (
            row["measure"]
            if not rho
            else (f"{row['measure']}: rho {rho['r']:.2f} [{_text(rho['low'])}, {_text(rho['high'])}]")
        )
        axes.set(xlabel=row["measure"], ylabel=f"mean human {row['target']}", title=title)
        figure.tight_layout()
        path = folder / f"{result['session']['name']}-{row['target']}-{_safe(row['measure'])}.png"
        with atomic_path(path) as tmp:
            figure.savefig(tmp, format="png")
        plt.close(figure)
        written.append(path)
    return written


def _text(value: float | None) -> str:
    return "?" if value is None else f"{value:.2f}"


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:80]

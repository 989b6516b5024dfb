"""The divergence map: novelty against quality, one point per operation or parameter value.

Each operation makes samples from a bundle (``"none"``: plain sampling; ``"creative"``: the creative
decoder; ``"bend"``: a network bend; ``"glitch"``: a seeded weight glitch); every point is measured
against real data with :func:`~swerve.measure.measurement.measure_samples` in the dataset's registered
feature space. Novelty (mean k-NN distance to the data, relative to real data's own) goes on the x axis,
quality (precision: the share of samples inside the real data's k-NN balls) on the y axis (text: in the
character n-gram space of :class:`~swerve.measure.text.CharNgramFeatures`) — divergence
that stays meaningful moves right without falling down.

An operation is written ``name[:param=v1,v2,...]``, e.g. ``creative:fraction=0.1,0.25,0.5``,
``bend:scale:factor=0.5,2@blocks.0`` (transform, one swept parameter, the layer after ``@``) or
``glitch:gaussian:amount=0.1,0.3`` (kind, amounts, optionally ``@layer``).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import torch
from PIL import Image

from swerve.bundle import Bundle
from swerve.diverge.creative import Creative, creative_decoder
from swerve.errors import ConfigError
from swerve.measure.features import TEXT_EXTRACTOR
from swerve.measure.measurement import measure_samples
from swerve.utils import json_text, write_text_atomic

DEFAULT_OPS = ("none", "creative:fraction=0.1,0.25,0.5", "creative:strength=0.5,2,4")


@dataclass
class Point:
    """One operation at one parameter value and a label for the plot. ``apply(bundle)`` is a context
    manager yielding the bundle to sample from (the same one under a rewrite, or an edited copy)."""

    op: str
    param: str | None
    value: Any
    apply: Callable[[Bundle], Any] = field(repr=False)

    @property
    def label(self) -> str:
        return self.op if self.param is None else f"{self.op} {self.param}={self.value}"


def _number(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _creative(param: str | None, value: Any) -> Callable[[Bundle], Any]:
    try:
        config = Creative(**({} if param is None else {param: value}))
    except TypeError:
        raise ConfigError(f"the creative decoder has no parameter {param!r}") from None
    return lambda bundle: _yielding(creative_decoder(bundle.generator, config), bundle)


def _bend(spec: str) -> list[Point]:
    try:
        from swerve.diverge.bend import Bend, apply_bends
    except ImportError:
        raise ConfigError("bend operations need swerve.diverge.bend, which is not installed") from None
    body, _, layer = spec.partition("@")
    transform, _, sweep = body.partition(":")
    param, values = _sweep(sweep)
    if param is None:
        values = [None]
    points = []
    for value in values:
        params = {} if param is None else {param: value}
        bend = Bend(layer or "blocks.0", transform, params)

        def apply(bundle: Bundle, bend: Bend = bend) -> Any:
            return _yielding(apply_bends(bundle.generator, [bend]), bundle)

        points.append(Point(f"bend {transform}@{bend.layer}", param, value, apply))
    return points


def _glitch(spec: str) -> list[Point]:
    from swerve.diverge.glitch import glitch

    body, _, layer = spec.partition("@")
    kind, _, sweep = body.partition(":")
    param, values = _sweep(sweep)
    if param not in (None, "amount"):
        raise ConfigError(f"a glitch sweeps its amount, not {param!r}")
    points = []
    layers = [layer] if layer else None
    for value in values or [0.1]:

        def apply(bundle: Bundle, amount: float = value) -> Any:
            return nullcontext(glitch(bundle, kind, amount, layers, seed=0))

        points.append(Point(f"glitch {kind}" + (f"@{layer}" if layer else ""), "amount", value, apply))
    return points


@contextmanager
def _yielding(rewrite: Any, bundle: Bundle) -> Iterator[Bundle]:
    with rewrite:
        yield bundle


def _sweep(text: str) -> tuple[str | None, list[Any]]:
    if not text:
        return None, []
    param, eq, values = text.partition("=")
    if not eq or not values:
        raise ConfigError(f"write a parameter sweep as param=v1,v2,...; got {text!r}")
    return param.strip(), [_number(v.strip()) for v in values.split(",") if v.strip()]


def parse_ops(specs: list[str]) -> list[Point]:
    """The points of ``specs`` (see the module docstring), in order."""
    points: list[Point] = []
    for spec in specs:
        name, _, rest = spec.partition(":")
        if name == "none":
            points.append(Point("none", None, None, nullcontext))
        elif name == "creative":
            param, values = _sweep(rest)
            for value in values or [None]:
                points.append(Point("creative", param, value, _creative(param, value)))
        elif name == "bend":
            points.extend(_bend(rest))
        elif name == "glitch":
            points.extend(_glitch(rest))
        else:
            raise ConfigError(f"unknown operation {name!r}; operations: none, creative, bend, glitch")
    return points


def divergence_map(
    bundles: list[Bundle],
    ops: list[str],
    reference: torch.Tensor,
    n: int = 200,
    seed: int = 0,
    extractor: str | None = None,
    progress: Callable[[str], None] | None = None,
    cache_dir: os.PathLike | None = None,
) -> list[dict[str, Any]]:
    """One row per (bundle, point): the label, novelty, precision and the other numbers, with provenance.

    ``cache_dir``: keep the reference set's features there (by content hash) instead of recomputing them.
    """
    rows = []
    points = parse_ops(ops)
    for bundle in bundles:
        name = extractor or (TEXT_EXTRACTOR if bundle.extra.get("vocab") else bundle.data.dataset)
        for point in points:
            if progress is not None:
                progress(f"{bundle.name}: {point.label}")
            with point.apply(bundle) as target:
                x = target.sample(n, seed=seed).x
            m = measure_samples(x, reference, name, seed=seed, cache_dir=cache_dir)
            rows.append(
                {
                    "bundle": bundle.name,
                    "op": point.op,
                    "param": point.param,
                    "value": point.value,
                    "label": point.label,
                    **{k: round(v, 6) for k, v in m.values.items()},
                    "n": m.n,
                    "seed": seed,
                    **{f"features_{k}": v for k, v in m.features.to_dict().items()},
                }
            )
    return rows


def place_labels(
    anchors: list[tuple[float, float]], widths: list[float], height: float, gap: float = 4.0, tries: int = 40
) -> list[tuple[float, float]]:
    """Offsets (in pixels, y up) that keep text labels of ``widths`` x ``height`` from overlapping: each label
    starts just right of and above its point, and moves up or down a line at a time, nearest first, until its
    box is clear of the boxes already placed."""
    placed: list[tuple[float, float, float, float]] = []
    offsets: list[tuple[float, float]] = [(gap, gap)] * len(anchors)
    for i in sorted(range(len(anchors)), key=lambda j: (anchors[j][1], anchors[j][0])):
        x, y = anchors[i]
        steps = [0] + [k * sign for k in range(1, tries) for sign in (1, -1)]
        for step in steps:
            box = (x + gap, y + gap + step * height, x + gap + widths[i], y + gap + (step + 1) * height)
            if not any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in placed):
                break
        placed.append(box)
        offsets[i] = (gap, gap + step * height)
    return offsets


def plot_map(rows: list[dict[str, Any]], title: str = "", size: float = 5.0) -> Image.Image:
    """Novelty (x) against precision (y), one labelled point per row, a colour per bundle."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(size * 1.3, size), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    bundles = list(dict.fromkeys(r["bundle"] for r in rows))
    for i, bundle in enumerate(bundles):
        mine = [r for r in rows if r["bundle"] == bundle]
        ax.scatter(
            [r["novelty"] for r in mine], [r["precision"] for r in mine], s=40, color=f"C{i}", label=bundle
        )
    ax.set_ylim(-0.03, 1.03)
    ax.axvline(1.0, color="#adb5bd", linewidth=0.8, linestyle="--")
    ax.set_xlabel("novelty (k-NN distance to the data; 1 = real data's own)")
    ax.set_ylabel("quality (precision)")
    ax.set_title(title or "divergence map")
    if len(bundles) > 1:
        ax.legend(fontsize=8)
    fig.tight_layout()  # before placing labels: it moves the axes
    fontsize, points_per_px = 7, 72.0 / fig.dpi
    anchors = [tuple(ax.transData.transform((r["novelty"], r["precision"]))) for r in rows]
    widths = [0.6 * fontsize / points_per_px * len(r["label"]) for r in rows]
    offsets = place_labels(anchors, widths, 1.3 * fontsize / points_per_px)
    for r, (dx, dy) in zip(rows, offsets, strict=True):
        moved = abs(dy) > fontsize / points_per_px * 1.5
        ax.annotate(
            r["label"],
            (r["novelty"], r["precision"]),
            fontsize=fontsize,
            xytext=(dx * points_per_px, dy * points_per_px),
            textcoords="offset points",
            arrowprops={"arrowstyle": "-", "color": "#adb5bd", "linewidth": 0.6} if moved else None,
        )
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def write_map(rows: list[dict[str, Any]], path: str | os.PathLike, title: str = "") -> dict[str, str]:
    """The plot at ``path`` (PNG) and the table beside it (same name, .csv and .json), all atomic."""
    from swerve.look.grid import save_image

    path = os.fspath(path)
    stem = path[:-4] if path.lower().endswith(".png") else path
    png = stem + ".png"
    save_image(plot_map(rows, title), png)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(stem + ".csv", out.getvalue())
    write_text_atomic(stem + ".json", json_text(rows, indent=2) + "\n")
    return {"plot": png, "csv": stem + ".csv", "json": stem + ".json"}

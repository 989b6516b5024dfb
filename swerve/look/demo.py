"""``swerve demo``: run every registered section on the zoo and write the report.

The output directory holds ``report.html`` (self-contained), ``figures/`` (every picture as a PNG or GIF)
and ``demo.json`` (the seed, swerve's version, the sections run and their numbers).
"""

from __future__ import annotations

import datetime as _dt
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from swerve import __version__
from swerve.errors import SwerveError
from swerve.look.grid import save_image
from swerve.look.report import Report, Section
from swerve.look.sections import STAGES, DemoContext, ordered_sections, stage_of
from swerve.outputs import claim_folder
from swerve.utils import atomic_path, json_text, write_text_atomic

INTRO = (
    "swerve is an open-source Python toolkit for active divergence: getting deep generative models "
    "to make what their training data never showed, on purpose, and reproducibly. This report runs "
    "each method on the small models of swerve's zoo, on a CPU, and follows the loop: make a model, "
    "diverge from its data, refine the samples, measure the result, then look and scale up. Every "
    "card shows pictures first, the numbers beside them, and a few words on what happened.\n\nTwo numbers "
    "come back often: novelty (how far samples lie from real data; 1 means as far as real pictures "
    "lie from each other, higher is more novel) and precision (the share of samples that look like "
    "real data; 1 is all of them)."
)

NOTHING_YET = Section(
    title="Nothing to show yet",
    text=(
        "None of the zoo models this demo uses is installed. Build them with 'swerve zoo build NAME' "
        "(see 'swerve zoo list') and run the demo again."
    ),
)


def run_demo(
    out_dir: str | os.PathLike,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    command: str | None = None,
) -> Path:
    """Write the demo report into ``out_dir`` and return the path of ``report.html``.

    ``progress`` receives one short message per section; ``command`` is shown in the report's footer as
    the way to reproduce it (default: the ``swerve demo`` command line for ``out_dir`` and ``seed``).
    """
    out_dir = Path(out_dir)
    claim_folder(out_dir, "demo")  # a new folder, or one an earlier demo wrote: never a user's own
    ctx = DemoContext(out_dir=out_dir, seed=seed, progress=progress)
    ctx.figures_dir.mkdir(parents=True, exist_ok=True)
    report = Report(
        seed=seed,
        command=command or f"swerve demo --out {out_dir} --seed {seed}",
        intro=INTRO,
        stages={stage: text for _, stage, text in STAGES},
    )
    runs: list[dict[str, Any]] = []
    todo = ordered_sections()
    for i, (name, make_section) in enumerate(todo, 1):
        ctx.say(f"[{i}/{len(todo)}] {name}")
        try:
            with torch.no_grad():
                result = make_section(ctx)
            files = [] if result is None else _save_figures(name, result, ctx.figures_dir, out_dir)
        except SwerveError as exc:
            result, files = Section.failed(name, str(exc)), []
        if result is None:
            runs.append({"name": name, "status": "skipped"})
            continue
        runs.append(
            {
                "name": name,
                "title": result.title,
                "status": "failed" if result.error is not None else "ok",
                "error": result.error,
                "numbers": result.table,
                "figures": files,
            }
        )
        result.stage = result.stage or stage_of(name)
        report.add(result)
    if not report.sections:
        report.add(NOTHING_YET)

    path = report.save(out_dir / "report.html")
    record = {
        "seed": seed,
        "swerve_version": __version__,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "report": path.name,
        "sections": runs,
    }
    text = json_text(record, mark=True, indent=2, ensure_ascii=False, default=str)
    write_text_atomic(out_dir / "demo.json", text + "\n")
    return path


def _save_figures(name: str, section: Section, figures_dir: Path, out_dir: Path) -> list[str]:
    """Save the section's figures under ``figures_dir``; returns their paths relative to ``out_dir``."""
    saved = []
    for j, figure in enumerate(section.figures, 1):
        if isinstance(figure.image, Image.Image):
            stem = _slug(figure.name or f"{name}-{j}")
            target = save_image(figure.image, figures_dir / f"{stem}.png")
        else:
            source = Path(figure.image)
            target = figures_dir / source.name
            if source.resolve() != target.resolve():
                if not source.is_file():
                    raise SwerveError(f"section {name}: figure {source} does not exist")
                with atomic_path(target) as tmp:
                    shutil.copyfile(source, tmp)
        saved.append(target.relative_to(out_dir).as_posix())
    return saved


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text).strip("-") or "figure"

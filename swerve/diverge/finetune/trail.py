"""The checkpoint trail: what a fine-tuning run looked like every N steps, so a person can pick a moment.

Divergent fine-tuning is interesting on the way, not at the end (Broad et al. 2021, section 4): the uncanny
images come before the collapse, the mixed domains half-way between two datasets. A trail is a directory::

    trail/
      base/                 the bundle the run started from
      latents.safetensors   the fixed latents (and labels) every grid is drawn on
      step_000050/
        weights.safetensors the tensors that differ from the base, per role ("generator/blocks.0.weight")
        grid.png            samples on the fixed latents
        metrics.json        {"step": 50, "diversity": ..., ...}

Each entry is written atomically, so a kill leaves whole entries only. Storing only the changed tensors
keeps an entry compact when layers are frozen, and exact: any step exports back to a full bundle.
"""

from __future__ import annotations

import copy
import json
import math
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure as PlotFigure
from PIL import Image, ImageDraw
from safetensors.torch import load_file, save_file

from swerve.bundle import Bundle, load
from swerve.errors import SwerveError
from swerve.look.grid import make_grid, save_image, upscale
from swerve.look.plot import scatter_points
from swerve.look.video import save_animation
from swerve.measure import explain_missing
from swerve.outputs import mark_folder
from swerve.utils import atomic_path, json_text, make_generator

PREFIX = "step_"


class Trail:
    """A trail directory: write entries while training, read, render and export them afterwards."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._base: Bundle | None = None

    # --- creating ------------------------------------------------------------------------------------------
    @classmethod
    def start(cls, directory: str | Path, base: Bundle, grid_size: int, seed: int) -> Trail:
        """Begin a trail from ``base`` with ``grid_size`` fixed latents drawn with ``seed`` (idempotent)."""
        trail = cls(directory)
        if not (trail.directory / "base").is_dir():
            base.save(trail.directory / "base")
        if not (trail.directory / "latents.safetensors").is_file():
            if base.latent is None:
                raise SwerveError(f"bundle {base.name or '(unnamed)'} has no latent spec to draw a trail on")
            z = base.latent.sample(grid_size, make_generator(seed))
            tensors = {"z": z}
            if base.num_classes:
                tensors["labels"] = torch.arange(grid_size) % base.num_classes
            with atomic_path(trail.directory / "latents.safetensors") as tmp:
                save_file(tensors, tmp)
        return trail

    def latents(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        tensors = self._read(self.directory / "latents.safetensors")
        return tensors["z"], tensors.get("labels")

    def write(
        self, step: int, networks: dict[str, torch.nn.Module], samples: torch.Tensor, metrics: dict[str, Any]
    ) -> Path:
        """Record ``step``: the tensors of ``networks`` that differ from the base, a grid and the metrics."""
        base = self.base()
        changed = {}
        for role, net in networks.items():
            before = base.networks[role].state_dict() if role in base.networks else {}
            for key, value in net.state_dict().items():
                value = value.detach().cpu()
                if key not in before or not torch.equal(before[key].cpu(), value):
                    changed[f"{role}/{key}"] = value.contiguous().clone()
        path = self.directory / f"{PREFIX}{step:06d}"
        with atomic_path(path, kind="trail-step") as tmp:
            tmp.mkdir()
            mark_folder(tmp, "trail-step")
            save_file(changed, tmp / "weights.safetensors")
            if base.data.is_image:
                lo, hi = base.data.range
                make_grid(samples, nrow=base.num_classes or None, value_range=(lo, hi)).save(tmp / "grid.png")
            else:  # points: a scatter plot
                scatter_points(samples, title=f"step {step}", size=2.5).save(tmp / "grid.png")
            (tmp / "metrics.json").write_text(json_text({"step": step, **metrics}, indent=1) + "\n")
        return path

    def trim(self, after: int) -> None:
        """Drop entries later than step ``after`` (they are about to be made again on resume)."""
        for step in self.steps():
            if step > after:
                shutil.rmtree(self.directory / f"{PREFIX}{step:06d}", ignore_errors=True)

    # --- reading -------------------------------------------------------------------------------------------
    def steps(self) -> list[int]:
        """The recorded steps, ascending."""
        if not self.directory.is_dir():
            return []
        found = []
        for entry in self.directory.iterdir():
            if entry.name.startswith(PREFIX) and (entry / "metrics.json").is_file():
                found.append(int(entry.name[len(PREFIX) :]))
        return sorted(found)

    def metrics(self) -> list[dict[str, Any]]:
        """Each entry's metrics (with its ``step``), in step order."""
        return [json.loads((self._entry(s) / "metrics.json").read_text()) for s in self.steps()]

    def grid(self, step: int) -> Image.Image:
        with Image.open(self._entry(step) / "grid.png") as img:
            return img.copy()

    def base(self) -> Bundle:
        if self._base is None:
            if not (self.directory / "base").is_dir():
                raise SwerveError(f"{self.directory} is not a trail: it has no base bundle")
            self._base = load(self.directory / "base", device="cpu")
        return self._base

    def export(self, step: int) -> Bundle:
        """The full bundle at ``step``: the base with that entry's tensors put back, and a history entry."""
        bundle = copy.deepcopy(self.base())
        weights = self._read(self._entry(step) / "weights.safetensors")
        for role, net in bundle.networks.items():
            prefix = f"{role}/"
            state = net.state_dict()
            state.update({k[len(prefix) :]: v for k, v in weights.items() if k.startswith(prefix)})
            net.load_state_dict(state)
        config = self._run_config()
        bundle.name = config.get("name") or f"{bundle.name}-{config.get('method', 'finetune')}"
        bundle.name = f"{bundle.name}@{step}"
        bundle.record("finetune", step=step, **{k: v for k, v in config.items() if k != "name"})
        return bundle

    def _run_config(self) -> dict[str, Any]:
        path = self.directory.parent / "config.json"
        return json.loads(path.read_text()) if path.is_file() else {}

    def _entry(self, step: int) -> Path:
        path = self.directory / f"{PREFIX}{step:06d}"
        if not (path / "metrics.json").is_file():
            have = ", ".join(map(str, self.steps())) or "none"
            raise SwerveError(f"the trail in {self.directory} has no step {step} (it has: {have})")
        return path

    def _read(self, path: Path) -> dict[str, torch.Tensor]:
        try:
            return load_file(path)
        except Exception as exc:  # safetensors raises several types for a damaged file
            raise SwerveError(f"{path} is missing or unreadable: {exc}") from None

    # --- showing -------------------------------------------------------------------------------------------
    def strip(self, step: int, per_row: int = 8) -> Image.Image:
        """The first ``per_row`` samples of the step's grid, side by side."""
        z, _ = self.latents()
        grid = self.grid(step)
        base = self.base()
        if not base.data.is_image:
            return grid
        h, w = base.data.shape[-2:]
        per_row = min(per_row, len(z))
        cols = base.num_classes or math.ceil(math.sqrt(len(z)))
        tiles = []
        for i in range(per_row):
            r, c = divmod(i, cols)  # the grid was laid out ``cols`` to a row
            left, top = 2 + c * (w + 2), 2 + r * (h + 2)
            tiles.append(grid.crop((left, top, left + w, top + h)))
        row = Image.new(grid.mode, (per_row * (w + 2) + 2, h + 4), 255)
        for i, tile in enumerate(tiles):
            row.paste(tile, (2 + i * (w + 2), 2))
        return row

    def render(self, path: str | Path | None = None, per_row: int = 8, scale: int = 3) -> Image.Image:
        """One picture of the whole trail: a row per step (labelled), the same latents in every column
        (for points, each row is the step's scatter plot)."""
        steps = self.steps()
        if not steps:
            raise SwerveError(f"the trail in {self.directory} has no entries yet")
        rows = [self.strip(s, per_row) for s in steps]
        if self.base().data.is_image:
            rows = [r.resize((r.width * scale, r.height * scale), Image.Resampling.NEAREST) for r in rows]
        label_w = 70
        sheet = Image.new("RGB", (label_w + rows[0].width, sum(r.height for r in rows)), "white")
        draw = ImageDraw.Draw(sheet)
        top = 0
        for step, row in zip(steps, rows, strict=True):
            sheet.paste(row.convert("RGB"), (label_w, top))
            draw.text((6, top + row.height // 2 - 5), f"step {step}", fill="black")
            top += row.height
        if path is not None:
            save_image(sheet, path)
        return sheet

    def animate(self, path: str | Path, fps: float = 4) -> Path:
        """The trail as a looping GIF (or MP4), one frame per step, each frame the step's full grid."""
        steps = self.steps()
        if not steps:
            raise SwerveError(f"the trail in {self.directory} has no entries yet")
        frames = [upscale(self.grid(s).convert("RGB")) for s in steps]
        return save_animation(frames, path, fps=fps)


def missing_note(metrics: Sequence[dict[str, Any]]) -> str:
    """What the trail's entries could not measure and why ("" when nothing is missing), from the latest
    entry's ``missing`` record ({metric: reason})."""
    missing = next((m["missing"] for m in reversed(metrics) if m.get("missing")), {})
    return "; ".join(explain_missing(missing, "not measured"))


CURVE_COLOURS = {
    "fake_prob": "#1c7ed6",
    "target_prob": "#d9480f",
    "novelty": "#2b8a3e",
    "precision": "#862e9c",
}


def trail_curves(
    metrics: Sequence[dict[str, Any]],
    keys: Sequence[str],
    title: str = "",
    labels: dict[str, str] | None = None,
    path: str | Path | None = None,
) -> Image.Image:
    """Each metric in ``keys`` (those every entry has) against the trail's steps, on one small plot."""
    fig = PlotFigure(figsize=(4.2, 2.8), dpi=100)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    steps = [m["step"] for m in metrics]
    for key in keys:
        if metrics and all(key in m for m in metrics):
            label = (labels or {}).get(key, key)
            ax.plot(
                steps,
                [m[key] for m in metrics],
                marker="o",
                markersize=3,
                label=label,
                color=CURVE_COLOURS.get(key),
            )
    ax.set_xlabel("fine-tuning step", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7, frameon=False)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    canvas.draw()
    img = Image.fromarray(np.asarray(canvas.buffer_rgba())).convert("RGB")
    if path is not None:
        save_image(img, path)
    return img

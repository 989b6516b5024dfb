"""Scatter plots of 2-D models (25 gaussians, Swiss roll) over the real data they were trained on.

Uses matplotlib's object API (``Figure`` plus an Agg canvas) rather than ``pyplot``, so plotting leaves no
global state behind and works without a display.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from swerve.errors import SwerveError
from swerve.look.grid import save_image

POINTS_COLOUR = "#d9480f"
REFERENCE_COLOUR = "#868e96"


def scatter_points(
    points: torch.Tensor | np.ndarray,
    reference: torch.Tensor | np.ndarray | None = None,
    path: str | os.PathLike | None = None,
    title: str = "",
    size: float = 4.0,
) -> Image.Image:
    """Draw generated ``points`` (N x 2) over faint ``reference`` points, in a square plot ``size`` inches
    wide.

    Returns the plot as an RGB image and also saves it as a PNG if ``path`` is given.
    """
    pts = _as_points(points, "points")
    ref = None if reference is None else _as_points(reference, "reference")

    fig = Figure(figsize=(size, size), dpi=100)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if ref is not None:
        ax.scatter(ref[:, 0], ref[:, 1], s=4, c=REFERENCE_COLOUR, alpha=0.25, linewidths=0, label="real data")
    ax.scatter(pts[:, 0], pts[:, 1], s=4, c=POINTS_COLOUR, alpha=0.6, linewidths=0, label="generated")
    xlim, ylim = _square_limits(pts if ref is None else np.concatenate([pts, ref]))
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.tick_params(labelsize=7, colors="#495057")
    for spine in ax.spines.values():
        spine.set_color("#ced4da")
    if title:
        ax.set_title(title, fontsize=10)
    if ref is not None:
        ax.legend(
            loc="upper center", bbox_to_anchor=(0.5, -0.07), ncol=2, fontsize=7, markerscale=3, frameon=False
        )
    fig.tight_layout()
    canvas.draw()
    img = Image.fromarray(np.asarray(canvas.buffer_rgba())).convert("RGB")
    if path is not None:
        save_image(img, path)
    return img


def _as_points(x: torch.Tensor | np.ndarray, name: str) -> np.ndarray:
    arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise SwerveError(f"{name} must have shape N x 2 to be scatter-plotted, got {arr.shape}")
    return arr.astype(np.float64)


def _square_limits(pts: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]]:
    """Equal-length x and y ranges covering every finite point with a 5% margin (outliers of a diverged
    generator widen the view rather than vanish)."""
    finite = pts[np.isfinite(pts).all(axis=1)]
    if len(finite) == 0:
        return (-1.0, 1.0), (-1.0, 1.0)
    lo, hi = finite.min(axis=0), finite.max(axis=0)
    cx, cy = ((lo + hi) / 2).tolist()
    half = max(float((hi - lo).max()), 1e-6) / 2 * 1.05
    return (cx - half, cx + half), (cy - half, cy + half)

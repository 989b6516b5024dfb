"""Latent walks: glide through a generator's latent space and watch the samples morph.

Spherical interpolation (slerp, Shoemake 1985; White 2016 for generative models) follows the shell where
Gaussian latents live, so the in-between samples look as typical as the endpoints; a straight line would
pass through the low-norm middle that the generator rarely saw in training.
"""

from __future__ import annotations

import torch
from PIL import Image

from swerve.bundle import Bundle
from swerve.errors import SwerveError
from swerve.look.grid import make_grid, upscale
from swerve.utils import make_generator


def slerp(a: torch.Tensor, b: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
    """Spherical interpolation from ``a`` (t=0) to ``b`` (t=1) along the last dimension.

    Falls back to a straight line where ``a`` and ``b`` point the same way (the arc is undefined there).
    """
    t = torch.as_tensor(t, dtype=a.dtype, device=a.device)
    cos = (a * b).sum(-1, keepdim=True) / (a.norm(dim=-1, keepdim=True) * b.norm(dim=-1, keepdim=True))
    omega = torch.arccos(cos.clamp(-1.0, 1.0))
    sin = torch.sin(omega)
    nearly_parallel = sin.abs() < 1e-6
    safe_sin = torch.where(nearly_parallel, torch.ones_like(sin), sin)
    arc = (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / safe_sin
    line = (1 - t) * a + t * b
    return torch.where(nearly_parallel, line, arc)


def walk_latents(points: torch.Tensor, frames_per_leg: int = 12) -> torch.Tensor:
    """Latents of a closed walk through ``points`` (P x B x D: P stops for each of B walkers).

    Returns (P * frames_per_leg) x B x D: every leg starts at a stop, and the last leg heads back to the
    first stop without repeating it, so the walk loops seamlessly as a GIF.
    """
    if points.ndim != 3 or len(points) < 2:
        raise SwerveError(f"a walk needs points of shape P x B x D with P >= 2, got {tuple(points.shape)}")
    if frames_per_leg < 1:
        raise SwerveError(f"frames_per_leg must be at least 1, got {frames_per_leg}")
    frames = []
    for i in range(len(points)):
        start, end = points[i], points[(i + 1) % len(points)]
        for step in range(frames_per_leg):
            frames.append(slerp(start, end, step / frames_per_leg))
    return torch.stack(frames)


def latent_walk(
    bundle: Bundle,
    n_points: int = 4,
    frames_per_leg: int = 12,
    seed: int = 0,
    label: int | None = None,
    n: int = 1,
) -> list[torch.Tensor]:
    """Samples along ``n`` side-by-side looping walks, each through ``n_points`` random latents.

    Returns one batch (``n`` samples) per frame, ``n_points * frames_per_leg`` frames in all. ``label`` fixes
    the class of a conditional generator (default: class 0) so the walk changes style, not category.
    """
    if bundle.latent is None:
        raise SwerveError(f"bundle {bundle.name or '(unnamed)'} has no latent space to walk")
    if n_points < 2:
        raise SwerveError(f"a walk needs at least 2 points, got {n_points}")
    stops = bundle.latent.sample(n_points * n, make_generator(seed)).view(n_points, n, -1)
    if bundle.num_classes and label is None:
        label = 0
    latents = walk_latents(stops, frames_per_leg).flatten(0, 1)  # all frames in one batch: faster
    return list(bundle.sample(len(latents), seed=seed, z=latents, labels=label).x.split(n))


def walk_frames(
    bundle: Bundle,
    n_points: int = 4,
    frames_per_leg: int = 12,
    n: int = 1,
    seed: int = 0,
    label: int | None = None,
    nrow: int | None = None,
    min_side: int = 128,
) -> list[Image.Image]:
    """The pictures of :func:`latent_walk`, ready for :func:`~swerve.look.video.save_animation`: one grid of
    the ``n`` walkers per frame (``nrow`` per row, default near-square), enlarged to ``min_side`` pixels."""
    if not bundle.data.is_image:
        raise SwerveError(f"a walk is drawn for image models; {bundle.name or 'this bundle'} makes points")
    batches = latent_walk(bundle, n_points, frames_per_leg, seed=seed, label=label, n=n)
    lo, hi = bundle.data.range
    return [upscale(make_grid(x, nrow=nrow, value_range=(lo, hi)), min_side) for x in batches]

"""The refinement methods by name, and one entry point that refines a bundle's samples with any of them."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import torch

from swerve.bundle import Bundle
from swerve.errors import MAX_STEPS, ConfigError, check_finite, check_number
from swerve.refine.core import Critic, Refined
from swerve.refine.ddls import ddls
from swerve.refine.dgflow import dgflow
from swerve.refine.dot import dot
from swerve.refine.drs import drs
from swerve.refine.mh import mh

Method = Callable[..., Refined]
REFINERS: dict[str, Method] = {"dgflow": dgflow, "ddls": ddls, "dot": dot, "drs": drs, "mh": mh}


def get_method(name: str) -> Method:
    """The refinement method called ``name``."""
    if name not in REFINERS:
        raise ConfigError(f"unknown refinement method {name!r}; known: {', '.join(REFINERS)}")
    return REFINERS[name]


def method_settings(name: str) -> dict[str, Any]:
    """A method's keyword settings and their defaults (what ``--set key=value`` may change)."""
    skip = {"labels", "prior", "seed", "progress", "batch_size"}
    return {
        p.name: p.default
        for p in inspect.signature(get_method(name)).parameters.values()
        if p.kind is p.KEYWORD_ONLY and p.name not in skip
    }


def run_method(
    name: str,
    bundle: Bundle,
    critic: Critic,
    z: torch.Tensor,
    labels: torch.Tensor | None = None,
    seed: int = 0,
    progress: bool = False,
    **settings: Any,
) -> Refined:
    """Run method ``name`` on the bundle's generator from latents ``z`` with ``critic``."""
    method = get_method(name)
    known = method_settings(name)
    unknown = sorted(set(settings) - set(known))
    if unknown:
        raise ConfigError(f"{name} has no setting {', '.join(unknown)}; it has: {', '.join(known)}")
    params = inspect.signature(method).parameters
    for key, value in settings.items():
        check_setting(key, value, str(params[key].annotation), params[key].default)
    extra = {"prior": bundle.latent} if "prior" in params else {}
    generator = bundle.generator.eval()
    refined = method(generator, critic, z, labels=labels, seed=seed, progress=progress, **extra, **settings)
    if not refined.x.isfinite().all():
        raise ConfigError(f"{name} diverged: its samples are not finite; use a smaller step size")
    return refined


def check_setting(key: str, value: Any, annotation: str, default: Any) -> None:
    """Refuse a setting of the wrong type: a stray 'x' or 1 for a switch (it would count as true), a
    string, bool, NaN or infinity for a number, a fraction for a count."""
    if value is None and default is None:
        return
    if "bool" in annotation:
        if not isinstance(value, bool):
            raise ConfigError(f"{key} must be true or false, got {value!r}")
    elif "float" in annotation:
        check_number(key, value)
    elif "int" in annotation:
        check_number(key, value, high=MAX_STEPS, integer=True)
    check_finite(key, value)


def initial_latents(
    bundle: Bundle, n: int, seed: int, labels: torch.Tensor | list[int] | int | None = None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The latents (and labels) ``bundle.sample(n, seed, labels)`` uses: refinement starts from them."""
    samples = bundle.sample(n, seed=seed, labels=labels)
    return samples.z, samples.labels

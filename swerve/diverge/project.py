"""Projection: the latent from which a model best remakes a given picture.

Divergence starts from a latent; projection lets that latent come from a user's own picture, so every
method (bend, blend, refine, novelty search) then applies to it. It is latent optimisation with Adam on a
pixel loss plus a perceptual loss in the bundle's domain-classifier features (:mod:`swerve.measure.features`,
the feature space swerve measures in), run from several random starts at once (one batch) keeping the best.

- A StyleGAN-like generator (a ``mapping`` and a ``synthesis``) is projected in w (one w for every layer)
  or w+ (one per layer), as in the StyleGAN2 projector (Karras et al. 2020, "Analyzing and Improving the Image
  Quality of StyleGAN", appendix D): start at the average w, Gaussian noise added to w that ramps down over
  the first three quarters, a learning rate ramped up then down, and, when ``noise=True``, the per-layer noise
  maps optimised too under a multi-scale autocorrelation penalty and renormalised after each step.
- A VAE (a bundle with an ``encoder``) starts from the encoder's mean, optionally refined by optimisation.
- Any other generator is projected in z, from ``restarts`` draws of its prior, with a small prior penalty.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from swerve import taps
from swerve.bundle import Bundle
from swerve.data.picture import read_picture
from swerve.errors import ConfigError
from swerve.utils import make_generator

SPACES = ("auto", "z", "w", "w+", "encoder")


@dataclass
class Projection:
    """A projected picture: the latent (``z`` or StyleGAN ``ws``), the remade picture, the loss curves."""

    space: str
    target: torch.Tensor  # 1 x C x H x W in the bundle's range
    x: torch.Tensor  # the remade picture
    z: torch.Tensor | None  # 1 x dim (z space, or the VAE's latent)
    ws: torch.Tensor | None = None  # 1 x num_ws x w_dim (w / w+)
    noise: dict[str, torch.Tensor] = field(default_factory=dict)  # optimised noise maps, by layer name
    label: int | None = None
    curves: list[list[float]] = field(default_factory=list)  # loss per step, one list per restart
    best: int = 0
    pixel_mse: float = math.nan
    feature_distance: float | None = None
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "space": self.space,
            "label": self.label,
            "restarts": len(self.curves),
            "best_restart": self.best,
            "steps": max(len(c) for c in self.curves) - 1 if self.curves else 0,
            "pixel_mse": self.pixel_mse,
            "feature_distance": self.feature_distance,
            "notes": self.notes,
        }


def load_picture(path: str | os.PathLike, bundle: Bundle) -> torch.Tensor:
    """A picture file as 1 x C x H x W in ``bundle``'s value range: any size or mode, converted to its
    channels (grey or RGB), scaled and centre-cropped to its size."""
    if not bundle.data.is_image:
        raise ConfigError(f"{bundle.name or 'this bundle'} makes points, not pictures; nothing to project")
    channels, height, width = bundle.data.shape
    return read_picture(path, channels, height, width, tuple(bundle.data.range))


def feature_network(bundle: Bundle) -> tuple[nn.Module | None, str]:
    """The domain classifier of ``bundle``'s data set (None and the reason when there is none)."""
    from swerve.measure.features import get_extractor  # local: measure is a method package, loaded lazily

    try:
        extractor = get_extractor(bundle.data.dataset)
        net = extractor.load()
    except Exception as exc:  # noqa: BLE001 - any failure means: pixel loss only, said in the notes
        return None, f"no perceptual loss: {exc}"
    for p in net.parameters():
        p.requires_grad_(False)
    return net.eval().to(bundle.device), ""


def _features(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    out = net.features(x) if hasattr(net, "features") else net(x)
    out = out.flatten(1)
    return out / out.norm(dim=1, keepdim=True).clamp_min(1e-12)


class Loss:
    """Per-sample pixel MSE + ``feature_weight`` x squared distance of unit-length domain features."""

    def __init__(self, target: torch.Tensor, net: nn.Module | None, feature_weight: float) -> None:
        self.target, self.net, self.weight = target, net, feature_weight
        self.target_features = _features(net, target) if net is not None else None

    def pixel(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.target).pow(2).flatten(1).mean(1)

    def feature(self, x: torch.Tensor) -> torch.Tensor | None:
        if self.net is None:
            return None
        return (_features(self.net, x) - self.target_features).pow(2).sum(1)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        loss = self.pixel(x)
        feature = self.feature(x) if self.weight else None
        return loss if feature is None else loss + self.weight * feature


def pick_label(bundle: Bundle, target: torch.Tensor, net: nn.Module | None, label: int | None) -> int | None:
    """The class to project with: ``label``, else the domain classifier's guess, else 0 (None when the
    generator is unconditional)."""
    k = bundle.num_classes
    if k == 0:
        if label is not None:
            raise ConfigError(f"{bundle.name} is unconditional; it takes no class")
        return None
    if label is not None:
        if not 0 <= label < k:
            raise ConfigError(f"the class must lie in 0..{k - 1}, got {label}")
        return label
    if net is not None:
        with torch.no_grad():
            logits = net(target)
        if logits.ndim == 2 and logits.shape[1] == k:
            return int(logits.argmax(1))
    return 0


def resolve_space(bundle: Bundle, space: str) -> str:
    """``auto``: w for a StyleGAN, the encoder for a VAE, else z; refuse a space the model lacks."""
    if space not in SPACES:
        raise ConfigError(f"space must be one of {', '.join(SPACES)}, got {space!r}")
    gen = bundle.generator
    mapped = hasattr(gen, "mapping") and hasattr(gen, "synthesis")
    if space == "auto":
        return "w" if mapped else "encoder" if "encoder" in bundle.networks else "z"
    if space in ("w", "w+") and not mapped:
        raise ConfigError(f"{bundle.name}'s generator has no mapping network, so no w space; use z")
    if space == "encoder" and "encoder" not in bundle.networks:
        raise ConfigError(f"{bundle.name} has no encoder; project in z instead")
    return space


def project(
    bundle: Bundle,
    target: torch.Tensor,
    steps: int = 200,
    restarts: int = 4,
    space: str = "auto",
    lr: float | None = None,
    feature_weight: float = 0.1,
    label: int | None = None,
    noise: bool = True,
    seed: int = 0,
    progress: bool = False,
    report: Callable[[int, int], None] | None = None,
) -> Projection:
    """Find the latent from which ``bundle``'s generator (with its edits) best remakes ``target``
    (1 x C x H x W in its range; see :func:`load_picture`). ``steps=0`` with the encoder space is the
    encoder alone. The best of ``restarts`` starts by final loss is kept. ``report(step, steps)`` is called
    after every step (a studio job's progress; it may raise to stop the projection)."""
    if bundle.latent is None:
        raise ConfigError(f"{bundle.name} has no latent space to project into")
    if steps < 0 or restarts < 1:
        raise ConfigError(f"steps must be >= 0 and restarts >= 1, got {steps} and {restarts}")
    space = resolve_space(bundle, space)
    if tuple(target.shape[1:]) != tuple(bundle.data.shape):
        raise ConfigError(
            f"the picture is {list(target.shape[1:])} but {bundle.name} makes {bundle.data.shape}"
        )
    device = bundle.device
    target = target[:1].to(device)
    net, why = feature_network(bundle)
    notes = [why] if why else []
    loss = Loss(target, net, feature_weight)
    chosen = pick_label(bundle, target, net, label)
    gen = bundle.generator
    taps.reset_edits(gen)
    was_training = gen.training
    gen.eval()
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            if space in ("w", "w+"):
                result = _project_w(
                    gen, bundle, loss, chosen, steps, restarts, space, lr, noise, seed, progress, report
                )
            else:
                result = _project_z(
                    gen, bundle, loss, chosen, steps, restarts, space, lr, seed, progress, report
                )
    finally:
        gen.train(was_training)
    result.target, result.label, result.notes = target.cpu(), chosen, notes + result.notes
    with torch.no_grad():
        result.pixel_mse = float(loss.pixel(result.x.to(device)))
        feature = loss.feature(result.x.to(device))
        result.feature_distance = None if feature is None else float(feature)
    return result


def _labels(label: int | None, n: int, device: torch.device) -> torch.Tensor | None:
    return None if label is None else torch.full((n,), label, dtype=torch.long, device=device)


def _run(gen: nn.Module, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    return gen(z) if y is None else gen(z, y)


def _project_z(
    gen: nn.Module,
    bundle: Bundle,
    loss: Loss,
    label: int | None,
    steps: int,
    restarts: int,
    space: str,
    lr: float | None,
    seed: int,
    progress: bool,
    report: Callable[[int, int], None] | None = None,
) -> Projection:
    device = loss.target.device
    y = _labels(label, restarts, device)
    if space == "encoder":
        with torch.no_grad():
            mu, logvar = bundle.encoder(loss.target)
        spread = (0.5 * logvar).exp() * torch.randn(restarts, mu.shape[1], generator=make_generator(seed))
        spread[0] = 0  # the first start is the encoder's mean itself
        z0 = mu + spread.to(device)
    else:
        z0 = bundle.latent.sample(restarts, make_generator(seed), device)
    z = z0.clone().requires_grad_(True)
    optimiser = torch.optim.Adam([z], lr=lr or 0.05)
    uniform = bundle.latent.distribution == "uniform"
    curves: list[list[float]] = [[] for _ in range(restarts)]
    per = torch.zeros(restarts)
    for step in tqdm(range(steps + 1), desc="projecting", unit="step", disable=not progress):
        per_sample = loss(_run(gen, z, y))
        per = per_sample.detach().cpu()
        for i, value in enumerate(per.tolist()):
            curves[i].append(value)
        if report is not None:
            report(step, steps)
        if step == steps:
            break
        prior = 0.0 if uniform else 1e-3 * z.pow(2).mean(1)
        optimiser.zero_grad()
        (per_sample + prior).sum().backward()
        optimiser.step()
        if uniform:
            with torch.no_grad():
                z.clamp_(-1, 1)
    best = int(per.argmin())
    with torch.no_grad():
        x = _run(gen, z[best : best + 1], None if y is None else y[:1])
    return Projection(
        space, loss.target, x.cpu(), z[best : best + 1].detach().cpu(), curves=curves, best=best
    )


def _noise_layers(synthesis: nn.Module) -> dict[str, nn.Module]:
    return {
        name: m
        for name, m in synthesis.named_modules()
        if isinstance(getattr(m, "noise_const", None), torch.Tensor)
    }


def noise_regularisation(maps: list[torch.Tensor]) -> torch.Tensor:
    """The StyleGAN2 projector's noise penalty: squared autocorrelation at one-pixel shifts, at every scale
    down to 8 x 8, so the optimised noise maps cannot smuggle the picture's content in."""
    total = maps[0].new_zeros(())
    for m in maps:
        n = m[None, None]
        while True:
            total = total + (n * n.roll(1, dims=3)).mean().pow(2) + (n * n.roll(1, dims=2)).mean().pow(2)
            if n.shape[2] <= 8:
                break
            n = F.avg_pool2d(n, 2)
    return total


def _project_w(
    gen: nn.Module,
    bundle: Bundle,
    loss: Loss,
    label: int | None,
    steps: int,
    restarts: int,
    space: str,
    lr: float | None,
    noise: bool,
    seed: int,
    progress: bool,
    report: Callable[[int, int], None] | None = None,
) -> Projection:
    device = loss.target.device
    lr = lr or 0.1
    with torch.no_grad():
        probe = torch.randn(2000, bundle.latent.dim, generator=make_generator(seed + 1)).to(device)
        ws = gen.mapping(probe, _labels(label, len(probe), device))
        w_avg, w_std = ws[:, 0].mean(0), (ws[:, 0] - ws[:, 0].mean(0)).pow(2).sum(1).mean().sqrt()
    num_ws = ws.shape[1]
    # Restarts beyond the first start from w's of random draws, pulled halfway to the average.
    starts = torch.cat([w_avg[None], 0.5 * (w_avg[None] + ws[1:restarts, 0])])[:restarts]
    w = (starts[:, None].repeat(1, num_ws if space == "w+" else 1, 1)).clone().requires_grad_(True)
    synthesis = copy.deepcopy(gen.synthesis) if noise else gen.synthesis
    layers = _noise_layers(synthesis) if noise else {}
    maps = []
    for module in layers.values():
        fresh = torch.randn(module.noise_const.shape, generator=make_generator(seed + 2)).to(device)
        module.noise_const = fresh.requires_grad_(True)  # a plain attribute while projecting
        maps.append(module.noise_const)
    optimiser = torch.optim.Adam([w, *maps], lr=lr, betas=(0.9, 0.999))
    curves: list[list[float]] = [[] for _ in range(restarts)]
    per = torch.zeros(restarts)
    for step in tqdm(range(steps + 1), desc="projecting", unit="step", disable=not progress):
        t = step / max(steps, 1)
        ramp = w_std * 0.05 * max(0.0, 1 - t / 0.75) ** 2 if step < steps else 0.0
        for group in optimiser.param_groups:
            group["lr"] = lr * min(1.0, t / 0.05) * (0.5 - 0.5 * math.cos(math.pi * min(1.0, (1 - t) / 0.25)))
        w_in = w + torch.randn_like(w) * ramp
        per_sample = loss(synthesis(w_in.expand(-1, num_ws, -1) if space == "w" else w_in))
        per = per_sample.detach().cpu()
        for i, value in enumerate(per.tolist()):
            curves[i].append(value)
        if report is not None:
            report(step, steps)
        if step == steps:
            break
        penalty = 1e5 * noise_regularisation(maps) if maps else 0.0
        optimiser.zero_grad()
        (per_sample.sum() + penalty).backward()
        optimiser.step()
        with torch.no_grad():
            for m in maps:  # renormalise: zero mean, unit variance
                m.sub_(m.mean()).div_(m.std().clamp_min(1e-8))
    best = int(per.argmin())
    ws_best = (w[best : best + 1].expand(-1, num_ws, -1) if space == "w" else w[best : best + 1]).detach()
    with torch.no_grad():
        x = synthesis(ws_best)
    return Projection(
        space,
        loss.target,
        x.cpu(),
        None,
        ws=ws_best.cpu(),
        noise={name: m.noise_const.detach().cpu() for name, m in layers.items()},
        curves=curves,
        best=best,
    )


@torch.no_grad()
def best_random(
    bundle: Bundle, target: torch.Tensor, n: int = 1000, seed: int = 0, label: int | None = None
) -> tuple[float, torch.Tensor]:
    """The baseline projection must beat: the lowest pixel MSE to ``target`` over ``n`` prior draws (and
    the latent that reached it)."""
    device = bundle.device
    z = bundle.latent.sample(n, make_generator(seed), device)
    x = bundle.sample(n, z=z, labels=label if bundle.num_classes else None, seed=seed).x
    errors = (x - target.cpu()).pow(2).flatten(1).mean(1)
    i = int(errors.argmin())
    return float(errors[i]), z[i : i + 1].cpu()

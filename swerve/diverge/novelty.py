"""Latent novelty search (Lehman & Stanley 2011, "Abandoning objectives"), over a generator's latent space.

Candidates are latent codes; their *behaviour* is an embedding of the image they make (by default the domain
classifier's features; any extractor can be given). The novelty of a candidate is its mean distance to its
k nearest neighbours among the archive and the current population. Each generation the most novel candidates
that pass the optional quality constraint (discriminator or classifier confidence above a threshold) join the
archive, so the search keeps being pushed to places it has not been.

Two optimisers: ``evolution`` (truncation selection on novelty, Gaussian mutation of the codes; labels of a
conditional generator are inherited) and ``gradient`` (Adam ascent of the novelty, through the generator and
the extractor, with the quality constraint as a hinge penalty and a penalty keeping codes near the prior's
shell). The budget is counted in generator evaluations, so both compare with random sampling of the same
budget (:func:`random_archive`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from swerve.bundle import Bundle
from swerve.errors import ConfigError
from swerve.measure import novelty_scores
from swerve.utils import make_generator

Behaviour = Callable[[torch.Tensor], torch.Tensor]  # images (N, C, H, W) -> (N, D), differentiable
Quality = Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]  # images, labels -> (N,) in [0, 1]
METHODS = ("evolution", "gradient")


def feature_behaviour(extractor: nn.Module, layer: str | None = None) -> Behaviour:
    """Behaviour = ``extractor.features(x)`` (swerve's classifiers), its output, or a named layer's output."""
    from swerve import taps

    extractor.eval().requires_grad_(False)

    def behaviour(x: torch.Tensor) -> torch.Tensor:
        if layer is not None:
            with taps.record(extractor, [layer], detach=False) as acts:
                extractor(x)
            return acts[layer].flatten(1)
        out = extractor.features(x) if hasattr(extractor, "features") else extractor(x)
        return out.flatten(1)

    return behaviour


def discriminator_quality(discriminator: nn.Module) -> Quality:
    """Quality = sigmoid of the discriminator's logit (its belief that the image is real)."""
    discriminator.eval().requires_grad_(False)
    conditional = bool(getattr(getattr(discriminator, "config", None), "num_classes", 0))

    def quality(x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        logit = discriminator(x, y) if conditional and y is not None else discriminator(x)
        return torch.sigmoid(logit)

    return quality


def classifier_quality(classifier: nn.Module) -> Quality:
    """Quality = the classifier's top class probability (it recognises *something*)."""
    classifier.eval().requires_grad_(False)
    return lambda x, y: classifier(x).softmax(1).max(1).values


@dataclass
class NoveltyArchive:
    """What a search found: codes (and labels), images, their behaviour, novelty when added, quality."""

    z: torch.Tensor
    labels: torch.Tensor | None
    x: torch.Tensor
    behaviour: torch.Tensor
    novelty: torch.Tensor
    quality: torch.Tensor | None
    evaluations: int
    params: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.z)


class _Archive:
    """The growing archive during a search."""

    def __init__(self) -> None:
        self.parts: dict[str, list[torch.Tensor]] = {k: [] for k in ("z", "y", "x", "b", "n", "q")}

    def add(self, **items: torch.Tensor | None) -> None:
        for key, value in items.items():
            if value is not None:
                self.parts[key].append(value.detach().cpu())

    def get(self, key: str) -> torch.Tensor | None:
        return torch.cat(self.parts[key]) if self.parts[key] else None


class _Search:
    """Shared state of both optimisers: the generator call, behaviour, quality and the archive."""

    def __init__(
        self,
        generator: nn.Module,
        num_classes: int,
        behaviour: Behaviour,
        quality: Quality | None,
        quality_min: float | None,
        k: int,
    ) -> None:
        self.g, self.num_classes = generator.eval().requires_grad_(False), num_classes
        self.behaviour, self.quality, self.quality_min, self.k = behaviour, quality, quality_min, k
        self.archive = _Archive()
        self.evaluations = 0

    def make(self, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        self.evaluations += len(z)
        return self.g(z, y) if self.num_classes else self.g(z)

    def novelty(self, b: torch.Tensor) -> torch.Tensor:
        """Novelty of the population ``b`` against archive + population (itself excluded)."""
        archived = self.archive.get("b")
        others = b if archived is None else torch.cat([b, archived.to(b.device, b.dtype)])
        return novelty_scores(b, others, k=min(self.k, len(others) - 1), exclude_self=True)

    def feasible(self, q: torch.Tensor | None) -> torch.Tensor | None:
        return None if q is None or self.quality_min is None else q >= self.quality_min

    def admit(self, z, y, x, b, nov, q, n_add: int) -> None:
        """Add the ``n_add`` most novel feasible members of a population to the archive."""
        score = nov.clone()
        ok = self.feasible(q)
        if ok is not None:
            score[~ok] = -float("inf")
        top = score.topk(min(n_add, len(score))).indices
        top = top[torch.isfinite(score[top])]
        self.archive.add(
            z=z[top],
            y=None if y is None else y[top],
            x=x[top],
            b=b[top],
            n=nov[top],
            q=None if q is None else q[top],
        )


def novelty_search(
    generator: nn.Module,
    latent_dim: int,
    behaviour: Behaviour,
    *,
    method: str = "evolution",
    budget: int = 2000,
    population: int = 50,
    add_per_generation: int = 5,
    k: int = 10,
    num_classes: int = 0,
    sigma: float = 0.5,
    lr: float = 0.1,
    steps_per_generation: int = 1,
    quality: Quality | None = None,
    quality_min: float | None = None,
    quality_weight: float = 10.0,
    seed: int = 0,
    device: torch.device | str = "cpu",
    progress: Callable[[int, int], None] | None = None,
) -> NoveltyArchive:
    """Search ``generator``'s latent space (normal prior of ``latent_dim``) for novel behaviour.

    ``budget`` generator evaluations are spent in generations of ``population`` codes; each generation adds
    its ``add_per_generation`` most novel (feasible) codes to the archive. ``num_classes > 0`` treats the
    generator as class-conditional (each code carries a label). ``progress(done, budget)`` is called after
    every generation.
    """
    if method not in METHODS:
        raise ConfigError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    if population < 2 or budget < population:
        raise ConfigError(f"need population >= 2 and budget >= population, got {population} and {budget}")
    if (quality is None) != (quality_min is None):
        raise ConfigError("a quality constraint needs both a quality function and quality_min")
    gen = make_generator(seed)
    search = _Search(generator, num_classes, behaviour, quality, quality_min, k)
    z = torch.randn(population, latent_dim, generator=gen).to(device)
    y = (torch.arange(population) % num_classes).to(device) if num_classes else None
    cost = population * (steps_per_generation + 1 if method == "gradient" else 1)
    while search.evaluations + cost <= budget:
        if method == "gradient":
            z = _ascend(search, z, y, lr, steps_per_generation, quality_weight)
        with torch.no_grad():
            x = search.make(z, y)
            b = behaviour(x)
            nov = search.novelty(b)
            q = quality(x, y) if quality is not None else None
        search.admit(z, y, x, b, nov, q, add_per_generation)
        if method == "evolution":
            z, y = _offspring(z, y, nov, search.feasible(q), sigma, gen)
        if progress is not None:
            progress(search.evaluations, budget)
    a = search.archive
    if a.get("z") is None:
        raise ConfigError("no candidate met the quality constraint; lower quality_min or raise the budget")
    params = dict(
        method=method,
        budget=budget,
        population=population,
        add_per_generation=add_per_generation,
        k=k,
        sigma=sigma,
        lr=lr,
        steps_per_generation=steps_per_generation,
        quality_min=quality_min,
        seed=seed,
    )
    return NoveltyArchive(
        a.get("z"), a.get("y"), a.get("x"), a.get("b"), a.get("n"), a.get("q"), search.evaluations, params
    )


def _offspring(z, y, nov, ok, sigma: float, gen: torch.Generator):
    """Truncation selection: the more novel (feasible first) half are parents of two mutated children each."""
    score = nov.clone()
    if ok is not None:
        score[~ok] -= score.max() - score.min() + 1  # any feasible parent beats every infeasible one
    parents = score.topk((len(z) + 1) // 2).indices.repeat(2)[: len(z)].cpu()
    noise = torch.randn(len(z), z.shape[1], generator=gen).to(z.device)
    return z[parents] + sigma * noise, (None if y is None else y[parents])


def _ascend(search: _Search, z, y, lr: float, steps: int, quality_weight: float) -> torch.Tensor:
    """Adam steps on the codes: maximise novelty, keep quality above its floor, stay near the prior shell."""
    z = z.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    shell = z.shape[1] ** 0.5
    for _ in range(steps):
        with torch.enable_grad():
            x = search.make(z, y)
            loss = -search.novelty(search.behaviour(x)).mean()
            if search.quality is not None:
                loss = loss + quality_weight * torch.relu(search.quality_min - search.quality(x, y)).mean()
            loss = loss + ((z.norm(dim=1) - shell) ** 2).mean() / z.shape[1]
            opt.zero_grad()
            loss.backward()
            opt.step()
    return z.detach()


@torch.no_grad()
def random_archive(
    generator: nn.Module,
    latent_dim: int,
    behaviour: Behaviour,
    size: int,
    budget: int,
    num_classes: int = 0,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> NoveltyArchive:
    """The baseline: ``budget`` random codes, of which ``size`` (picked at random) form the archive."""
    gen = make_generator(seed)
    keep = torch.randperm(budget, generator=gen)[:size]
    z = torch.randn(budget, latent_dim, generator=gen)[keep].to(device)
    y = (keep % num_classes).to(device) if num_classes else None
    g = generator.eval()
    x = g(z, y) if num_classes else g(z)
    b = behaviour(x)
    nov = novelty_scores(b, b, k=min(10, len(b) - 1), exclude_self=True)
    return NoveltyArchive(
        z.cpu(),
        None if y is None else y.cpu(),
        x.cpu(),
        b.cpu(),
        nov.cpu(),
        None,
        budget,
        dict(method="random", budget=budget, seed=seed),
    )


def search_bundle(
    bundle: Bundle,
    extractor: nn.Module,
    layer: str | None = None,
    quality: str | None = None,
    quality_min: float | None = None,
    classifier: nn.Module | None = None,
    **options: Any,
) -> NoveltyArchive:
    """:func:`novelty_search` on a bundle's generator; ``quality`` is ``discriminator``, ``classifier`` or
    None. The bundle's history is not changed (an archive is samples, not new weights)."""
    if bundle.latent is None:
        raise ConfigError(f"bundle {bundle.name} has no latent space to search")
    q: Quality | None = None
    if quality == "discriminator":
        q = discriminator_quality(bundle.discriminator)
    elif quality == "classifier":
        q = classifier_quality(classifier if classifier is not None else extractor)
    elif quality is not None:
        raise ConfigError(f"quality must be 'discriminator' or 'classifier', got {quality!r}")
    return novelty_search(
        bundle.generator,
        bundle.latent.dim,
        feature_behaviour(extractor, layer),
        num_classes=bundle.num_classes,
        quality=q,
        quality_min=quality_min if q else None,
        device=bundle.device,
        **options,
    )

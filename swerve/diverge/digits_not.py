"""*Digits that are not* (Kazakçı, Cherti & Kégl, ICCC 2016): new forms as fixed points of a sparse
autoencoder, iterated from noise.

Start from uniform noise and repeat x ← binarise(AE(x)) until nothing changes (at most 100 iterations). The
binarisation uses a *moving threshold*: in every image, at every iteration, the brightest ``ratio`` of pixels
become white and the rest black, where ``ratio`` is the white-pixel ratio of the training data, so the
iteration can neither fade out nor flood. The fixed points are clustered (k-means on the autoencoder's
code, each map's winning activation) and a classifier that knows the data's classes says which clusters
it recognises: the rest are the "digits that are not". swerve runs it on any image data set; its benchmark
and report use Fashion-MNIST (no MNIST here), with the zoo's ``fashion-wta-ae`` and ``fashion-classifier``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from swerve.diverge.sparse_ae import WTAAutoencoder
from swerve.errors import ConfigError
from swerve.measure import class_probabilities
from swerve.utils import make_generator


def white_ratio(x: torch.Tensor) -> float:
    """Fraction of pixels brighter than mid-grey (> 0 in [-1, 1]) over a set of images."""
    return float((x > 0).double().mean())


def binarize(x: torch.Tensor, ratio: float) -> torch.Tensor:
    """Per image, the ``round(ratio * pixels)`` brightest pixels to +1 and the rest to -1 (the moving
    threshold: each image's threshold is wherever its own pixel ranking puts it)."""
    if not 0 < ratio < 1:
        raise ConfigError(f"the white-pixel ratio must lie in (0, 1), got {ratio!r}")
    flat = x.flatten(1)
    keep = max(1, round(ratio * flat.shape[1]))
    top = flat.topk(keep, dim=1).indices
    out = torch.full_like(flat, -1.0).scatter_(1, top, 1.0)
    return out.view_as(x)


@dataclass
class FixedPoints:
    """Images the iteration ended on, how many iterations each took and whether it stopped changing."""

    x: torch.Tensor
    iterations: torch.Tensor
    converged: torch.Tensor
    seed: int


@torch.no_grad()
def fixed_points(
    ae: nn.Module,
    n: int,
    ratio: float,
    max_iter: int = 100,
    seed: int = 0,
    shape: list[int] | None = None,
    batch_size: int = 256,
    progress: Callable[[int, int], None] | None = None,
) -> FixedPoints:
    """Iterate x ← binarise(ae(x), ratio) from uniform noise for ``n`` images until each stops changing."""
    if shape is None:
        cfg = getattr(ae, "config", None)
        if cfg is None:
            raise ConfigError("give the image shape: this autoencoder has no config to read it from")
        shape = [cfg.channels, cfg.image_size, cfg.image_size]
    was = ae.training
    ae.eval()
    device = next(ae.parameters()).device
    x = torch.rand(n, *shape, generator=make_generator(seed)) * 2 - 1
    iterations = torch.zeros(n, dtype=torch.long)
    done = torch.zeros(n, dtype=torch.bool)
    try:
        for it in range(1, max_iter + 1):
            active = (~done).nonzero().squeeze(1)
            if len(active) == 0:
                break
            new = torch.cat(
                [binarize(ae(x[idx].to(device)).cpu(), ratio) for idx in active.split(batch_size)]
            )
            same = (new == x[active]).flatten(1).all(1)
            x[active] = new
            iterations[active] = it
            done[active[same]] = True
            if progress is not None:
                progress(it, int(done.sum()))
    finally:
        ae.train(was)
    return FixedPoints(x, iterations, done, seed)


def kmeans(points: torch.Tensor, k: int, seed: int = 0, iters: int = 50) -> torch.Tensor:
    """Cluster labels of ``points`` (N, D) by Lloyd's k-means from a k-means++ start (seeded)."""
    p = points.detach().double().cpu()
    if not 1 <= k <= len(p):
        raise ConfigError(f"cannot make {k} clusters of {len(p)} points")
    gen = make_generator(seed)
    centres = [p[torch.randint(len(p), (1,), generator=gen)].squeeze(0)]
    for _ in range(1, k):
        d2 = torch.cdist(p, torch.stack(centres)).min(1).values ** 2
        weights = d2 / d2.sum() if d2.sum() > 0 else torch.full_like(d2, 1 / len(d2))
        centres.append(p[torch.multinomial(weights, 1, generator=gen)].squeeze(0))
    c = torch.stack(centres)
    labels = torch.cdist(p, c).argmin(1)
    for _ in range(iters):
        for j in range(k):
            if (labels == j).any():
                c[j] = p[labels == j].mean(0)
        new = torch.cdist(p, c).argmin(1)
        if torch.equal(new, labels):
            break
        labels = new
    return labels


@dataclass
class DigitsNotResult:
    """The fixed points, their clusters and, per cluster, what the classifier makes of it."""

    points: FixedPoints
    clusters: torch.Tensor
    table: list[dict[str, Any]]
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def novel_clusters(self) -> list[int]:
        return [row["cluster"] for row in self.table if not row["recognised"]]

    def novel(self) -> torch.Tensor:
        """The converged fixed points of the clusters the classifier does not recognise."""
        keep = torch.isin(self.clusters, torch.tensor(self.novel_clusters, dtype=torch.long))
        return self.points.x[keep & self.points.converged]


def judge_clusters(
    probs: torch.Tensor,
    clusters: torch.Tensor,
    class_names: list[str],
    theta: float = 0.9,
    share: float = 0.5,
) -> list[dict[str, Any]]:
    """Per cluster: its size, its majority class and how surely the classifier puts members there.

    A cluster is *recognised* when at least ``share`` of its members are given its majority class with
    probability above ``theta``; otherwise it is a form the classifier does not know.
    """
    rows = []
    for j in sorted(set(clusters.tolist())):
        p = probs[clusters == j]
        top_p, top_c = p.max(1)
        majority = int(top_c.mode().values)
        sure = float(((top_c == majority) & (top_p > theta)).double().mean())
        name = class_names[majority] if majority < len(class_names) else str(majority)
        rows.append(
            {
                "cluster": j,
                "size": len(p),
                "majority class": name,
                f"share sure (p>{theta:g})": sure,
                "mean top probability": float(top_p.mean()),
                "recognised": sure >= share,
            }
        )
    return rows


def digits_that_are_not(
    ae: WTAAutoencoder,
    classifier: nn.Module,
    ratio: float,
    n: int = 500,
    clusters: int = 10,
    max_iter: int = 100,
    theta: float = 0.9,
    class_names: list[str] | None = None,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> DigitsNotResult:
    """Fixed points from noise, k-means on their codes, and which clusters ``classifier`` does not know."""
    points = fixed_points(ae, n, ratio, max_iter=max_iter, seed=seed, progress=progress)
    device = next(ae.parameters()).device
    with torch.no_grad():
        # Each map's winning activation (which strokes fired, how strongly): k-means on the full sparse
        # code, mostly zeros in thousands of dimensions, puts nearly everything in one cluster.
        codes = torch.cat([ae.encode(b.to(device)).amax(dim=(2, 3)).cpu() for b in points.x.split(256)])
    labels = kmeans(codes, min(clusters, n), seed=seed)
    probs = class_probabilities(classifier, points.x)
    names = class_names or [str(i) for i in range(probs.shape[1])]
    table = judge_clusters(probs, labels, names, theta=theta)
    params = dict(n=n, clusters=clusters, max_iter=max_iter, theta=theta, ratio=ratio, seed=seed)
    return DigitsNotResult(points, labels, table, params)


def cluster_examples(result: DigitsNotResult, per_cluster: int = 8) -> tuple[torch.Tensor, list[int]]:
    """Up to ``per_cluster`` fixed points of every cluster, novel clusters first, padded with black."""
    order = result.novel_clusters + [r["cluster"] for r in result.table if r["recognised"]]
    rows = []
    for j in order:
        members = result.points.x[result.clusters == j][:per_cluster]
        pad = torch.full((per_cluster - len(members), *members.shape[1:]), -1.0)
        rows.append(torch.cat([members, pad]))
    return torch.cat(rows), order


def as_arrays(result: DigitsNotResult) -> dict[str, np.ndarray]:
    """The result as numpy arrays for an .npz sample archive."""
    return {
        "x": result.points.x.numpy(),
        "iterations": result.points.iterations.numpy(),
        "converged": result.points.converged.numpy(),
        "clusters": result.clusters.numpy(),
    }

"""Channel clustering: group a layer's channels that respond alike, so a bend can name a group.

Broad et al. (Entropy 2022) train a small CNN per layer to tell which channel a feature map came from and
cluster the channels' mean bottleneck codes with k-means. We use a training-free embedding instead, the
*co-activation profile*: a channel's feature maps over ``n`` sampled latents, average-pooled to a coarse
``grid x grid`` layout and flattened to one vector, then standardised per channel. Euclidean distance between
two standardised profiles is a monotone function of their correlation, so channels land together when they
rise and fall on the same samples *in the same places* — "respond alike" — whatever their gain or offset.
Raw activation statistics (a channel's mean and spread) miss this: two unrelated channels with the same
scale look identical to them, and one feature at two gains looks like two (the tests plant exactly that).
Profiles are reduced to at most 32 dimensions by PCA and clustered by k-means (k-means++, several restarts,
seeded). The reference's per-layer k (5, 4, 3 from coarse to fine layers) is the default.

``benchmarks/clusters.py`` measures this against the reference's learned embedding: on planted groups
(one feature at several gains) co-activation recovers them exactly (ARI 1.0) where the learned embedding
scores 0.21 and statistics 0.03; on the zoo GAN the two agree little (ARI 0.05 and 0.22 on conv:0 and
conv:1). They answer different questions — the learned embedding groups channels whose maps *look* alike,
co-activation groups channels that *fire together* — and co-activation costs 0.1-0.2 s instead of 6-20 s.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from swerve import taps
from swerve.bundle import Bundle
from swerve.diverge.edits import derive
from swerve.errors import ConfigError
from swerve.utils import make_generator

EMBEDDING = "coactivation"


@torch.no_grad()
def channel_embedding(
    generator: nn.Module,
    layer: str,
    latents: torch.Tensor,
    labels: torch.Tensor | None = None,
    grid: int = 2,
    batch_size: int = 64,
    progress: bool = False,
) -> torch.Tensor:
    """Each channel's standardised co-activation profile over ``latents``: shape ``(channels, dims)``."""
    parts = []
    was_training = generator.training
    generator.eval()
    try:
        starts = range(0, len(latents), batch_size)
        for start in tqdm(starts, desc=f"embedding {layer}", unit="batch", disable=not progress):
            z = latents[start : start + batch_size]
            args = (z,) if labels is None else (z, labels[start : start + batch_size])
            with taps.record(generator, [layer]) as acts:
                generator(*args)
            h = acts[layer].float()
            if h.dim() == 4:
                h = F.adaptive_avg_pool2d(h, grid)
            elif h.dim() != 2:
                raise ConfigError(
                    f"layer {layer!r} outputs shape {tuple(h.shape)}; clustering needs (N, C[, H, W])"
                )
            parts.append(h.flatten(2) if h.dim() == 4 else h.unsqueeze(2))
    finally:
        generator.train(was_training)
    profile = torch.cat(parts).permute(1, 0, 2).flatten(1).cpu().double()  # (C, n * grid * grid)
    profile = profile - profile.mean(1, keepdim=True)
    scale = profile.norm(dim=1, keepdim=True)
    return profile / scale.clamp_min(1e-12)  # dead channels stay at the origin


def kmeans(embedding: torch.Tensor, k: int, seed: int = 0, max_dims: int = 32) -> torch.Tensor:
    """Cluster ids (0..k-1) of the rows of ``embedding`` after PCA to ``max_dims``; ids ordered by size."""
    from sklearn.cluster import KMeans

    n = len(embedding)
    if not 1 <= k <= n:
        raise ConfigError(f"k must be between 1 and the number of channels ({n}), got {k}")
    x = embedding - embedding.mean(0)
    if x.shape[1] > max_dims:
        u, s, _ = torch.linalg.svd(x, full_matrices=False)
        x = u[:, :max_dims] * s[:max_dims]
    ids = KMeans(k, n_init=10, random_state=seed).fit_predict(x.numpy())
    ids = torch.as_tensor(ids, dtype=torch.long)
    order = torch.bincount(ids, minlength=k).argsort(descending=True, stable=True)
    return torch.argsort(order)[ids]  # cluster 0 is the largest


def default_k(position: int, count: int) -> int:
    """The reference's k: 5 for coarse layers, 4 for middle ones, 3 for fine ones."""
    if count == 1:
        return 4
    return 5 if position < count / 3 else 4 if position < 2 * count / 3 else 3


def cluster_bundle(
    bundle: Bundle,
    layers: Sequence[str],
    k: int | Sequence[int] | None = None,
    n: int = 256,
    seed: int = 0,
    grid: int = 2,
    progress: bool = False,
) -> Bundle:
    """A copy of ``bundle`` with ``extra["clusters"][layer]``, each channel's cluster id, for ``layers``
    (and how they were found in ``extra["cluster_info"][layer]``).

    ``layers`` are given coarse to fine (for the default k); bends then pick ``{"cluster": id}``.
    """
    if bundle.latent is None:
        raise ConfigError(f"bundle {bundle.name} has no latent spec to sample from")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"n (samples to embed the channels with) must be a positive integer, got {n!r}")
    layers = [layers] if isinstance(layers, str) else list(layers)
    if not layers:
        raise ConfigError("name at least one layer to cluster (see 'swerve layers')")
    ks = [default_k(i, len(layers)) for i in range(len(layers))] if k is None else k
    ks = list(ks) if isinstance(ks, Sequence) and not isinstance(ks, str) else [ks] * len(layers)
    if len(ks) != len(layers):
        raise ConfigError(f"{len(layers)} layers but {len(ks)} values of k")
    for k_layer in ks:  # the upper bound (the layer's channels) is checked per layer, below
        if isinstance(k_layer, bool) or not isinstance(k_layer, int) or k_layer < 1:
            raise ConfigError(f"k must be a whole number >= 1, got {k_layer!r}")
    gen = bundle.generator
    device = bundle.device
    z = bundle.latent.sample(n, make_generator(seed)).to(device)
    y = (torch.arange(n) % bundle.num_classes).to(device) if bundle.num_classes else None
    clusters: dict[str, list[int]] = dict(bundle.extra.get("clusters") or {})
    info: dict[str, Any] = dict(bundle.extra.get("cluster_info") or {})
    layers = [taps.resolve_layer(gen, layer) for layer in layers]  # stored under named_modules names
    for layer, k_layer in zip(layers, ks, strict=True):
        taps.find_layer(gen, layer)
        emb = channel_embedding(gen, layer, z, y, grid=grid, progress=progress)
        ids = kmeans(emb, min(int(k_layer), len(emb)) if k is None else int(k_layer), seed=seed)
        clusters[layer] = ids.tolist()
        info[layer] = {
            "k": int(ids.max()) + 1,
            "n": n,
            "seed": seed,
            "embedding": EMBEDDING,
            "grid": grid,
        }
    out = derive(bundle, {}, "clusters", layers=layers, k=ks, n=n, seed=seed, embedding=EMBEDDING)
    out.extra["clusters"] = clusters
    out.extra["cluster_info"] = info
    return out

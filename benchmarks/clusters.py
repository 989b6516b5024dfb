"""Channel clustering: swerve's co-activation embedding against the reference's learned one.

Broad et al. (Entropy 2022) embed a layer's channels by training a small CNN to tell which channel a
feature map came from and averaging each channel's bottleneck code over samples; swerve uses the
training-free co-activation profile (see swerve/diverge/clusters.py). This script clusters with both (and
with per-channel mean/std statistics) on

- the planted generator of tests/test_clusters.py, where the true groups are known (adjusted Rand index
  against them), and
- the zoo GAN's conv:0 and conv:1, where it reports how far the two embeddings agree (ARI between them) and
  how long each takes.

Run:  OMP_NUM_THREADS=1 .venv/bin/python benchmarks/clusters.py
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from sklearn.metrics import adjusted_rand_score
from torch import nn

import swerve
from swerve import taps
from swerve.diverge.clusters import channel_embedding, kmeans
from tests.test_clusters import GROUPS, Planted


def feature_maps(g: nn.Module, layer: str, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    with torch.no_grad(), taps.record(g, [layer]) as acts:
        g(z) if y is None else g(z, y)
    return acts[layer]


def reference_embedding(maps: torch.Tensor, steps: int = 400, seed: int = 0) -> torch.Tensor:
    """Train a CNN to name each map's channel; a channel's embedding is its mean 10-d bottleneck code."""
    torch.manual_seed(seed)
    n, c = maps.shape[:2]
    x = maps.reshape(n * c, 1, *maps.shape[2:])
    x = x / x.flatten(1).std(1).clamp_min(1e-6).view(-1, 1, 1, 1).mean()
    labels = torch.arange(c).repeat(n)
    body = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Linear(128, 10),
    )
    head = nn.Linear(10, c)
    opt = torch.optim.Adam([*body.parameters(), *head.parameters()], lr=2e-3)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(len(x), (256,), generator=gen)
        loss = F.cross_entropy(head(F.relu(body(x[idx]))), labels[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        codes = body(x).view(n, c, 10)
    return codes.mean(0).double()


def statistics_embedding(maps: torch.Tensor) -> torch.Tensor:
    return torch.stack([maps.mean((0, 2, 3)), maps.std((0, 2, 3))], 1).double()


def timed(fn, *args):  # noqa: ANN001, ANN202
    start = time.thread_time()
    out = fn(*args)
    return out, time.thread_time() - start


def main() -> None:
    print("planted generator: 18 channels in 3 groups at gains 0.3-3 (ARI against the planted groups)\n")
    print(f"{'embedding':<34} {'ARI':>6} {'CPU s':>7}")
    torch.manual_seed(0)
    planted = Planted()
    z = torch.randn(128, 8)
    maps = feature_maps(planted, "mix", z, None)
    truth = planted.group.tolist()
    for name, fn in [
        ("co-activation (swerve)", lambda: channel_embedding(planted, "mix", z)),
        ("learned, channel classifier (ref.)", lambda: reference_embedding(maps)),
        ("mean and std per channel", lambda: statistics_embedding(maps)),
    ]:
        emb, seconds = timed(fn)
        print(f"{name:<34} {adjusted_rand_score(truth, kmeans(emb, GROUPS).tolist()):>6.2f} {seconds:>7.2f}")

    print("\nzoo fashion-gan, 256 samples: agreement between the co-activation and learned clusterings\n")
    print(f"{'layer':<10} {'k':>3} {'ARI(co-act, learned)':>21} {'co-act s':>9} {'learned s':>10}")
    gan = swerve.load("fashion-gan", device="cpu")
    g = gan.generator.eval()
    z = gan.latent.sample(256, torch.Generator().manual_seed(0))
    y = torch.arange(256) % gan.num_classes
    for layer, k in [("blocks.0", 5), ("blocks.1", 4)]:
        co, t_co = timed(lambda layer=layer: channel_embedding(g, layer, z, y))
        maps = feature_maps(g, layer, z, y)
        learned, t_ref = timed(reference_embedding, maps)
        ari = adjusted_rand_score(kmeans(co, k).tolist(), kmeans(learned, k).tolist())
        print(f"{layer:<10} {k:>3} {ari:>21.2f} {t_co:>9.2f} {t_ref:>10.2f}")


if __name__ == "__main__":
    main()

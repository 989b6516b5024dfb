"""Channel clustering recovers planted channel groups, and bends can name the clusters it stores."""

from __future__ import annotations

import pytest
import torch
from sklearn.metrics import adjusted_rand_score
from torch import nn

from swerve.bundle import Bundle, DataSpec, LatentSpec
from swerve.diverge.bend import Bend, bend_bundle
from swerve.diverge.clusters import channel_embedding, cluster_bundle, kmeans
from swerve.errors import ConfigError

GROUPS = 3
PER_GROUP = 6


class Planted(nn.Module):
    """A generator whose ``mix`` layer has 18 channels in 3 hidden groups (shuffled order).

    Each group has one source map driven by the latent; a channel is that map at its own gain (0.3..3)
    and offset plus a little noise of its own, so channels of a group respond alike at different scales.
    """

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.source = nn.Sequential(nn.Linear(8, GROUPS * 36), nn.Unflatten(1, (GROUPS, 6, 6)))
        self.group = torch.randperm(GROUPS * PER_GROUP, generator=g) % GROUPS
        self.mix = nn.Conv2d(GROUPS + 1, GROUPS * PER_GROUP, 1)
        gains = 0.3 + 2.7 * torch.rand(GROUPS * PER_GROUP, generator=g)
        with torch.no_grad():
            self.mix.weight.zero_()
            self.mix.weight[torch.arange(GROUPS * PER_GROUP), self.group, 0, 0] = gains
            self.mix.weight[:, GROUPS, 0, 0] = 0.3 * gains * torch.randn(GROUPS * PER_GROUP, generator=g)
            self.mix.bias.copy_(torch.randn(GROUPS * PER_GROUP, generator=g))
        self.out = nn.Conv2d(GROUPS * PER_GROUP, 1, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        src = self.source(z)
        own = torch.randn(src.shape[0], 1, 6, 6, generator=torch.Generator().manual_seed(int(z.sum() * 1e3)))
        return self.out(self.mix(torch.cat([src, own], 1)))


def test_coactivation_clustering_recovers_planted_groups_where_statistics_do_not() -> None:
    torch.manual_seed(0)
    g = Planted()
    z = torch.randn(128, 8)
    emb = channel_embedding(g, "mix", z)
    ids = kmeans(emb, GROUPS, seed=0)
    assert adjusted_rand_score(g.group.tolist(), ids.tolist()) == pytest.approx(1.0)
    # The simple alternative, each channel's mean and spread, splits groups by gain instead.
    with torch.no_grad():
        h = g.mix(torch.cat([g.source(z), torch.zeros(len(z), 1, 6, 6)], 1))
    stats = torch.stack([h.mean((0, 2, 3)), h.std((0, 2, 3))], 1).double()
    assert adjusted_rand_score(g.group.tolist(), kmeans(stats, GROUPS).tolist()) < 0.5


def test_cluster_bundle_stores_clusters_that_bends_can_name(tmp_path) -> None:
    torch.manual_seed(1)
    net = Planted()
    bundle = Bundle({"generator": net.eval()}, DataSpec(shape=[1, 6, 6]), LatentSpec(8), name="planted")
    clustered = cluster_bundle(bundle, ["mix"], k=GROUPS, n=96)
    ids = clustered.extra["clusters"]["mix"]
    assert clustered.extra["cluster_info"]["mix"]["embedding"] == "coactivation"
    assert len(ids) == GROUPS * PER_GROUP
    assert adjusted_rand_score(net.group.tolist(), ids) == pytest.approx(1.0)
    assert clustered.history[-1]["op"] == "clusters" and "clusters" not in bundle.extra
    bent = bend_bundle(clustered, [Bend("mix", "ablate", channels={"cluster": 0})])
    x_plain, x_bent = clustered.sample(4, seed=2).x, bent.sample(4, seed=2).x
    assert not torch.equal(x_plain, x_bent)
    with pytest.raises(ConfigError, match="k must be between 1"):
        cluster_bundle(bundle, ["mix"], k=99)

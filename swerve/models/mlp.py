"""MLP generator and critic for 2-D toy data, as in the classic refinement benchmark.

Defaults follow the DGflow/DOT protocol: G maps a 2-d latent through three 256-unit ReLU layers to a
point; D has three 512-unit layers. Layers are named ``layers.0`` ... so bends and scans can address them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from swerve.errors import ConfigError, require_positive_ints


@dataclass
class MLPConfig:
    in_dim: int = 2
    out_dim: int = 2
    hidden: int = 256
    depth: int = 3
    negative_slope: float = 0.0  # ReLU, as in the WGAN-GP toy code: it learns the 25 modes far sooner

    def __post_init__(self) -> None:
        require_positive_ints(self, *("in_dim", "out_dim", "hidden", "depth"))


def _mlp(config: MLPConfig) -> nn.Sequential:
    layers: list[nn.Module] = []
    dim = config.in_dim
    for _ in range(config.depth):
        layers.append(nn.Sequential(nn.Linear(dim, config.hidden), nn.LeakyReLU(config.negative_slope)))
        dim = config.hidden
    layers.append(nn.Linear(dim, config.out_dim))
    return nn.Sequential(*layers)


class MLPGenerator(nn.Module):
    """Latent vector -> point."""

    config_class = MLPConfig

    def __init__(self, config: MLPConfig) -> None:
        super().__init__()
        self.config = config
        self.layers = _mlp(config)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.layers(z)


class MLPDiscriminator(nn.Module):
    """Point -> one logit (or critic value)."""

    config_class = MLPConfig

    def __init__(self, config: MLPConfig) -> None:
        super().__init__()
        if config.out_dim != 1:
            raise ConfigError(f"a discriminator has out_dim 1, got {config.out_dim}")
        self.config = config
        self.layers = _mlp(config)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.layers(x).squeeze(1)

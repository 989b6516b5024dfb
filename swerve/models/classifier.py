"""The domain classifier: a small CNN whose penultimate layer is swerve's feature space for metrics.

Inception weights cannot ship with swerve, so FID/KID, precision/recall, novelty and classifier guidance are
computed in the features of a classifier trained on the domain (Fashion-MNIST, digits). ``features(x)``
returns that embedding; ``forward(x)`` returns class logits.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from swerve.errors import ConfigError, require_positive_ints


@dataclass
class ClassifierConfig:
    image_size: int = 28
    channels: int = 1
    num_classes: int = 10
    width: int = 32
    feature_dim: int = 128
    dropout: float = 0.3

    def __post_init__(self) -> None:
        require_positive_ints(self, *("image_size", "channels", "num_classes", "width", "feature_dim"))
        if self.image_size < 4:
            raise ConfigError(f"image_size must be at least 4, got {self.image_size}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must lie in [0, 1), got {self.dropout!r}")


class DomainClassifier(nn.Module):
    """Image -> class logits; ``features`` gives the ``feature_dim`` embedding used by the metrics."""

    config_class = ClassifierConfig

    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__()
        self.config = config
        w = config.width
        pools = 2 if config.image_size >= 16 else 1

        def block(c_in: int, c_out: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(c_in, c_out, 3, 1, 1),
                nn.ReLU(),
                nn.Conv2d(c_out, c_out, 3, 1, 1),
                nn.ReLU(),
                nn.MaxPool2d(2),
            )

        self.blocks = nn.Sequential(
            block(config.channels, w), *[block(w * 2**i, w * 2 ** (i + 1)) for i in range(pools - 1)]
        )
        side = config.image_size // 2**pools
        self.embed = nn.Sequential(
            nn.Flatten(), nn.Linear(w * 2 ** (pools - 1) * side * side, config.feature_dim), nn.ReLU()
        )
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.feature_dim, config.num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.embed(self.blocks(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(x)))

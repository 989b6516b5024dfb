"""A small convolutional VAE (Kingma & Welling 2014).

The decoder is a :class:`~swerve.models.dcgan.DCGANGenerator` (so every generator method works on it
unchanged); this module adds the encoder, which maps an image to the mean and log-variance of q(z|x).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from swerve.errors import require_positive_ints
from swerve.models.dcgan import upsamplings


@dataclass
class EncoderConfig:
    image_size: int = 28
    channels: int = 1
    latent_dim: int = 16
    width: int = 32

    def __post_init__(self) -> None:
        require_positive_ints(self, *("image_size", "channels", "latent_dim", "width"))
        upsamplings(self.image_size)


class ConvEncoder(nn.Module):
    """Image -> (mu, logvar), each of shape (batch, latent_dim)."""

    config_class = EncoderConfig

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.config = config
        k = upsamplings(config.image_size)
        widths = [config.width * 2**i for i in range(k + 1)]
        layers: list[nn.Module] = [
            nn.Sequential(nn.Conv2d(config.channels, widths[0], 3, 1, 1), nn.LeakyReLU(0.2))
        ]
        for i in range(k):
            layers.append(nn.Sequential(nn.Conv2d(widths[i], widths[i + 1], 4, 2, 1), nn.LeakyReLU(0.2)))
        self.blocks = nn.Sequential(*layers)
        base = config.image_size // 2**k
        self.head = nn.Linear(widths[-1] * base * base, 2 * config.latent_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.head(self.blocks(x).flatten(1)).chunk(2, dim=1)
        return mu, logvar.clamp(-10, 10)

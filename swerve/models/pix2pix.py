"""pix2pix (Isola et al. 2017, "Image-to-Image Translation with Conditional Adversarial Networks").

A U-Net generator maps an input picture (edges, line art, a grey or blurred picture) to an output picture;
a PatchGAN discriminator judges (input, output) pairs patch by patch. Trained with L1 (weight 100) plus the
adversarial loss by :class:`swerve.train.pix2pix.Pix2PixTask`. Unlike the other generators, this one reads a
picture, not a latent: its bundle has no latent spec and ``extra["translation"]`` names the transform that
made its inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from swerve.errors import ConfigError, require_positive_ints


@dataclass
class Pix2PixConfig:
    """Shapes of both networks: input and output channels, square size, base width, depth, dropout."""

    image_size: int = 32
    in_channels: int = 1
    channels: int = 1
    width: int = 32
    max_width: int = 256
    depth: int = 0  # U-Net downsamplings; 0: halve while the size stays even (down to 1 x 1 for 2^k)
    dropout: float = 0.5  # in the three innermost decoder blocks (training only; eval is deterministic)
    d_layers: int = 2  # PatchGAN stride-2 layers (3 in the paper's 70 x 70 PatchGAN at 256 px)

    def __post_init__(self) -> None:
        require_positive_ints(self, "image_size", "in_channels", "channels", "width", "max_width", "d_layers")
        if not isinstance(self.depth, int) or self.depth < 0:
            raise ConfigError(f"depth must be 0 (automatic) or a positive integer, got {self.depth!r}")
        if self.image_size % 2**self.levels:
            raise ConfigError(f"image_size {self.image_size} cannot be halved {self.levels} times")
        if self.levels < 1:
            raise ConfigError(f"a U-Net needs an even image_size, got {self.image_size}")
        if self.image_size < 2 ** (self.d_layers + 2):
            raise ConfigError(
                f"a PatchGAN with d_layers={self.d_layers} needs pictures of at least "
                f"{2 ** (self.d_layers + 2)} px, got {self.image_size}"
            )
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must lie in [0, 1), got {self.dropout!r}")

    @property
    def levels(self) -> int:
        if self.depth:
            return self.depth
        size, k = self.image_size, 0
        while size % 2 == 0 and size > 1 and k < 8:
            size, k = size // 2, k + 1
        return k

    def width_at(self, level: int) -> int:
        return min(self.width * 2**level, self.max_width)


class UNetGenerator(nn.Module):
    """Input picture (N, in_channels, S, S) -> output picture (N, channels, S, S) in [-1, 1].

    Encoder blocks ``down{i}`` (4x4 stride-2 conv, BatchNorm but not on the first and innermost, LeakyReLU
    0.2), decoder blocks ``up{i}`` (ReLU, 4x4 stride-2 transposed conv, BatchNorm, dropout in the three
    innermost), each fed the matching encoder output (the skip connections); ``up0`` ends in tanh."""

    config_class = Pix2PixConfig

    def __init__(self, config: Pix2PixConfig) -> None:
        super().__init__()
        self.config = config
        c, n = config, config.levels
        for i in range(n):
            c_in = c.in_channels if i == 0 else c.width_at(i - 1)
            layers: list[nn.Module] = [] if i == 0 else [nn.LeakyReLU(0.2)]
            layers.append(nn.Conv2d(c_in, c.width_at(i), 4, 2, 1, bias=i in (0, n - 1)))
            if 0 < i < n - 1:
                layers.append(nn.BatchNorm2d(c.width_at(i)))
            self.add_module(f"down{i}", nn.Sequential(*layers))
        for i in reversed(range(n)):
            c_in = c.width_at(i) * (1 if i == n - 1 else 2)
            c_out = c.channels if i == 0 else c.width_at(i - 1)
            layers = [nn.ReLU(), nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=i == 0)]
            if i == 0:
                layers.append(nn.Tanh())
            else:
                layers.append(nn.BatchNorm2d(c_out))
                if i >= n - 3 and c.dropout > 0:
                    layers.append(nn.Dropout(c.dropout))
            self.add_module(f"up{i}", nn.Sequential(*layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = self.config.levels
        if x.ndim != 4 or x.shape[1] != self.config.in_channels:
            raise ConfigError(
                f"pix2pix reads pictures of shape (N, {self.config.in_channels}, S, S), got {tuple(x.shape)}"
            )
        skips = []
        for i in range(n):
            x = getattr(self, f"down{i}")(x)
            skips.append(x)
        for i in reversed(range(n)):
            if i < n - 1:
                x = torch.cat([x, skips[i]], dim=1)
            x = getattr(self, f"up{i}")(x)
        return x


class PatchDiscriminator(nn.Module):
    """(input, output) pair -> a map of logits, one per patch: ``d_layers`` 4x4 stride-2 convs, one stride-1
    conv, then a 1-channel 4x4 conv (BatchNorm after all but the first, LeakyReLU 0.2)."""

    config_class = Pix2PixConfig

    def __init__(self, config: Pix2PixConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        layers: list[nn.Module] = [nn.Conv2d(c.in_channels + c.channels, c.width, 4, 2, 1), nn.LeakyReLU(0.2)]
        for i in range(1, c.d_layers + 1):
            stride = 2 if i < c.d_layers else 1
            layers += [
                nn.Conv2d(c.width_at(i - 1), c.width_at(i), 4, stride, 1, bias=False),
                nn.BatchNorm2d(c.width_at(i)),
                nn.LeakyReLU(0.2),
            ]
        layers.append(nn.Conv2d(c.width_at(c.d_layers), 1, 4, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, source: torch.Tensor, picture: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([source, picture], dim=1))

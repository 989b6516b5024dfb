"""DCGAN-style convolutional generator and discriminator (Radford, Metz & Chintala 2016).

Small and configurable: any square image size ``s0 * 2**k`` with ``s0`` between 4 and 7 (8, 28, 32, 64, ...),
optional class conditioning (embedding concatenated to z in G, projection in D, Miyato & Koyama 2018) and
optional spectral normalisation in D (Miyato et al. 2018). Layers are named so bends and scans can address
them: ``stem``, ``blocks.0`` ... ``blocks.{k-1}`` (each ends in its nonlinearity), ``to_image``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from swerve.errors import ConfigError, require_positive_ints


@dataclass
class DCGANConfig:
    """One config for both networks of a DCGAN pair."""

    image_size: int = 28
    channels: int = 1
    latent_dim: int = 64
    width: int = 32  # channels of the last G block / first D block; doubles at each resolution step
    num_classes: int = 0  # > 0 makes both networks class-conditional
    class_embed_dim: int = 32
    spectral_norm: bool = False  # in the discriminator
    norm: str = "batch"  # generator normalisation: "batch" or "none"

    def __post_init__(self) -> None:
        require_positive_ints(self, *("image_size", "channels", "latent_dim", "width", "class_embed_dim"))
        if not isinstance(self.num_classes, int) or self.num_classes < 0:
            raise ConfigError(f"num_classes must be a non-negative integer, got {self.num_classes!r}")
        if self.norm not in ("batch", "none"):
            raise ConfigError(f"norm must be 'batch' or 'none', got {self.norm!r}")
        upsamplings(self.image_size)

    @property
    def base_size(self) -> int:
        return self.image_size // 2 ** upsamplings(self.image_size)


def upsamplings(image_size: int) -> int:
    """How many 2x steps lead from a 4..7 pixel base to ``image_size``."""
    k, size = 0, image_size
    while size % 2 == 0 and size // 2 >= 4:
        size //= 2
        k += 1
    if not 4 <= size <= 7 or k == 0:
        raise ConfigError(f"image_size {image_size} is not supported (use 8, 28, 32, 64, 128 ...)")
    return k


class DCGANGenerator(nn.Module):
    """Latent (+ label) -> image in [-1, 1]."""

    config_class = DCGANConfig

    def __init__(self, config: DCGANConfig) -> None:
        super().__init__()
        self.config = config
        k = upsamplings(config.image_size)
        widths = [config.width * 2 ** (k - i) for i in range(k + 1)]  # e.g. 128, 64, 32
        in_dim = config.latent_dim
        if config.num_classes:
            self.embed = nn.Embedding(config.num_classes, config.class_embed_dim)
            in_dim += config.class_embed_dim
        base = config.base_size

        def norm(c: int) -> nn.Module:
            return nn.BatchNorm2d(c) if config.norm == "batch" else nn.Identity()

        self.stem = nn.Sequential(
            nn.Linear(in_dim, widths[0] * base * base),
            nn.Unflatten(1, (widths[0], base, base)),
            norm(widths[0]),
            nn.ReLU(),
        )
        self.blocks = nn.Sequential(
            *[
                nn.Sequential(
                    nn.ConvTranspose2d(widths[i], widths[i + 1], 4, 2, 1, bias=config.norm == "none"),
                    norm(widths[i + 1]),
                    nn.ReLU(),
                )
                for i in range(k)
            ]
        )
        self.to_image = nn.Sequential(nn.Conv2d(widths[-1], config.channels, 3, 1, 1), nn.Tanh())

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.config.num_classes:
            if y is None:
                raise ValueError("this generator is class-conditional: pass labels y")
            z = torch.cat([z, self.embed(y)], dim=1)
        return self.to_image(self.blocks(self.stem(z)))


class DCGANDiscriminator(nn.Module):
    """Image (+ label) -> one logit per image (real vs fake, or a critic value)."""

    config_class = DCGANConfig

    def __init__(self, config: DCGANConfig) -> None:
        super().__init__()
        self.config = config
        k = upsamplings(config.image_size)
        sn = spectral_norm if config.spectral_norm else (lambda m: m)
        widths = [config.width * 2**i for i in range(k + 1)]
        layers: list[nn.Module] = [
            nn.Sequential(sn(nn.Conv2d(config.channels, widths[0], 3, 1, 1)), nn.LeakyReLU(0.2))
        ]
        for i in range(k):
            layers.append(nn.Sequential(sn(nn.Conv2d(widths[i], widths[i + 1], 4, 2, 1)), nn.LeakyReLU(0.2)))
        self.blocks = nn.Sequential(*layers)
        feat = widths[-1] * config.base_size**2
        self.head = sn(nn.Linear(feat, 1))
        if config.num_classes:
            self.embed = sn(nn.Embedding(config.num_classes, feat))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x).flatten(1)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(x)
        out = self.head(h).squeeze(1)
        if self.config.num_classes:
            if y is None:
                raise ValueError("this discriminator is class-conditional: pass labels y")
            out = out + (self.embed(y) * h).sum(dim=1)
        return out

"""A light FastGAN-style generator and a residual discriminator (after Liu et al. 2021, "Towards Faster and
Stabilized GAN Training for High-fidelity Few-shot Image Synthesis").

The generator keeps FastGAN's two ideas at small width: upsampling blocks of nearest-neighbour upsampling,
3x3 convolution, batch norm and a gated linear unit (GLU), and skip-layer excitation (SLE): a low-resolution
feature map, pooled to 4x4, gates the channels of a high-resolution one. The discriminator is a stack of
residual downsampling blocks (a strided path and an average-pooled 1x1 path, averaged) with a projection
head for classes (Miyato & Koyama 2018); FastGAN's self-supervised decoder is left out to keep it cheap.
Any square size ``s0 * 2**k`` with ``s0`` in 4..7 and ``k >= 2`` works (32, 48, 64, 128 ...). Layers are named
like the DCGAN's so bends and scans address them the same way: ``stem``, ``blocks.0`` ..., ``to_image``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from swerve.errors import ConfigError, require_positive_ints
from swerve.models.dcgan import upsamplings


@dataclass
class FastGANConfig:
    """One config for both networks of a FastGAN-lite pair."""

    image_size: int = 64
    channels: int = 3
    latent_dim: int = 64
    width: int = 32  # channels of the last G block / first D block; doubles at each lower resolution
    max_width: int = 256
    num_classes: int = 0  # > 0 makes both networks class-conditional
    class_embed_dim: int = 32
    spectral_norm: bool = True  # in the discriminator

    def __post_init__(self) -> None:
        require_positive_ints(
            self, "image_size", "channels", "latent_dim", "width", "max_width", "class_embed_dim"
        )
        if not isinstance(self.num_classes, int) or self.num_classes < 0:
            raise ConfigError(f"num_classes must be a non-negative integer, got {self.num_classes!r}")
        if upsamplings(self.image_size) < 2:
            raise ConfigError(f"image_size {self.image_size} is too small for fastgan (use 32, 48, 64 ...)")

    def widths(self) -> list[int]:
        """Channels from the base resolution up to the image: e.g. 256, 128, 64, 32."""
        k = upsamplings(self.image_size)
        return [min(self.width * 2 ** (k - i), self.max_width) for i in range(k + 1)]


class UpBlock(nn.Module):
    """2x nearest upsampling, 3x3 conv to twice the channels, batch norm, GLU (halves them again)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, 2 * c_out, 3, 1, 1, bias=False)
        self.norm = nn.BatchNorm2d(2 * c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.glu(self.norm(self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))), dim=1)


class SkipExcitation(nn.Module):
    """SLE: ``high * sigmoid(conv1x1(lrelu(conv4x4(pool4(low)))))``, a per-channel gate from a low
    resolution."""

    def __init__(self, c_low: int, c_high: int) -> None:
        super().__init__()
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(4),
            nn.Conv2d(c_low, c_high, 4, 1, 0, bias=False),
            nn.LeakyReLU(0.1),
            nn.Conv2d(c_high, c_high, 1, 1, 0, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        return high * self.gate(low)


class FastGANGenerator(nn.Module):
    """Latent (+ label) -> image in [-1, 1]; SLE links the 1st to the (k-1)th and the 2nd to the kth block."""

    config_class = FastGANConfig

    def __init__(self, config: FastGANConfig) -> None:
        super().__init__()
        self.config = config
        widths = config.widths()
        k = len(widths) - 1
        in_dim = config.latent_dim
        if config.num_classes:
            self.embed = nn.Embedding(config.num_classes, config.class_embed_dim)
            in_dim += config.class_embed_dim
        base = config.image_size // 2**k
        self.stem = nn.Sequential(
            nn.Linear(in_dim, 2 * widths[0] * base * base, bias=False),
            nn.Unflatten(1, (2 * widths[0], base, base)),
            nn.BatchNorm2d(2 * widths[0]),
            nn.GLU(dim=1),
        )
        self.blocks = nn.ModuleList([UpBlock(widths[i], widths[i + 1]) for i in range(k)])
        # Gates from the stem to block k-2's output, and from block 0's output to block k-1's.
        self.sle = nn.ModuleList(
            [SkipExcitation(widths[0], widths[k - 1]), SkipExcitation(widths[1], widths[k])]
        )
        self.to_image = nn.Sequential(nn.Conv2d(widths[-1], config.channels, 3, 1, 1), nn.Tanh())

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.config.num_classes:
            if y is None:
                raise ValueError("this generator is class-conditional: pass labels y")
            z = torch.cat([z, self.embed(y)], dim=1)
        h = self.stem(z)
        feats = [h]
        k = len(self.blocks)
        for i, block in enumerate(self.blocks):
            h = block(h)
            if i == k - 2:
                h = self.sle[0](feats[0], h)
            elif i == k - 1:
                h = self.sle[1](feats[1], h)
            feats.append(h)
        return self.to_image(h)


class DownBlock(nn.Module):
    """Residual 2x downsampling: (strided 4x4 conv, lrelu, 3x3 conv, lrelu) + (avgpool, 1x1 conv), halved."""

    def __init__(self, c_in: int, c_out: int, sn) -> None:
        super().__init__()
        self.main = nn.Sequential(
            sn(nn.Conv2d(c_in, c_out, 4, 2, 1)),
            nn.LeakyReLU(0.2),
            sn(nn.Conv2d(c_out, c_out, 3, 1, 1)),
            nn.LeakyReLU(0.2),
        )
        self.skip = nn.Sequential(nn.AvgPool2d(2), sn(nn.Conv2d(c_in, c_out, 1, 1, 0)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.main(x) + self.skip(x)) / 2


class FastGANDiscriminator(nn.Module):
    """Image (+ label) -> one logit per image."""

    config_class = FastGANConfig

    def __init__(self, config: FastGANConfig) -> None:
        super().__init__()
        self.config = config
        sn = spectral_norm if config.spectral_norm else (lambda m: m)
        widths = config.widths()[::-1]  # image resolution first
        k = len(widths) - 1
        layers: list[nn.Module] = [
            nn.Sequential(sn(nn.Conv2d(config.channels, widths[0], 3, 1, 1)), nn.LeakyReLU(0.2))
        ]
        layers += [DownBlock(widths[i], widths[i + 1], sn) for i in range(k)]
        self.blocks = nn.Sequential(*layers)
        self.head = sn(nn.Linear(widths[-1], 1))
        if config.num_classes:
            self.embed = sn(nn.Embedding(config.num_classes, widths[-1]))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Globally summed features of the last block (one vector per image)."""
        return F.leaky_relu(self.blocks(x), 0.2).sum(dim=(2, 3))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(x)
        out = self.head(h).squeeze(1)
        if self.config.num_classes:
            if y is None:
                raise ValueError("this discriminator is class-conditional: pass labels y")
            out = out + (self.embed(y) * h).sum(dim=1)
        return out

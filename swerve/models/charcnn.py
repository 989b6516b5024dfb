"""The character-level convolutional GAN of Gulrajani et al. 2017 ("Improved Training of Wasserstein GANs",
section 6, language model).

G maps a latent vector through a linear layer to a ``width`` x L map, residual blocks of two 1-D
convolutions (kernel 5, ReLU before each, residual branch scaled by 0.3), and a 1 x 1 convolution to
``vocab_size`` channels with a softmax over characters at each of the L positions. D reads one-hot strings
(N x V x L) through a 1 x 1 convolution, the same residual blocks and a linear layer to one score. The paper
uses width 512 and five blocks; the defaults here are smaller so the model trains on a CPU. Layers are named
``stem``, ``blocks.0`` ... and ``to_chars`` (G) / ``head`` (D) so bends and taps can address them.

The character VAE (``kind: vae``, ``arch: charcnn``) pairs the same G, as its decoder, with
:class:`CharCNNEncoder` (D's layers ending in the mean and log-variance of q(z|x) instead of one score).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from swerve.errors import require_positive_ints


@dataclass
class CharCNNConfig:
    """One config for both networks of a character-level GAN pair."""

    vocab_size: int = 28
    length: int = 32
    latent_dim: int = 128
    width: int = 128
    blocks: int = 5
    kernel: int = 5

    def __post_init__(self) -> None:
        require_positive_ints(self, *("vocab_size", "length", "latent_dim", "width", "blocks", "kernel"))


class ResBlock1d(nn.Module):
    """x + 0.3 * conv(relu(conv(relu(x)))), 1-D and length-preserving."""

    def __init__(self, width: int, kernel: int) -> None:
        super().__init__()
        pad = kernel // 2
        self.body = nn.Sequential(
            nn.ReLU(),
            nn.Conv1d(width, width, kernel, padding=pad),
            nn.ReLU(),
            nn.Conv1d(width, width, kernel, padding=pad),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.3 * self.body(x)


def _blocks(config: CharCNNConfig) -> nn.Sequential:
    return nn.Sequential(*(ResBlock1d(config.width, config.kernel) for _ in range(config.blocks)))


class CharCNNGenerator(nn.Module):
    """Latent -> N x V x L softmax scores over characters (argmax decodes a string)."""

    config_class = CharCNNConfig

    def __init__(self, config: CharCNNConfig) -> None:
        super().__init__()
        self.config = config
        self.stem = nn.Linear(config.latent_dim, config.width * config.length)
        self.blocks = _blocks(config)
        self.to_chars = nn.Conv1d(config.width, config.vocab_size, 1)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        c = self.config
        h = self.stem(z).view(len(z), c.width, c.length)
        return torch.softmax(self.to_chars(self.blocks(h)), dim=1)


class _CharReader(nn.Module):
    """N x V x L strings -> N x ``outputs``: a 1x1 conv into the residual blocks, then one linear head."""

    config_class = CharCNNConfig

    def __init__(self, config: CharCNNConfig, outputs: int) -> None:
        super().__init__()
        self.config = config
        self.stem = nn.Conv1d(config.vocab_size, config.width, 1)
        self.blocks = _blocks(config)
        self.head = nn.Linear(config.width * config.length, outputs)

    def read(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)).flatten(1))


class CharCNNDiscriminator(_CharReader):
    """N x V x L one-hot (or softmax) strings -> N scores (a WGAN critic)."""

    def __init__(self, config: CharCNNConfig) -> None:
        super().__init__(config, 1)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.read(x).squeeze(1)


class CharCNNEncoder(_CharReader):
    """N x V x L one-hot strings -> (mu, logvar) of q(z|x), each N x ``latent_dim`` (a character VAE)."""

    def __init__(self, config: CharCNNConfig) -> None:
        super().__init__(config, 2 * config.latent_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.read(x).chunk(2, dim=1)
        return mu, logvar.clamp(-10, 10)

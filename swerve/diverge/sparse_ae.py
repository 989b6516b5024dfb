"""A winner-take-all sparse convolutional autoencoder (Makhzani & Frey, "Winner-take-all autoencoders",
NIPS 2015), the model behind *Digits that are not* (Kazakçı, Cherti & Kégl, ICCC 2016).

The encoder is a stack of 'same' convolutions with ReLU; its last feature maps are made *spatially sparse*:
in every map of every image only the single largest activation survives. The decoder is one wide linear
convolution (11×11 by default) that paints a learned stroke wherever a code unit fired, then tanh to [-1, 1].
Such a code can only describe an image as a handful of strokes, which is what makes iterating the
autoencoder from noise settle on new, stroke-built forms (digits_not.py).

Trained by the ordinary :class:`~swerve.train.Trainer` as ``kind="sparse-ae"`` on the mean squared
reconstruction error; ``width`` and ``depth`` of the TrainConfig set the code channels and encoder layers, and
``params={"binarize": true}`` trains on black-and-white images (pixel > mid-grey is white), the kind of image
the fixed-point iteration feeds it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from swerve.errors import ConfigError, require_positive_ints
from swerve.train.config import TrainConfig
from swerve.train.tasks import Batch, Task, _adam


@dataclass
class SparseAEConfig:
    image_size: int = 28
    channels: int = 1
    width: int = 32  # channels of every encoder layer (the code has this many maps)
    depth: int = 2  # encoder convolutions
    kernel: int = 5
    decoder_kernel: int = 11

    def __post_init__(self) -> None:
        require_positive_ints(self, "image_size", "channels", "width", "depth", "kernel", "decoder_kernel")
        if self.kernel % 2 == 0 or self.decoder_kernel % 2 == 0:
            raise ConfigError("kernel and decoder_kernel must be odd (so convolutions keep the image size)")


def spatial_winner_take_all(h: torch.Tensor) -> torch.Tensor:
    """Keep, in every feature map of every sample, only its largest activation (ties: all maxima)."""
    top = h.flatten(2).max(dim=2).values[..., None, None]
    return h * (h >= top)


class WTAAutoencoder(nn.Module):
    """Image in [-1, 1] -> spatially sparse code -> image in [-1, 1]. Layers: ``encoder.i``, ``decoder``."""

    config_class = SparseAEConfig

    def __init__(self, config: SparseAEConfig) -> None:
        super().__init__()
        self.config = config
        pad = config.kernel // 2
        layers: list[nn.Module] = []
        for i in range(config.depth):
            c_in = config.channels if i == 0 else config.width
            layers.append(nn.Sequential(nn.Conv2d(c_in, config.width, config.kernel, 1, pad), nn.ReLU()))
        self.encoder = nn.Sequential(*layers)
        k = config.decoder_kernel
        self.decoder = nn.Conv2d(config.width, config.channels, k, 1, k // 2)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return spatial_winner_take_all(self.encoder(x))

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.decoder(code))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


class SparseAETask(Task):
    """Reconstruction training of a :class:`WTAAutoencoder`; the bundle keeps it as ``autoencoder``."""

    def __init__(self, config: TrainConfig, shape: list[int], num_classes: int, device: torch.device) -> None:
        if len(shape) != 3:
            raise ConfigError("a sparse autoencoder models images; this dataset holds points")
        self.params = config.method_params({"binarize": False})
        cfg = SparseAEConfig(image_size=shape[-1], channels=shape[0], width=config.width, depth=config.depth)
        self.ae = WTAAutoencoder(cfg).to(device)
        self.networks = {"autoencoder": self.ae}
        self.optimizers = {"autoencoder": _adam(self.ae.parameters(), config.lr_g, config.betas)}
        self.latent = None

    def step(
        self, next_batch: Callable[[], Batch], gen: torch.Generator, step: int
    ) -> dict[str, torch.Tensor]:
        x, _ = next_batch()
        if self.params["binarize"]:  # train on black-and-white images, as the iteration will feed it
            x = torch.where(x > 0, 1.0, -1.0)
        loss = F.mse_loss(self.ae(x), x)
        self.optimizers["autoencoder"].zero_grad(set_to_none=True)
        loss.backward()
        self.optimizers["autoencoder"].step()
        return {"loss": loss.detach()}

    def export(self) -> dict[str, nn.Module]:
        return {"autoencoder": self.ae}

"""Training pix2pix (Isola et al. 2017): pairs made on the fly by a registered transform (swerve.data.pairs),
a U-Net G and a PatchGAN D; loss: adversarial (logistic, D's halved as in the paper) + ``l1_weight`` x L1.

Settings (``params`` of a ``kind: pix2pix`` config): ``transform`` (edges (the default), lineart, grey, blur,
downsample; ``paired`` for a ``pairs:PATH`` data set, which carries its inputs),
``l1_weight`` (100), ``adversarial`` (true; false trains the L1-only U-Net, the paper's ablation), ``depth``,
``max_width``,
``d_layers``, ``dropout`` (see :class:`swerve.models.pix2pix.Pix2PixConfig`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from swerve.data.pairs import pair_transform
from swerve.errors import ConfigError
from swerve.models.pix2pix import PatchDiscriminator, Pix2PixConfig, UNetGenerator
from swerve.train.config import TrainConfig
from swerve.train.objectives import discriminator_loss, generator_loss
from swerve.train.tasks import Batch, Task

DEFAULTS = {
    "transform": None,
    "l1_weight": 100.0,
    "adversarial": True,
    "depth": 0,
    "max_width": 256,
    "d_layers": 2,
    "dropout": 0.5,
}


class Pix2PixTask(Task):
    """One D step on (input, target) against (input, G(input)), then one G step; no latent."""

    def __init__(self, config: TrainConfig, shape: list[int], num_classes: int, device: torch.device) -> None:
        self.config = config
        p = config.method_params(DEFAULTS)
        if len(shape) != 3 or shape[1] != shape[2]:
            raise ConfigError(f"pix2pix translates square pictures, not samples of shape {shape}")
        if not isinstance(p["adversarial"], bool):
            raise ConfigError(f"adversarial must be true or false, got {p['adversarial']!r}")
        if not isinstance(p["l1_weight"], int | float) or p["l1_weight"] < 0:
            raise ConfigError(f"l1_weight must be a non-negative number, got {p['l1_weight']!r}")
        self.paired = config.dataset.startswith("pairs:")
        if self.paired and p["transform"] not in (None, "paired"):
            raise ConfigError("a pairs: data set carries its own inputs; leave the transform out")
        p["transform"] = p["transform"] or ("paired" if self.paired else "edges")
        if not self.paired and p["transform"] == "paired":
            raise ConfigError(
                "transform 'paired' needs a pairs:PATH data set (PATH/A inputs, PATH/B targets)"
            )
        self.params = p
        self.transform = pair_transform(str(p["transform"]))
        if self.paired:
            shape = [shape[0] // 2, *shape[1:]]
        self.data_shape = list(shape)
        cfg = Pix2PixConfig(
            image_size=shape[-1],
            in_channels=self.transform.in_channels(shape[0]),
            channels=shape[0],
            width=config.width,
            depth=p["depth"],
            max_width=p["max_width"],
            dropout=float(p["dropout"]),
            d_layers=p["d_layers"],
        )
        self.g = UNetGenerator(cfg).to(device)
        self.d = PatchDiscriminator(cfg).to(device)
        betas = (config.betas[0], config.betas[1])
        self.networks = {"generator": self.g, "discriminator": self.d}
        self.optimizers = {"generator": torch.optim.Adam(self.g.parameters(), lr=config.lr_g, betas=betas)}
        if p["adversarial"]:
            self.optimizers["discriminator"] = torch.optim.Adam(
                self.d.parameters(), lr=config.lr_d, betas=betas
            )
        self.latent = None

    def step(
        self, next_batch: Callable[[], Batch], gen: torch.Generator, step: int
    ) -> dict[str, torch.Tensor]:
        x, _ = next_batch()
        if self.paired:  # target channels first, then the input's (swerve.data.pairs.load_pairs)
            c = self.data_shape[0]
            target, source = x[:, :c], x[:, c:]
        else:
            target = x
            with torch.no_grad():
                source = self.transform.fn(target)
        fake = self.g(source)
        l1 = F.l1_loss(fake, target)
        stats = {"l1": l1.detach()}
        if not self.params["adversarial"]:
            self.update("generator", float(self.params["l1_weight"]) * l1)
            return stats
        loss_d = 0.5 * discriminator_loss("ns", self.d(source, target), self.d(source, fake.detach()))
        self.update("discriminator", loss_d)
        adv = generator_loss("ns", self.d(source, fake))
        self.update("generator", adv + float(self.params["l1_weight"]) * l1)
        stats.update(loss_d=loss_d.detach(), loss_g=adv.detach())
        return stats

    def export(self) -> dict[str, nn.Module]:
        nets = {"generator": self.g}
        if self.params["adversarial"]:
            nets["discriminator"] = self.d
        return nets

    def bundle_extra(self) -> dict:
        """What the bundle must say: it translates pictures, and which transform made its inputs."""
        return {"translation": {"transform": self.transform.name, "in_channels": self.g.config.in_channels}}

"""Fine-tuning steps as trainer tasks (see swerve.train.tasks): the trainer around them is the one every
swerve model is trained with, so fine-tuning gets its seeding, progress, checkpoints, resume and Ctrl-C.

- :class:`GeneratorTask` moves only G against a loss on its own samples (loss hacking, external knowledge).
  G runs in eval mode, so it is optimised as users sample it and BatchNorm statistics stay put.
- :class:`NadaTask` adds the frozen copy G0 and adaptive layer freezing (StyleGAN-NADA).
- :class:`ContinueGANTask` continues adversarial training of a bundle's G and D on new data (cross-domain
  training, continual domain shift), with the GAN step of :class:`swerve.train.tasks.GANTask`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn

from swerve.bundle import Bundle
from swerve.diverge.finetune.guidance import Loss
from swerve.diverge.finetune.layers import freeze_layers, layer_units
from swerve.diverge.finetune.nada import global_loss, rank_layers
from swerve.train.config import TrainConfig
from swerve.train.tasks import Batch, GANTask, Task, setup_augment


def _adam(params, lr: float, betas: list[float]) -> torch.optim.Adam:
    return torch.optim.Adam(params, lr=lr, betas=(betas[0], betas[1]))


class GeneratorTask(Task):
    """One step: draw latents (and labels), generate, minimise ``loss(x, y)`` over G's unfrozen weights."""

    def __init__(
        self,
        bundle: Bundle,
        loss: Loss,
        lr: float,
        betas: list[float],
        batch_size: int,
        freeze: list[str],
        device: torch.device,
    ) -> None:
        self.g = copy.deepcopy(bundle.generator).to(device).eval()
        self.g.requires_grad_(True)
        freeze_layers(self.g, freeze)
        self.loss = loss
        self.batch_size = batch_size
        self.num_classes = bundle.num_classes
        self.latent_spec = bundle.latent
        self.networks = {"generator": self.g}
        trainable = [p for p in self.g.parameters() if p.requires_grad]
        self.optimizers = {"generator": _adam(trainable, lr, betas)}
        self.latent = None  # the trail draws the pictures, not the trainer's preview

    def _inputs(self, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
        device = next(self.g.parameters()).device
        z = self.latent_spec.sample(self.batch_size, gen, device)
        y = None
        if self.num_classes:
            y = torch.randint(self.num_classes, (self.batch_size,), generator=gen, device=gen.device).to(
                device
            )
        return z, y

    def _gen(self, g: nn.Module, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return g(z, y) if y is not None else g(z)

    def step(
        self, next_batch: Callable[[], Batch], gen: torch.Generator, step: int
    ) -> dict[str, torch.Tensor]:
        z, y = self._inputs(gen)
        loss, stats = self.loss(self._gen(self.g, z, y), y)
        self.optimizers["generator"].zero_grad(set_to_none=True)
        loss.backward()
        self.optimizers["generator"].step()
        return {"loss": loss.detach(), **stats}

    def export(self) -> dict[str, nn.Module]:
        return {"generator": self.g}


class NadaTask(GeneratorTask):
    """NADA: G and the frozen G0 on the same latents; ``loss(x, x0)``; optionally only the top-k layers."""

    def __init__(
        self, bundle: Bundle, loss: Callable, clip: nn.Module, adaptive_layers: int, **kwargs
    ) -> None:
        super().__init__(bundle, loss, **kwargs)
        self.g0 = copy.deepcopy(bundle.generator).to(next(self.g.parameters()).device).eval()
        self.g0.requires_grad_(False)
        self.clip = clip
        self.k = adaptive_layers
        self.units = layer_units(self.g)

    def step(
        self, next_batch: Callable[[], Batch], gen: torch.Generator, step: int
    ) -> dict[str, torch.Tensor]:
        z, y = self._inputs(gen)
        chosen = self.units
        if 0 < self.k < len(self.units):
            glob = global_loss(self.clip.encode_image(self._gen(self.g, z, y)), self.loss.text).mean()
            chosen = rank_layers(self.g, self.units, glob, self.k)
        with torch.no_grad():
            x0 = self._gen(self.g0, z, y)
        loss, stats = self.loss(self._gen(self.g, z, y), x0)
        self.optimizers["generator"].zero_grad(set_to_none=True)
        loss.backward()
        if chosen is not self.units:  # weights without a gradient are left alone by Adam this step
            modules = dict(self.g.named_modules())
            for unit in set(self.units) - set(chosen):
                for p in modules[unit].parameters():
                    p.grad = None
        self.optimizers["generator"].step()
        return {"loss": loss.detach(), **stats}


class ContinueGANTask(GANTask):
    """GAN training that starts from a bundle's G and D instead of new networks (same step as GANTask)."""

    def __init__(self, config: TrainConfig, bundle: Bundle, freeze: list[str], device: torch.device) -> None:
        self.config = config
        self.g = copy.deepcopy(bundle.generator).to(device).train().requires_grad_(True)
        self.d = copy.deepcopy(bundle.discriminator).to(device).train().requires_grad_(True)
        freeze_layers(self.g, freeze)
        for name in freeze:  # eval mode: a frozen layer's BatchNorm statistics stay put as well
            dict(self.g.named_modules())[name].eval()
        self.conditional = bundle.num_classes > 0
        self.vocab_size = bundle.data.shape[0] if bundle.extra.get("vocab") else 0
        self.networks = {"generator": self.g, "discriminator": self.d}
        if config.ema > 0:
            self.g_ema = copy.deepcopy(self.g).eval().requires_grad_(False)
            self.networks["generator_ema"] = self.g_ema
        self.optimizers = {
            "generator": _adam(
                [p for p in self.g.parameters() if p.requires_grad], config.lr_g, config.betas
            ),
            "discriminator": _adam(self.d.parameters(), config.lr_d, config.betas),
        }
        self.latent = bundle.latent
        setup_augment(self, config, device)  # the augmentation the model was trained with (DiffAugment ...)

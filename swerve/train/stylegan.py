"""StyleGAN2 training (Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN") with the
plain-torch networks of swerve.models.stylegan2, on the same trainer as every other GAN.

What differs from the DCGAN step: style mixing (a share of generated images takes its fine styles from a
second latent), random per-pixel noise while training, the tracked average w (for truncation), and optional
lazy path-length regularisation of G. The non-saturating loss, lazy R1, DiffAugment/ADA and the EMA (ramped
up, see tasks.ema_decay) come from GANTask and the config (``objective: ns``, ``r1_gamma``, ``augment``).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from swerve.models.stylegan2 import StyleGAN2Config, StyleGAN2Discriminator, StyleGAN2Generator
from swerve.train.config import TrainConfig
from swerve.train.tasks import GANTask

W_AVG_BETA = 0.995  # the reference's decay of the tracked average w
PL_DECAY = 0.01  # decay of the running mean path length


def stylegan2_config(config: TrainConfig, shape: list[int], k: int) -> StyleGAN2Config:
    """The StyleGAN2Config of a training config: ``width`` channels at the output resolution, doubling
    towards 4x4 up to ``max_width``; ``depth`` mapping layers; latent and w sizes ``latent_dim``."""
    res = shape[-1]
    return StyleGAN2Config(
        resolution=res,
        channels=shape[0],
        z_dim=config.latent_dim,
        w_dim=config.latent_dim,
        c_dim=k,
        mapping_layers=config.depth,
        channel_base=config.width * res,
        channel_max=config.max_width,
    )


class StyleGAN2Task(GANTask):
    """GANTask with StyleGAN2's networks, style mixing and path-length regularisation."""

    def __init__(self, config: TrainConfig, shape: list[int], num_classes: int, device: torch.device) -> None:
        super().__init__(config, shape, num_classes, device)
        self.pl_mean = torch.zeros((), device=device)
        if config.pl_weight > 0:
            holder = nn.Module()
            holder.register_buffer("pl_mean", self.pl_mean)
            self.networks["path_length"] = holder  # trainer state, restored by checkpoints

    def build_networks(self, config: TrainConfig, shape: list[int], k: int) -> tuple[nn.Module, nn.Module]:
        sc = stylegan2_config(config, shape, k)
        return StyleGAN2Generator(sc), StyleGAN2Discriminator(sc)

    def _ws(self, z: torch.Tensor, y: torch.Tensor | None, gen: torch.Generator | None) -> torch.Tensor:
        """Latents -> ws, with style mixing on a ``style_mixing`` share of the batch when ``gen`` is given;
        the tracked w_avg follows the training mapping's outputs."""
        g = self.g
        ws = g.mapping(z, y)
        if self.g.training:
            with torch.no_grad():
                g.mapping.w_avg.lerp_(ws[:, 0].mean(0).detach(), 1 - W_AVG_BETA)
        if gen is not None and self.config.style_mixing > 0:
            n, num_ws = len(z), ws.shape[1]
            cut = torch.randint(1, num_ws, (n,), generator=gen, device=gen.device).to(ws.device)
            mix = torch.rand((n,), generator=gen, device=gen.device).to(ws.device) < self.config.style_mixing
            cut = torch.where(mix, cut, torch.full_like(cut, num_ws))
            z2 = self.latent.sample(n, gen, z.device)
            ws2 = g.mapping(z2, y)
            later = torch.arange(num_ws, device=ws.device).view(1, -1, 1) >= cut.view(-1, 1, 1)
            ws = torch.where(later, ws2, ws)
        return ws

    def _gen(
        self, z: torch.Tensor, y: torch.Tensor | None, gen: torch.Generator | None = None
    ) -> torch.Tensor:
        return self.g.synthesis(self._ws(z, y, gen), noise_mode="random")

    def regularize_generator(
        self, gen: torch.Generator, step: int, real_y: torch.Tensor | None
    ) -> dict[str, torch.Tensor]:
        """Lazy path-length regularisation: every ``pl_every`` steps, penalise the deviation of
        ||J_w^T y|| (y: image-space Gaussian noise) from its running mean, scaled by ``pl_every``."""
        cfg = self.config
        if cfg.pl_weight <= 0 or step % cfg.pl_every != 0:
            return {}
        n = max(1, cfg.batch_size // self.shard.world // 2)
        y = self._fake_labels(n, gen, real_y[:n] if real_y is not None else None)
        ws = self._ws(self._z(n, gen, self.pl_mean.device), y, gen)
        img = self.g.synthesis(ws, noise_mode="random")
        noise = torch.randn(img.shape, generator=gen, device=gen.device).to(img) / math.sqrt(
            img.shape[2] * img.shape[3]
        )
        (grad,) = torch.autograd.grad((img * noise).sum(), ws, create_graph=True)
        lengths = grad.square().sum(2).mean(1).sqrt()
        with torch.no_grad():
            self.pl_mean.lerp_(lengths.mean(), PL_DECAY)
        penalty = (lengths - self.pl_mean).square().mean()
        self.update("generator", penalty * cfg.pl_weight * cfg.pl_every)
        return {"path_length": lengths.detach().mean()}

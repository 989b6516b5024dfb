"""Training without data (Broad & Grierson 2019, "Searching for an (un)stable equilibrium").

Two generators and one discriminator, and no data set at all: G2's output plays the part of the data. D learns
to tell G1 (fake) from G2 ("real"); G1 tries to be taken for G2; G2 tries to be told apart from G1, that is,
it plays on D's side (the thesis writes min over G1, max over G2 and D). The adversarial game alone collapses
both generators to flat images, so each generator is also rewarded for having *more mini-batch variance than
the other*: G_i minimises −w · (var(G_i) − var(G_j)), the other's variance held fixed. Variance is each
pixel's variance over the batch, per colour channel, averaged (:func:`batch_variance`).

Variants replace the adversarial term by a distance between D's embeddings (``features``) of G1(z) and G2(z)
for the same z: G1 minimises it, G2 and D maximise it. ``cosine`` is 1 − cosine similarity; ``euclidean`` is
the root-mean-square difference of the layer-normalised embeddings, which keeps D from winning by scaling
its features up. Reference re-run settings (:func:`nodata_config`): Adam lr 0.01, betas (0, 0.99), batch 10,
1500 steps.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from swerve.bundle import Bundle, LatentSpec
from swerve.data import Dataset
from swerve.errors import ConfigError
from swerve.models import DCGANConfig, DCGANDiscriminator, DCGANGenerator
from swerve.train import TrainConfig, Trainer
from swerve.train.tasks import Batch, Task, _adam

VARIANTS = ("adversarial", "cosine", "euclidean")
DEFAULTS: dict[str, Any] = {"variance_weight": 1.0, "variant": "adversarial"}


def batch_variance(x: torch.Tensor) -> torch.Tensor:
    """Mini-batch variance of images (N, C, H, W): each pixel's variance over the batch, in every colour
    channel, averaged. Zero when every sample is the same image, whatever that image looks like."""
    return x.var(dim=0).mean()


def embedding_distance(a: torch.Tensor, b: torch.Tensor, variant: str) -> torch.Tensor:
    """Mean distance between two batches of embeddings (N, D): cosine or Euclidean (see the module doc)."""
    if variant == "cosine":
        return (1 - F.cosine_similarity(a, b, dim=1)).mean()
    if variant == "euclidean":
        d = a.shape[1]
        return (F.layer_norm(a, (d,)) - F.layer_norm(b, (d,))).pow(2).mean(1).add(1e-12).sqrt().mean()
    raise ConfigError(f"variant must be one of {', '.join(VARIANTS)}; got {variant!r}")


class NoDataTask(Task):
    """One step: a D step, then both generators against it (see the module docstring for who wants what)."""

    def __init__(self, config: TrainConfig, shape: list[int], num_classes: int, device: torch.device) -> None:
        if config.arch != "dcgan" or len(shape) != 3:
            raise ConfigError("training without data makes images: use arch 'dcgan'")
        self.config = config
        self.params = config.method_params(DEFAULTS)
        if self.params["variant"] not in VARIANTS:
            raise ConfigError(f"variant must be one of {', '.join(VARIANTS)}; got {self.params['variant']!r}")
        weight = self.params["variance_weight"]
        if not isinstance(weight, int | float) or weight < 0:
            raise ConfigError(f"variance_weight must be a number >= 0, got {weight!r}")
        dc = dict(image_size=shape[-1], channels=shape[0], latent_dim=config.latent_dim)
        self.g1 = DCGANGenerator(DCGANConfig(**dc, width=config.width)).to(device)
        self.g2 = DCGANGenerator(DCGANConfig(**dc, width=config.width)).to(device)
        self.d = DCGANDiscriminator(DCGANConfig(**dc, width=config.d_width or config.width)).to(device)
        self.networks = {"generator": self.g1, "generator_b": self.g2, "discriminator": self.d}
        self.optimizers = {
            name: _adam(
                net.parameters(), config.lr_d if name == "discriminator" else config.lr_g, config.betas
            )
            for name, net in self.networks.items()
        }
        self.latent = LatentSpec(config.latent_dim, config.latent_distribution)

    def step(
        self, next_batch: Callable[[], Batch], gen: torch.Generator, step: int
    ) -> dict[str, torch.Tensor]:
        n, variant = self.config.batch_size, self.params["variant"]
        device = next(self.d.parameters()).device
        z = self.latent.sample(n, gen, device)
        z2 = z if variant != "adversarial" else self.latent.sample(n, gen, device)
        # D: G2 is "real", G1 is "fake" (or, for the distance variants, D pulls their embeddings apart).
        with torch.no_grad():
            x1, x2 = self.g1(z), self.g2(z2)
        if variant == "adversarial":
            loss_d = F.softplus(-self.d(x2)).mean() + F.softplus(self.d(x1)).mean()
        else:
            loss_d = -embedding_distance(self.d.features(x1), self.d.features(x2), variant)
        self.optimizers["discriminator"].zero_grad(set_to_none=True)
        loss_d.backward()
        self.optimizers["discriminator"].step()
        # G1 and G2, each against the other's output held fixed.
        x1, x2 = self.g1(z), self.g2(z2)
        if variant == "adversarial":
            adv1 = F.softplus(-self.d(x1)).mean()  # G1 wants D to take it for G2
            adv2 = F.softplus(-self.d(x2)).mean()  # G2 wants D to tell it apart from G1
        else:
            f1, f2 = self.d.features(x1), self.d.features(x2)
            adv1 = embedding_distance(f1, f2.detach(), variant)
            adv2 = -embedding_distance(f1.detach(), f2, variant)
        v1, v2 = batch_variance(x1), batch_variance(x2)
        w = self.params["variance_weight"]
        loss1 = adv1 - w * (v1 - v2.detach())  # more variance than the other: a reward, hence the minus
        loss2 = adv2 - w * (v2 - v1.detach())
        for name in ("generator", "generator_b"):
            self.optimizers[name].zero_grad(set_to_none=True)
        (loss1 + loss2).backward()
        self.optimizers["generator"].step()
        self.optimizers["generator_b"].step()
        return {
            "loss_d": loss_d.detach(),
            "loss_g1": loss1.detach(),
            "loss_g2": loss2.detach(),
            "var_g1": v1.detach(),
            "var_g2": v2.detach(),
        }

    def export(self) -> dict[str, nn.Module]:
        return dict(self.networks)

    @torch.no_grad()
    def preview(self, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        was = self.g1.training
        self.g1.eval()
        out = self.g1(z)
        self.g1.train(was)
        return out


def nodata_config(**overrides: Any) -> TrainConfig:
    """The reference re-run's settings (Adam lr 0.01, betas (0, 0.99), batch 10, 1500 steps), overridable."""
    values: dict[str, Any] = dict(
        name="nodata",
        kind="nodata",
        dataset="none",
        image_size=28,
        channels=1,
        latent_dim=64,
        width=32,
        lr_g=0.01,
        lr_d=0.01,
        betas=[0.0, 0.99],
        batch_size=10,
        steps=1500,
        ema=0.0,
        log_every=50,
        sample_every=500,
        checkpoint_every=250,
        params=dict(DEFAULTS),
    )
    values.update(overrides)
    return TrainConfig(**values)


def blank_data(config: TrainConfig) -> Dataset:
    """The stand-in the trainer is given: no images, only their shape (never read by the task)."""
    if config.image_size is None:
        raise ConfigError("training without data needs image_size (there are no images to take it from)")
    shape = (config.batch_size, config.channels or 1, config.image_size, config.image_size)
    return Dataset(torch.zeros(shape), None, [], "none")


def train_without_data(
    config: TrainConfig, run_dir: str | Path, resume: bool = False, progress: bool = True
) -> Bundle:
    """Train G1, G2 and D of a ``kind="nodata"`` config (see :func:`nodata_config`) in ``run_dir``.

    Resumable (``resume=True`` continues from the last checkpoint) and Ctrl-C safe, as any trainer run. The
    bundle's generator is G1, ``generator_b`` is G2; the history records the method and its settings.
    """
    if config.kind != "nodata":
        raise ConfigError(f"train_without_data needs a config of kind 'nodata', got {config.kind!r}")
    trainer = Trainer(config, run_dir, resume=resume, data=blank_data(config), progress=progress)
    result = trainer.fit()
    bundle = trainer.export()
    bundle.record("diverge-nodata", steps=result.step, seed=config.seed, **config.method_params(DEFAULTS))
    bundle.training["interrupted"] = result.interrupted
    bundle.save(Path(run_dir) / "bundle")
    return bundle

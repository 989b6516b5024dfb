"""What one training step does, per kind of model: GAN, VAE, classifier.

A task owns its networks and optimisers and knows how to take one step from a batch source; the trainer
around it (trainer.py) owns the loop, the data order, checkpoints and logging. Keeping the GAN step explicit
here (D steps, then a G step) is what lets divergence methods reuse or replace it.
"""

from __future__ import annotations

import copy
import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from swerve.bundle import LatentSpec
from swerve.data.text import one_hot
from swerve.models import (
    CharCNNConfig,
    CharCNNDiscriminator,
    CharCNNEncoder,
    CharCNNGenerator,
    ClassifierConfig,
    ConvEncoder,
    DCGANConfig,
    DCGANDiscriminator,
    DCGANGenerator,
    DomainClassifier,
    EncoderConfig,
    FastGANConfig,
    FastGANDiscriminator,
    FastGANGenerator,
    MLPConfig,
    MLPDiscriminator,
    MLPGenerator,
)
from swerve.train.augment import AdaptiveAugment, Augmenter
from swerve.train.config import TrainConfig
from swerve.train.distributed import Shard
from swerve.train.objectives import (
    char_vae_loss,
    discriminator_loss,
    generator_loss,
    gradient_penalty,
    r1_penalty,
    vae_loss,
)

Batch = tuple[torch.Tensor, torch.Tensor | None]


class Task(ABC):
    """Base: ``networks`` (all trained state), ``optimizers``, one ``step`` and the networks to export."""

    networks: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]
    latent: LatentSpec | None = None
    batches_per_step: int = 1  # data batches one step draws (the trainer needs it to resume the data order)
    shard: Shard = Shard()  # set by the trainer in a data-parallel run (see distributed.py)

    @abstractmethod
    def step(
        self, next_batch: Callable[[], Batch], gen: torch.Generator, step: int
    ) -> dict[str, torch.Tensor]:
        """Take training step number ``step`` (counting from 0), drawing data from ``next_batch``."""

    @abstractmethod
    def export(self) -> dict[str, nn.Module]:
        """The networks a bundle keeps, by role."""

    def preview(self, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor | None:
        """Samples on fixed latents for the run's progress grids (None when the task makes none)."""
        return None

    def update(self, name: str, loss: torch.Tensor) -> None:
        """Backpropagate ``loss`` and step optimiser ``name``, averaging gradients over processes first."""
        opt = self.optimizers[name]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        self.shard.average_gradients(opt)
        opt.step()

    def draw(self, sample: Callable[[int], torch.Tensor], n: int) -> torch.Tensor:
        """This process's rows of ``sample(world * n)``: random draws are made for the global batch, so a
        data-parallel run draws exactly what the single-process run draws."""
        return self.shard.take(sample(self.shard.world * n))


def _uniform(m: int, ones: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
    return torch.rand((m, *ones), generator=gen, device=gen.device)


def _adam(params, lr: float, betas: list[float]) -> torch.optim.Adam:
    return torch.optim.Adam(params, lr=lr, betas=(betas[0], betas[1]))


def setup_adversarial(
    task: Task, config: TrainConfig, g: nn.Module, d: nn.Module, device: torch.device
) -> None:
    """Give an adversarial task its G and D, the EMA copy of G if asked for, their optimisers and latents."""
    task.g, task.d = g.to(device), d.to(device)
    task.networks = {"generator": task.g, "discriminator": task.d}
    if config.ema > 0:
        task.g_ema = copy.deepcopy(task.g).eval().requires_grad_(False)
        task.networks["generator_ema"] = task.g_ema
    task.optimizers = {
        "generator": _adam(task.g.parameters(), config.lr_g, config.betas),
        "discriminator": _adam(task.d.parameters(), config.lr_d, config.betas),
    }
    task.latent = LatentSpec(config.latent_dim, config.latent_distribution)


class AdversarialTask(Task):
    """What every G-and-D task shares: it exports G (its EMA copy when there is one) with D, and previews
    with that G in eval mode. Subclasses set up their networks with :func:`setup_adversarial`."""

    conditional = False  # whether G reads class labels

    def export(self) -> dict[str, nn.Module]:
        return {"generator": self.networks.get("generator_ema", self.g), "discriminator": self.d}

    @torch.no_grad()
    def preview(self, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        g = self.export()["generator"]
        was = g.training
        g.eval()
        out = g(z, y) if self.conditional else g(z)
        g.train(was)
        return out


def setup_augment(task: Task, config: TrainConfig, device: torch.device) -> None:
    """Give a GAN task the augmentation its config asks for; ADA's state joins the task's networks, so
    checkpoints restore its probability exactly."""
    ada = None
    if config.augment == "ada":
        ada = AdaptiveAugment(config.augment_policy, config.ada_target, config.ada_interval, config.ada_kimg)
        task.networks["augment"] = ada.to(device)
    task.augment = Augmenter(config.augment, config.augment_policy, ada)


class GANTask(AdversarialTask):
    """Adversarial training: ``n_critic`` discriminator steps, then one generator step, then the EMA.

    For small data sets, every image D sees (real or generated) can pass through DiffAugment or ADA
    (augment.py), and D can be regularised by lazy R1 (every ``r1_every`` steps, scaled by ``r1_every``, as
    in StyleGAN2)."""

    augment = Augmenter("", "color")  # none; set by setup_augment (subclasses with their own setup get none)
    vocab_size = 0  # text (arch charcnn): real batches of character indices become one-hot strings

    def __init__(self, config: TrainConfig, shape: list[int], num_classes: int, device: torch.device) -> None:
        self.config = config
        k = num_classes if config.conditional else 0
        g, d = self.build_networks(config, shape, k)
        self.conditional = k > 0
        self.vocab_size = shape[0] if config.arch == "charcnn" else 0
        self.batches_per_step = config.n_critic
        setup_adversarial(self, config, g, d, device)
        setup_augment(self, config, device)

    def build_networks(self, config: TrainConfig, shape: list[int], k: int) -> tuple[nn.Module, nn.Module]:
        """G and D of the config's architecture for samples of ``shape`` and ``k`` classes."""
        if config.arch == "mlp":
            g = MLPGenerator(MLPConfig(config.latent_dim, shape[0], config.width, config.depth))
            d = MLPDiscriminator(MLPConfig(shape[0], 1, config.d_width or 2 * config.width, config.depth))
            return g, d
        if config.arch == "charcnn":  # text: shape is vocabulary size x length
            cc = dict(vocab_size=shape[0], length=shape[1], latent_dim=config.latent_dim, blocks=config.depth)
            g = CharCNNGenerator(CharCNNConfig(**cc, width=config.width))
            d = CharCNNDiscriminator(CharCNNConfig(**cc, width=config.d_width or config.width))
            return g, d
        dc = dict(image_size=shape[-1], channels=shape[0], latent_dim=config.latent_dim, num_classes=k)
        if config.arch == "fastgan":
            g = FastGANGenerator(FastGANConfig(**dc, width=config.width, max_width=config.max_width))
            d_width = config.d_width or config.width
            d = FastGANDiscriminator(
                FastGANConfig(
                    **dc, width=d_width, max_width=config.max_width, spectral_norm=config.spectral_norm
                )
            )
            return g, d
        g = DCGANGenerator(DCGANConfig(**dc, width=config.width))
        d = DCGANDiscriminator(
            DCGANConfig(**dc, width=config.d_width or config.width, spectral_norm=config.spectral_norm)
        )
        return g, d

    def _z(self, n: int, gen: torch.Generator, device: torch.device) -> torch.Tensor:
        return self.draw(lambda m: self.latent.sample(m, gen, device), n)

    def _fake_labels(self, n: int, gen: torch.Generator, real_y: torch.Tensor | None) -> torch.Tensor | None:
        if not self.conditional:
            return None
        # Fake labels follow the real batch's class frequencies (shuffled), so a class subset stays a subset.
        all_y = self.shard.gather(real_y)

        def shuffled(m: int) -> torch.Tensor:
            return all_y[torch.randperm(m, generator=gen, device=gen.device).to(all_y.device)]

        return self.draw(shuffled, n)

    def _gen(
        self, z: torch.Tensor, y: torch.Tensor | None, gen: torch.Generator | None = None
    ) -> torch.Tensor:
        return self.g(z, y) if self.conditional else self.g(z)

    def _critic(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return self.d(x, y) if self.conditional else self.d(x)

    def _seen(self, x: torch.Tensor, y: torch.Tensor | None, gen: torch.Generator) -> torch.Tensor:
        """D's logits on ``x`` as D sees it: augmented when the config asks for it."""
        return self._critic(self.augment(x, gen), y)

    def step(
        self, next_batch: Callable[[], Batch], gen: torch.Generator, step: int
    ) -> dict[str, torch.Tensor]:
        cfg = self.config
        stats: dict[str, torch.Tensor] = {}
        r1_due = cfg.r1_gamma > 0 and step % cfg.r1_every == 0
        for _ in range(cfg.n_critic):
            x, y = next_batch()
            if self.vocab_size:  # text arrives as character indices; the critic reads one-hot strings
                x = one_hot(x, self.vocab_size)
            y = y if self.conditional else None
            fy = self._fake_labels(len(x), gen, y)
            with torch.no_grad():
                fake = self._gen(self._z(len(x), gen, x.device), fy, gen)
            if r1_due:
                x = x.detach().requires_grad_(True)
            real_logits, fake_logits = self._seen(x, y, gen), self._seen(fake, fy, gen)
            loss_d = discriminator_loss(cfg.objective, real_logits, fake_logits)
            if cfg.objective == "wgan-gp":
                ones = (1,) * (x.dim() - 1)
                eps = self.draw(partial(_uniform, ones=ones, gen=gen), len(x))
                gp = gradient_penalty(partial(self._critic, y=y), x, fake, gen, eps=eps)
                loss_d = loss_d + cfg.gp_weight * gp
                stats["gp"] = gp.detach()
            if r1_due:
                r1 = r1_penalty(real_logits, x)
                loss_d = loss_d + 0.5 * cfg.r1_gamma * cfg.r1_every * r1
                stats["r1"] = r1.detach()
            self.update("discriminator", loss_d)
            stats.update(self.augment.observe(self.shard.gather(real_logits.detach())))
        n = cfg.batch_size // self.shard.world
        fy = self._fake_labels(n, gen, y)
        fake = self._gen(self._z(n, gen, x.device), fy, gen)
        loss_g = generator_loss(cfg.objective, self._seen(fake, fy, gen))
        self.update("generator", loss_g)
        stats.update(self.regularize_generator(gen, step, y))
        if cfg.ema > 0:
            update_ema(self.g_ema, self.g, ema_decay(cfg.ema, step))
        stats.update(
            loss_d=loss_d.detach(),
            loss_g=loss_g.detach(),
            d_real=real_logits.detach().mean(),
            d_fake=fake_logits.detach().mean(),
        )
        return stats

    def regularize_generator(
        self, gen: torch.Generator, step: int, real_y: torch.Tensor | None
    ) -> dict[str, torch.Tensor]:
        """An extra generator update after the main one (StyleGAN2's path-length term); none here."""
        return {}


def ema_decay(target: float, step: int) -> float:
    """The EMA's decay at ``step``: ramped up from 0.1 so the average forgets the random initial weights
    quickly, then held at ``target``."""
    return min(target, (1 + step) / (10 + step))


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """ema <- decay * ema + (1 - decay) * model for parameters; buffers (BatchNorm statistics) are copied."""
    ema_params = list(ema.parameters())
    torch._foreach_lerp_(ema_params, list(model.parameters()), 1 - decay)
    for b_ema, b in zip(ema.buffers(), model.buffers(), strict=True):
        b_ema.copy_(b)


class VAETask(Task):
    """A convolutional VAE trained on the negative ELBO; the decoder is the bundle's generator. With arch
    ``charcnn`` it is a character VAE: 1-D convolutional encoder and decoder, categorical likelihood."""

    def __init__(self, config: TrainConfig, shape: list[int], num_classes: int, device: torch.device) -> None:
        self.config = config
        self.vocab_size = shape[0] if config.arch == "charcnn" else 0
        if self.vocab_size:  # text (shape: vocabulary size x length): a character VAE
            cc = dict(vocab_size=shape[0], length=shape[1], latent_dim=config.latent_dim, blocks=config.depth)
            self.encoder = CharCNNEncoder(CharCNNConfig(**cc, width=config.d_width or config.width))
            self.decoder = CharCNNGenerator(CharCNNConfig(**cc, width=config.width))
        else:
            size, ch = shape[-1], shape[0]
            enc = EncoderConfig(size, ch, config.latent_dim, config.d_width or config.width)
            self.encoder = ConvEncoder(enc)
            self.decoder = DCGANGenerator(DCGANConfig(size, ch, config.latent_dim, config.width))
        self.encoder.to(device)
        self.decoder.to(device)
        self.networks = {"encoder": self.encoder, "generator": self.decoder}
        params = list(self.encoder.parameters()) + list(self.decoder.parameters())
        self.optimizers = {"vae": torch.optim.Adam(params, lr=config.lr_g)}
        self.latent = LatentSpec(config.latent_dim, "normal")

    def step(
        self, next_batch: Callable[[], Batch], gen: torch.Generator, step: int
    ) -> dict[str, torch.Tensor]:
        x, _ = next_batch()
        mu, logvar = self.encoder(one_hot(x, self.vocab_size) if self.vocab_size else x)
        eps = self.draw(lambda m: torch.randn((m, mu.shape[1]), generator=gen, device=gen.device), len(mu))
        recon = self.decoder(mu + eps.to(mu.device) * (0.5 * logvar).exp())
        if self.vocab_size:
            loss, rec, kl = char_vae_loss(x, recon, mu, logvar)
        else:
            loss, rec, kl = vae_loss(x, recon, mu, logvar, self.config.vae_sigma)
        self.update("vae", loss)
        return {"loss": loss.detach(), "recon": rec.detach(), "kl": kl.detach()}

    def export(self) -> dict[str, nn.Module]:
        return {"generator": self.decoder, "encoder": self.encoder}

    @torch.no_grad()
    def preview(self, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        was = self.decoder.training
        self.decoder.eval()
        out = self.decoder(z)
        self.decoder.train(was)
        return out


class ClassifierTask(Task):
    """The domain classifier, trained with cross-entropy on labelled data."""

    def __init__(self, config: TrainConfig, shape: list[int], num_classes: int, device: torch.device) -> None:
        self.config = config
        if num_classes < 2:
            from swerve.errors import ConfigError

            raise ConfigError(
                f"a classifier needs labelled data with at least 2 classes; {config.dataset} has none"
            )
        cc = ClassifierConfig(shape[-1], shape[0], num_classes, config.width, feature_dim=4 * config.width)
        self.classifier = DomainClassifier(cc).to(device)
        self.networks = {"classifier": self.classifier}
        self.optimizers = {"classifier": torch.optim.Adam(self.classifier.parameters(), lr=config.lr_d)}
        self.latent = None

    def step(
        self, next_batch: Callable[[], Batch], gen: torch.Generator, step: int
    ) -> dict[str, torch.Tensor]:
        x, y = next_batch()
        logits = self.classifier(x)
        loss = F.cross_entropy(logits, y)
        self.update("classifier", loss)
        return {"loss": loss.detach(), "accuracy": (logits.argmax(1) == y).float().mean()}

    def export(self) -> dict[str, nn.Module]:
        return {"classifier": self.classifier}


TASKS: dict[str, type[Task]] = {"gan": GANTask, "vae": VAETask, "classifier": ClassifierTask}

# Tasks in modules of their own, beside their divergence method or model (they import this module, so they
# are imported on use).
DIVERGENT_TASKS: dict[str, str] = {
    "pix2pix": "swerve.train.pix2pix:Pix2PixTask",
    "can": "swerve.diverge.can:CANTask",
    "nodata": "swerve.diverge.nodata:NoDataTask",
    "sparse-ae": "swerve.diverge.sparse_ae:SparseAETask",
}


def task_class(kind: str, arch: str = "") -> type[Task]:
    """The Task class that trains models of ``kind`` (and, for a GAN, architecture ``arch``)."""
    if kind == "gan" and arch == "stylegan2":
        from swerve.train.stylegan import StyleGAN2Task

        return StyleGAN2Task
    if kind in TASKS:
        return TASKS[kind]
    module, _, name = DIVERGENT_TASKS[kind].partition(":")
    return getattr(importlib.import_module(module), name)

"""CAN, the Creative Adversarial Network (Elgammal, Liu, Elhoseiny & Mazzone, ICCC 2017).

The discriminator has two heads on one trunk: real/fake, and a K-way class ("style") classifier trained on the
real labels. The generator is unconditional; besides fooling the real/fake head it is pushed towards *style
ambiguity*: samples the class head cannot place in any one of the K classes. With the weight at 0 this is an
ordinary GAN with an auxiliary classifier that the generator ignores, the baseline a CAN is compared with.

Trained by the ordinary :class:`~swerve.train.Trainer` as ``kind="can"``; settings in ``config.params``:
``ambiguity_weight`` (λ, default 1), ``ambiguity`` (``paper``: the sum over classes of binary cross-entropies
of each class posterior to 1/K, as the paper writes it; ``softmax``: cross-entropy of the softmax to uniform).
The paper trains with Adam at 2e-4, β1 = 0.5, as the TrainConfig defaults do.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from swerve.errors import ConfigError
from swerve.models import DCGANConfig, DCGANDiscriminator, DCGANGenerator
from swerve.train.config import TrainConfig
from swerve.train.objectives import discriminator_loss, generator_loss
from swerve.train.tasks import AdversarialTask, Batch, ema_decay, setup_adversarial, update_ema

AMBIGUITY_FORMS = ("paper", "softmax")
DEFAULTS: dict[str, Any] = {"ambiguity_weight": 1.0, "ambiguity": "paper"}


def style_ambiguity(logits: torch.Tensor, form: str = "paper") -> torch.Tensor:
    """How far the class posterior softmax(``logits``) is from uniform over its K classes (mean over samples).

    ``paper``: −Σ_k [1/K log p_k + (1 − 1/K) log(1 − p_k)]; ``softmax``: −Σ_k 1/K log p_k. Both are minimal,
    with zero gradient, exactly at the uniform posterior.
    """
    k = logits.shape[1]
    log_p = F.log_softmax(logits, dim=1)
    if form == "softmax":
        return -(log_p.mean(1)).mean()
    if form == "paper":
        # log(1 - p) from the logits without cancellation: log1p(-exp(log p)), clamped away from log 1 = 0.
        log_not_p = torch.log1p(-log_p.exp().clamp(max=1 - 1e-6))
        return -((log_p / k + (1 - 1 / k) * log_not_p).sum(1)).mean()
    raise ConfigError(f"ambiguity must be one of {', '.join(AMBIGUITY_FORMS)}; got {form!r}")


class CANDiscriminator(DCGANDiscriminator):
    """A DCGAN discriminator trunk with a real/fake head and a ``num_classes``-way class head."""

    config_class = DCGANConfig

    def __init__(self, config: DCGANConfig) -> None:
        if config.num_classes < 2:
            raise ConfigError(f"a CAN discriminator needs at least 2 classes, got {config.num_classes}")
        super().__init__(dataclasses.replace(config, num_classes=0))  # unconditional real/fake trunk
        self.config = config
        self.class_head = nn.Linear(self.head.in_features, config.num_classes)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The real/fake logit (labels are not used: the generator is unconditional)."""
        return self.head(self.features(x)).squeeze(1)

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits."""
        return self.class_head(self.features(x))

    def both(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.features(x)
        return self.head(h).squeeze(1), self.class_head(h)


class CANTask(AdversarialTask):
    """One CAN step: ``n_critic`` D steps (adversarial + class cross-entropy), one G step (+ λ·ambiguity)."""

    def __init__(self, config: TrainConfig, shape: list[int], num_classes: int, device: torch.device) -> None:
        if config.arch != "dcgan" or len(shape) != 3:
            raise ConfigError("a CAN models images: use arch 'dcgan' on an image dataset")
        if config.objective == "wgan-gp":
            raise ConfigError("a CAN is trained with objective 'ns' or 'hinge'")
        self.config = config
        self.params = config.method_params(DEFAULTS)
        if self.params["ambiguity"] not in AMBIGUITY_FORMS:
            raise ConfigError(
                f"ambiguity must be one of {', '.join(AMBIGUITY_FORMS)}; got {self.params['ambiguity']!r}"
            )
        if (
            not isinstance(self.params["ambiguity_weight"], int | float)
            or self.params["ambiguity_weight"] < 0
        ):
            raise ConfigError(
                f"ambiguity_weight must be a number >= 0, got {self.params['ambiguity_weight']!r}"
            )
        # The ambiguity is over the classes the model is trained on (a subset keeps the dataset's numbering).
        self.styles = sorted(config.classes) if config.classes else list(range(num_classes))
        dc = dict(image_size=shape[-1], channels=shape[0], latent_dim=config.latent_dim)
        g = DCGANGenerator(DCGANConfig(**dc, width=config.width))
        d_config = DCGANConfig(**dc, width=config.d_width or config.width, num_classes=num_classes)
        setup_adversarial(self, config, g, CANDiscriminator(d_config), device)
        self.batches_per_step = config.n_critic

    def step(
        self, next_batch: Callable[[], Batch], gen: torch.Generator, step: int
    ) -> dict[str, torch.Tensor]:
        cfg = self.config
        for _ in range(cfg.n_critic):
            x, y = next_batch()
            if y is None:
                raise ConfigError("a CAN needs labelled data: its discriminator learns the classes")
            with torch.no_grad():
                fake = self.g(self.latent.sample(len(x), gen, x.device))
            real_logit, real_class = self.d.both(x)
            loss_adv = discriminator_loss(cfg.objective, real_logit, self.d(fake))
            loss_class = F.cross_entropy(real_class, y)
            self.optimizers["discriminator"].zero_grad(set_to_none=True)
            (loss_adv + loss_class).backward()
            self.optimizers["discriminator"].step()
        fake = self.g(self.latent.sample(cfg.batch_size, gen, x.device))
        fake_logit, fake_class = self.d.both(fake)
        ambiguity = style_ambiguity(fake_class[:, self.styles], self.params["ambiguity"])
        loss_g = generator_loss(cfg.objective, fake_logit) + self.params["ambiguity_weight"] * ambiguity
        self.optimizers["generator"].zero_grad(set_to_none=True)
        loss_g.backward()
        self.optimizers["generator"].step()
        if cfg.ema > 0:
            update_ema(self.g_ema, self.g, ema_decay(cfg.ema, step))
        return {
            "loss_d": loss_adv.detach(),
            "loss_class": loss_class.detach(),
            "loss_g": loss_g.detach(),
            "ambiguity": ambiguity.detach(),
        }


@torch.no_grad()
def class_posterior(
    discriminator: CANDiscriminator, x: torch.Tensor, classes: list[int] | None = None
) -> torch.Tensor:
    """The class head's softmax posterior on ``x`` (over ``classes`` only, when given)."""
    was = discriminator.training
    discriminator.eval()
    logits = discriminator.classify(x.to(next(discriminator.parameters()).device)).cpu()
    discriminator.train(was)
    if classes:
        logits = logits[:, classes]
    return logits.softmax(1)

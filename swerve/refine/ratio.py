"""Density-ratio critics for refinement: a trained estimator of ``log p_data / p_model``, or class log-odds.

Refinement reads a critic's logit as a log density ratio. A discriminator trained with the logistic loss is
one (at its optimum ``d = log p_data / p_model``); a WGAN critic, a VAE (no discriminator at all) or a stale
discriminator is not. As in DGflow (Ansari et al. 2021, section 4) we then fit one by logistic regression of
real data against the model's samples: a plain binary discriminator, or a *corrector* network ``C`` whose
output is added to an existing, frozen discriminator's logit (``d = D(x) + C(x)``), so only the correction
must be learnt. The estimator is stored in the bundle as the network role ``ratio``; ``extra["ratio"]``
says whether it corrects the ``discriminator``.

:func:`class_critic` turns a classifier into another density ratio: the log-odds of one class,
``log p(c|x) / (1 − p(c|x))``, is ``log p(x|c) / p(x|not c)`` up to a constant, so flowing along it moves
samples towards that class — e.g. a class the generator never saw (the reverse flow of dgflow.py).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from swerve.bundle import Bundle
from swerve.data.text import one_hot
from swerve.errors import BundleError, ConfigError
from swerve.models import (
    CharCNNConfig,
    CharCNNDiscriminator,
    DCGANConfig,
    DCGANDiscriminator,
    MLPConfig,
    MLPDiscriminator,
)
from swerve.refine.core import Critic, discriminator_critic, generate, positive, positive_int
from swerve.train.objectives import discriminator_loss
from swerve.utils import make_generator

ROLE = "ratio"


def ratio_network(shape: list[int], width: int | None = None) -> nn.Module:
    """A fresh binary discriminator for samples of ``shape``: an MLP for points, a DCGAN critic for images,
    a character-level critic for text (vocabulary size x length)."""
    if len(shape) == 2:
        return CharCNNDiscriminator(CharCNNConfig(shape[0], shape[1], width=width or 32, blocks=2))
    if len(shape) == 1:
        return MLPDiscriminator(MLPConfig(in_dim=shape[0], out_dim=1, hidden=width or 128, depth=3))
    if len(shape) == 3 and shape[1] == shape[2]:
        return DCGANDiscriminator(DCGANConfig(image_size=shape[-1], channels=shape[0], width=width or 16))
    raise ConfigError(f"no ratio estimator for samples of shape {shape} (points or square images)")


def fit_ratio(
    bundle: Bundle,
    real: torch.Tensor,
    real_labels: torch.Tensor | None = None,
    *,
    corrector: bool = False,
    steps: int = 1000,
    batch_size: int = 256,
    lr: float = 1e-3,
    width: int | None = None,
    seed: int = 0,
    progress: bool = False,
) -> dict[str, Any]:
    """Train a density-ratio estimator on ``real`` data against fresh samples of the bundle's generator and
    store it in the bundle as the ``ratio`` network (with a history entry). Returns its training summary.

    ``corrector=True`` learns a correction added to the bundle's frozen discriminator logit. Fake samples
    of a conditional generator get labels drawn from ``real_labels``. The loss is the logistic loss of
    swerve.train.objectives; every draw comes from a generator seeded with ``seed``.
    """
    positive_int("steps", steps)
    positive_int("batch_size", batch_size)
    positive("lr", lr)
    if not real.is_floating_point() and len(bundle.data.shape) == 2:  # text as character indices
        real = one_hot(real, bundle.data.shape[0])
    if bundle.latent is None:
        raise BundleError(f"bundle {bundle.name or '(unnamed)'} has no latent spec, so it cannot sample")
    if list(real.shape[1:]) != list(bundle.data.shape):
        raise ConfigError(
            f"real data of shape {list(real.shape[1:])} does not fit the shape of {bundle.name}'s samples, "
            f"{bundle.data.shape}"
        )
    if not real.isfinite().all():
        raise ConfigError("the real data holds NaN or infinite values")
    conditional = bundle.num_classes > 0
    if conditional and real_labels is None:
        raise ConfigError(f"{bundle.name} is class-conditional: pass the real data's labels")
    device = bundle.device
    generator = bundle.generator.eval()
    base = discriminator_critic(bundle.discriminator.eval()) if corrector else None
    torch.manual_seed(seed)
    net = ratio_network(bundle.data.shape, width).to(device).train()
    optimizer = torch.optim.Adam(net.parameters(), lr=lr, betas=(0.5, 0.999))
    gen = make_generator(seed)
    losses, accuracies = [], []
    for _ in tqdm(range(steps), disable=not progress, desc="ratio", unit="step"):
        pick = torch.randint(len(real), (batch_size,), generator=gen)
        x_real = real[pick].to(device)
        y_real = real_labels[pick].to(device) if conditional else None
        y_fake = None
        if conditional:
            y_fake = real_labels[torch.randint(len(real), (batch_size,), generator=gen)].to(device)
        with torch.no_grad():
            x_fake = generate(generator, bundle.latent.sample(batch_size, gen, device), y_fake)
        d_real, d_fake = net(x_real), net(x_fake)
        if base is not None:  # the corrector learns what the frozen discriminator's logit misses
            with torch.no_grad():
                base_real, base_fake = base(x_real, y_real), base(x_fake, y_fake)
            d_real, d_fake = d_real + base_real, d_fake + base_fake
        loss = discriminator_loss("ns", d_real, d_fake)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        accuracies.append(0.5 * ((d_real > 0).float().mean() + (d_fake < 0).float().mean()).item())
    tail = max(1, steps // 10)
    summary = {
        "base": "discriminator" if corrector else None,
        "steps": steps,
        "batch_size": batch_size,
        "lr": lr,
        "seed": seed,
        "final_loss": sum(losses[-tail:]) / tail,
        "final_accuracy": sum(accuracies[-tail:]) / tail,
    }
    bundle.networks[ROLE] = net.eval()
    bundle.extra[ROLE] = summary
    bundle.record("ratio", **summary)
    return summary


def ratio_critic(bundle: Bundle) -> Critic:
    """The bundle's density-ratio critic: its ``ratio`` network, plus the discriminator it corrects."""
    if ROLE not in bundle.networks:
        raise BundleError(
            f"bundle {bundle.name or '(unnamed)'} has no density-ratio estimator; train one with "
            "'swerve ratio' (or swerve.refine.ratio.fit_ratio)"
        )
    net = bundle.networks[ROLE].eval()
    if bundle.extra.get(ROLE, {}).get("base") != "discriminator":
        return discriminator_critic(net)
    base = discriminator_critic(bundle.discriminator.eval())

    def corrected(x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return base(x, labels) + net(x)

    return corrected


def class_critic(classifier: nn.Module, target: int) -> Critic:
    """The log-odds of class ``target`` under ``classifier`` (logits N x K): a log density ratio of that
    class against the rest, for flowing samples towards it."""
    if not isinstance(target, int) or target < 0:
        raise ConfigError(f"the target class must be a class index, got {target!r}")
    classifier.eval()

    def critic(x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        logits = classifier(x)
        if target >= logits.shape[1]:
            raise ConfigError(f"class {target} is out of range for a {logits.shape[1]}-class classifier")
        others = torch.cat([logits[:, :target], logits[:, target + 1 :]], dim=1)
        return logits[:, target] - torch.logsumexp(others, dim=1)

    return critic


CALIBRATED_OBJECTIVES = ("ns",)  # losses whose optimal logit is log p_data / p_model


def needs_density_ratio(method: str, settings: dict[str, Any] | None = None) -> bool:
    """Whether ``method`` reads the critic's logit as a calibrated log density ratio.

    DDLS (its energy), DRS (``exp(d − d_max)``) and MH (``exp(d' − d)``) do; so does DGflow with the JS or
    log D factor, ``sigmoid(d)``, which changes when a constant is added to ``d``. DGflow-KL moves along
    ``∇d`` alone, which no additive constant changes, and DOT reads the critic as a Lipschitz potential
    (Tanaka 2019): both accept a WGAN critic.
    """
    if method in ("ddls", "drs", "mh"):
        return True
    return method == "dgflow" and (settings or {}).get("divergence", "kl") != "kl"


def discriminator_objective(bundle: Bundle) -> str | None:
    """The loss the bundle's discriminator was trained with (``ns``, ``hinge``, ``wgan-gp``), if recorded."""
    config = (bundle.training or {}).get("config") or {}
    objective = config.get("objective") if isinstance(config, dict) else None
    return objective if isinstance(objective, str) else None


def check_calibrated(
    bundle: Bundle, critic: str, method: str, settings: dict[str, Any] | None = None
) -> None:
    """Refuse, in one line saying how to fix it, a method that needs a density ratio on a discriminator
    whose training loss does not make its logit one (hinge, WGAN-GP)."""
    objective = discriminator_objective(bundle)
    if critic != "discriminator" or objective is None or objective in CALIBRATED_OBJECTIVES:
        return
    if not needs_density_ratio(method, settings):
        return
    name = bundle.name or "the bundle"
    what = method if method != "dgflow" else f"dgflow with divergence={(settings or {})['divergence']}"
    raise ConfigError(
        f"{what} reads the critic's logit as a log density ratio, but {name}'s discriminator was trained "
        f"with the {objective} loss and is not one; train a corrector first (swerve ratio {name} --corrector "
        "--out DIR, then refine DIR) or use dot or dgflow with divergence=kl"
    )


def bundle_critic(
    bundle: Bundle, kind: str = "auto", method: str | None = None, settings: dict[str, Any] | None = None
) -> tuple[Critic, str]:
    """The critic named ``kind`` (auto, ratio, discriminator) and the name of the one chosen.

    ``auto`` prefers the density-ratio estimator when the bundle has one, else the discriminator. Given the
    ``method`` (and its settings) the critic is for, a discriminator that is not a density ratio is refused
    for a method that needs one (:func:`check_calibrated`).
    """
    if kind == "auto":
        kind = ROLE if ROLE in bundle.networks else "discriminator"
    if kind == ROLE:
        return ratio_critic(bundle), ROLE
    if kind == "discriminator":
        if "discriminator" not in bundle.networks:
            raise ConfigError(
                f"{bundle.name} has no critic of its own (it has: {', '.join(bundle.networks)}): train a "
                f"density-ratio estimator on it first ('swerve ratio'), then refine with it"
            )
        if method is not None:
            check_calibrated(bundle, kind, method, settings)
        return discriminator_critic(bundle.discriminator.eval()), kind
    raise ConfigError(f"critic must be auto, ratio or discriminator; got {kind!r}")

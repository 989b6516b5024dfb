"""Losses that move a generator by gradient with no data: loss hacking and external knowledge.

- Loss hacking, "Amplifying the Uncanny" (Broad, Leymarie & Grierson 2020): freeze the trained discriminator
  and fine-tune G to make D call its samples *fake*. ``inverted`` negates G's usual non-saturating loss,
  log D(G(z)), a push that never weakens; ``log`` minimises -log(1 - D(G(z))), whose pull fades once D is
  sure, so the images drift more gently.
- External knowledge (Broad & Grierson 2019): α · (a differentiable scorer) + β · (the frozen D as a
  realism anchor). A classifier scores samples by the log-probability of target classes (or of *not* being
  them, with ``away``); with no target classes, any module mapping images to one score per sample is
  maximised as it is (:func:`module_score`).

Every loss here is a callable ``(x, y) -> (loss, stats)`` on generated images ``x`` and their labels ``y``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from swerve.errors import ConfigError
from swerve.train.objectives import generator_loss

Loss = Callable[[torch.Tensor, torch.Tensor | None], tuple[torch.Tensor, dict[str, torch.Tensor]]]


def frozen(net: nn.Module) -> nn.Module:
    """``net`` in eval mode with no gradients for its weights: used as a judge, never changed."""
    return net.eval().requires_grad_(False)


def critic_logits(d: nn.Module, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    """D's logits on ``x``, passing the labels to a class-conditional D."""
    conditional = getattr(getattr(d, "config", None), "num_classes", 0)
    return (d(x, y) if conditional and y is not None else d(x)).reshape(len(x))


def uncanny_loss(d: nn.Module, form: str = "inverted", objective: str = "ns") -> Loss:
    """The loss-hacking objective against the frozen ``d`` (see the module docstring)."""
    if form not in ("inverted", "log"):
        raise ConfigError(f"the uncanny loss form is 'inverted' or 'log', got {form!r}")

    def loss(x: torch.Tensor, y: torch.Tensor | None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        logits = critic_logits(d, x, y)
        if objective != "ns":  # a critic's score is unbounded: both forms push its mean down
            value = logits.mean() if form == "inverted" else F.softplus(logits).mean()
        elif form == "inverted":
            value = -generator_loss("ns", logits)  # log sigmoid(l): minimised as D's "real" goes to 0
        else:
            value = F.softplus(logits).mean()  # -log(1 - sigmoid(l))
        return value, {"fake_prob": torch.sigmoid(-logits).mean().detach()}

    return loss


def classifier_score(classifier: nn.Module, target: Sequence[int], away: bool = False) -> Callable:
    """Per-sample score to maximise: log p(target classes | x), or log(1 - p(target | x)) with ``away``."""
    target = list(target)

    def score(x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        log_p = classifier(x).log_softmax(1)
        if not target or max(target) >= log_p.shape[1] or min(target) < 0:
            raise ConfigError(f"target classes must be ids in 0..{log_p.shape[1] - 1}, got {target}")
        in_target = log_p[:, target].logsumexp(1)
        if not away:
            return in_target
        return torch.log1p(-in_target.exp().clamp(max=1 - 1e-6))

    return score


def module_score(scorer: nn.Module) -> Callable:
    """A user's own differentiable scorer: a module mapping images to one number per sample (N or N x 1)."""

    def score(x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        out = scorer(x)
        if out.dim() > 2 or (out.dim() == 2 and out.shape[1] != 1):
            raise ConfigError(
                f"a scorer without target classes gives one number per sample, not shape {tuple(out.shape)}"
            )
        return out.reshape(len(x))

    return score


def guidance_loss(
    score: Callable | None, alpha: float, d: nn.Module | None = None, beta: float = 0.0, objective: str = "ns"
) -> Loss:
    """α · (−score) + β · (G's adversarial loss against the frozen ``d``): external knowledge with a realism
    anchor. ``alpha = 0`` leaves only the anchor, which holds a trained G where it is."""
    if beta > 0 and d is None:
        raise ConfigError("beta > 0 needs the bundle's discriminator as the realism anchor")

    def loss(x: torch.Tensor, y: torch.Tensor | None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        total = x.new_zeros(())
        stats: dict[str, torch.Tensor] = {}
        if alpha > 0 and score is not None:
            s = score(x, y).mean()
            total = total - alpha * s
            stats["score"] = s.detach()
        if beta > 0:
            anchor = generator_loss(objective, critic_logits(d, x, y))
            total = total + beta * anchor
            stats["anchor"] = anchor.detach()
        return total, stats

    return loss

"""Augmentation for training GANs on little data: DiffAugment and ADA's adaptive probability.

DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training") applies the
same random, differentiable transforms to real and generated images before D sees them, so D cannot
memorise the few real images and G still receives gradients through the transforms. ADA (Karras et al.
2020, "Training Generative Adversarial Networks with Limited Data") applies each sample's augmentation with
probability ``p`` and tunes ``p`` from the overfitting heuristic r_t = E[sign(D(real))]: above the target,
D is overfitting and ``p`` rises; below it, ``p`` falls.

Every random draw comes from the ``torch.Generator`` passed in, so a seeded run (and its resume) is exact.
Images are in [-1, 1], shape (N, C, H, W).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from swerve.errors import ConfigError

TRANSLATION_RATIO = 0.125  # largest shift, as a fraction of the image side (the paper's 1/8)
CUTOUT_RATIO = 0.5  # side of the cut-out square, as a fraction of the image side (the paper's 1/2)


def _rand(n: int, gen: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.rand((n, *shape), generator=gen, device=gen.device)


def brightness(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Add one offset per image, uniform in [-0.5, 0.5) (in [0, 1] units: [-1, 1) here)."""
    return x + (_rand(len(x), gen, 1, 1, 1).to(x) - 0.5) * 2 * 0.5


def saturation(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Scale each pixel's distance from its grey value by a factor uniform in [0, 2)."""
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (_rand(len(x), gen, 1, 1, 1).to(x) * 2) + mean


def contrast(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Scale each image's distance from its mean by a factor uniform in [0.5, 1.5)."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_rand(len(x), gen, 1, 1, 1).to(x) + 0.5) + mean


def translation(x: torch.Tensor, gen: torch.Generator, ratio: float = TRANSLATION_RATIO) -> torch.Tensor:
    """Shift each image by whole pixels, up to ``ratio`` of its side each way; uncovered pixels are 0."""
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sh, sh + 1, (n, 1, 1), generator=gen, device=gen.device).to(x.device)
    dx = torch.randint(-sw, sw + 1, (n, 1, 1), generator=gen, device=gen.device).to(x.device)
    rows = torch.arange(h, device=x.device).view(1, h, 1) - dy  # source row of each output row
    cols = torch.arange(w, device=x.device).view(1, 1, w) - dx
    inside = ((rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)).unsqueeze(1)
    flat = (rows.clamp(0, h - 1) * w + cols.clamp(0, w - 1)).view(n, 1, h * w).expand(-1, x.shape[1], -1)
    moved = x.flatten(2).gather(2, flat).view_as(x)
    return moved * inside.to(x)


def cutout(x: torch.Tensor, gen: torch.Generator, ratio: float = CUTOUT_RATIO) -> torch.Tensor:
    """Zero one square of side ``ratio`` of the image per image, placed uniformly inside it (so exactly
    ``ratio**2`` of the area, rounded to whole pixels, is zeroed)."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    top = torch.randint(0, h - ch + 1, (n, 1, 1), generator=gen, device=gen.device).to(x.device)
    left = torch.randint(0, w - cw + 1, (n, 1, 1), generator=gen, device=gen.device).to(x.device)
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    hole = (rows >= top) & (rows < top + ch) & (cols >= left) & (cols < left + cw)
    return x * (~hole).unsqueeze(1).to(x)


POLICIES: dict[str, list[Callable[[torch.Tensor, torch.Generator], torch.Tensor]]] = {
    "color": [brightness, saturation, contrast],
    "translation": [translation],
    "cutout": [cutout],
}


def parse_policy(policy: str) -> list[str]:
    """``"color,translation,cutout"`` -> its parts, checked."""
    parts = [p.strip() for p in policy.split(",") if p.strip()]
    unknown = [p for p in parts if p not in POLICIES]
    if unknown or not parts:
        raise ConfigError(
            f"augment_policy must be a comma-separated list of {', '.join(POLICIES)}; got {policy!r}"
        )
    return parts


def diff_augment(x: torch.Tensor, policy: str, gen: torch.Generator) -> torch.Tensor:
    """DiffAugment: the policy's transforms, in order, with fresh random parameters per image."""
    for part in parse_policy(policy):
        for op in POLICIES[part]:
            x = op(x, gen)
    return x


class AdaptiveAugment(nn.Module):
    """ADA's probability ``p`` and the running sum behind r_t, kept as buffers so checkpoints restore them
    exactly. Each image is augmented (with the DiffAugment policy) with probability ``p``; every
    ``interval`` steps, ``p`` moves by ``sign(r_t - target) * images / (speed_kimg * 1000)``, clipped to
    [0, 1] (the paper's adjustment, with its 500k-image speed made configurable for short runs)."""

    def __init__(self, policy: str, target: float = 0.6, interval: int = 4, speed_kimg: float = 100.0):
        super().__init__()
        self.policy, self.target, self.interval, self.speed_kimg = policy, target, interval, speed_kimg
        self.register_buffer("p", torch.zeros((), dtype=torch.float64))
        self.register_buffer("sign_sum", torch.zeros((), dtype=torch.float64))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))
        self.register_buffer("steps", torch.zeros((), dtype=torch.int64))

    def forward(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        keep = _rand(len(x), gen, 1, 1, 1).to(x.device) >= float(self.p)
        augmented = diff_augment(x, self.policy, gen)
        return torch.where(keep, x, augmented)

    @torch.no_grad()
    def observe(self, real_logits: torch.Tensor) -> None:
        """Record D's logits on real images for r_t; adjust ``p`` at the end of each interval."""
        self.sign_sum += real_logits.detach().sign().sum().double()
        self.count += real_logits.numel()
        self.steps += 1
        if int(self.steps) % self.interval == 0:
            r_t = self.sign_sum / self.count.clamp_min(1)
            delta = torch.sign(r_t - self.target) * self.count / (self.speed_kimg * 1000)
            self.p.copy_((self.p + delta).clamp(0.0, 1.0))
            self.sign_sum.zero_()
            self.count.zero_()

    def r_t(self) -> float:
        """The heuristic over the current (unfinished) interval; 0 when nothing was observed yet."""
        return float(self.sign_sum / self.count) if float(self.count) else 0.0


class Augmenter:
    """What a GAN task applies to every image D sees, from the config: nothing, DiffAugment, or ADA."""

    def __init__(self, mode: str, policy: str, ada: AdaptiveAugment | None = None) -> None:
        self.mode, self.policy, self.ada = mode, policy, ada

    def __call__(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        if self.mode == "diffaugment":
            return diff_augment(x, self.policy, gen)
        if self.mode == "ada":
            return self.ada(x, gen)
        return x

    def observe(self, real_logits: torch.Tensor) -> dict[str, torch.Tensor]:
        """Feed ADA D's real logits; the stats to log (p) when ADA is on."""
        if self.ada is None:
            return {}
        self.ada.observe(real_logits)
        return {"ada_p": self.ada.p.float().clone()}

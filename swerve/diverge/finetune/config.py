"""The fine-tuning config: one flat dataclass for every method, validated on construction.

Fields that only one method reads say so in their comment; the others ignore them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from swerve.errors import MAX_STEPS, ConfigError, check_betas, check_number, key_list

METHODS = ("cross-domain", "domain-shift", "uncanny", "guided", "nada")
LOSS_FORMS = ("inverted", "log")


@dataclass
class FinetuneConfig:
    """What a fine-tuning run does. Equal configs on equal bundles give equal trails (on CPU)."""

    method: str = "uncanny"  # see METHODS
    name: str = ""  # the output bundle's name (default: BUNDLE-METHOD)
    steps: int = 300
    batch_size: int = 16
    lr: float = 2e-4  # the generator's learning rate
    lr_d: float = 2e-4  # the discriminator's (cross-domain, domain-shift)
    betas: list[float] = field(default_factory=lambda: [0.5, 0.999])
    ema: float = 0.0  # generator EMA while training on data (cross-domain, domain-shift); 0 = off
    seed: int = 0
    trail_every: int = 50  # a trail entry (weights, grid, metrics) and a checkpoint every this many steps
    grid_size: int = 32  # samples on fixed latents in each trail entry
    freeze: list[str] = field(default_factory=list)  # generator layers (named_modules names) left untouched
    log_every: int = 10
    device: str = "auto"
    measure_quality: bool = (
        True  # novelty/quality per entry when the bundle's dataset has a domain classifier
    )
    # cross-domain and domain-shift: the data to move towards
    dataset: str = ""
    classes: list[int] | None = None
    # domain-shift: each round replace this fraction of the training set by the model's own samples
    shift_fraction: float = 0.2
    shift_every: int = 50
    collapse_threshold: float = 0.5  # collapse: diversity below this fraction of the starting diversity
    stop_on_collapse: bool = False  # watch for collapse in every method (domain-shift always does)
    # uncanny: the inverted adversarial loss, or its gentler log form
    loss: str = "inverted"
    # guided: alpha * scorer + beta * frozen-discriminator realism anchor (Broad & Grierson 2019)
    scorer: str = ""  # a bundle (directory or zoo name) whose classifier scores the samples
    target: list[int] = field(default_factory=list)  # classes to move towards (or away from); none: the
    # scorer's own output (one number per sample) is maximised
    away: bool = False
    alpha: float = 1.0
    beta: float = 0.0
    # nada: CLIP guidance (Gal et al. 2021)
    source: str = "photo"  # text describing what the model makes now
    text: str = ""  # text describing what it should make
    clip: str = "ViT-B-32"  # open_clip model name, or "tiny" (a small random encoder, for tests)
    clip_pretrained: str = "openai"
    global_weight: float = 0.0  # weight of the global loss beside the directional one
    adaptive_layers: int = 0  # train only the k layers the global loss most wants to move (0 = all)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ConfigError naming the first field that is wrong."""
        if self.method not in METHODS:
            raise ConfigError(f"method must be one of {', '.join(METHODS)}; got {self.method!r}")
        if self.loss not in LOSS_FORMS:
            raise ConfigError(f"loss must be one of {', '.join(LOSS_FORMS)}; got {self.loss!r}")
        for name in ("steps", "trail_every", "shift_every", "log_every"):
            check_number(name, getattr(self, name), 1, MAX_STEPS, integer=True)
        check_number("batch_size", self.batch_size, 1, 1 << 20, integer=True)
        check_number("grid_size", self.grid_size, 4, 4096, integer=True)
        check_number("seed", self.seed, integer=True)
        check_number("adaptive_layers", self.adaptive_layers, 0, 10_000, integer=True)  # 0: all
        for name in ("lr", "lr_d"):
            check_number(name, getattr(self, name), 0, open_low=True)  # finite: NaN and inf are refused
        for name in ("alpha", "beta", "global_weight"):
            check_number(name, getattr(self, name), 0)
        check_number("ema", self.ema, 0, 1, open_high=True)
        check_number("shift_fraction", self.shift_fraction, 0, 1, open_low=True)
        check_number("collapse_threshold", self.collapse_threshold, 0, 1, open_low=True, open_high=True)
        self.betas = check_betas(self.betas)
        for name in ("away", "measure_quality", "stop_on_collapse"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if self.method in ("cross-domain", "domain-shift") and not self.dataset:
            raise ConfigError(f"method {self.method} needs a dataset to train on (dataset=...)")
        if self.method == "guided" and not self.scorer:
            raise ConfigError("method guided needs a scorer: a bundle with a classifier (scorer=...)")
        if self.method == "nada" and not self.text:
            raise ConfigError("method nada needs the target text (text=...)")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> FinetuneConfig:
        """Build from a mapping; an unknown key is an error naming the known ones."""
        known = {f.name for f in dataclasses.fields(cls)}
        if not isinstance(values, dict):
            raise ConfigError(f"a fine-tuning config is a mapping of fields to values, got {values!r}")
        unknown = set(values) - known
        if unknown:
            raise ConfigError(
                f"unknown fine-tuning field(s) {key_list(unknown)}; known: {', '.join(sorted(known))}"
            )
        try:
            return cls(**values)
        except TypeError as exc:
            raise ConfigError(f"bad fine-tuning config: {exc}") from None

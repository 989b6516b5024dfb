"""The training config: one dataclass, validated on construction, read from YAML/JSON or built in Python."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from swerve.errors import MAX_STEPS, ConfigError, check_betas, check_finite, check_number, key_list

# can, nodata and sparse-ae train in swerve.diverge, pix2pix in swerve.train.pix2pix
KINDS = ("gan", "vae", "classifier", "can", "nodata", "sparse-ae", "pix2pix")
ARCHS = ("dcgan", "mlp", "fastgan", "stylegan2", "charcnn")
AUGMENTS = ("", "diffaugment", "ada")
OBJECTIVES = ("ns", "hinge", "wgan-gp")
# Counts and sizes: each a positive integer up to a bound past any sensible run (a typo, not a plan).
COUNTS = {
    "steps": MAX_STEPS,
    "batch_size": 1 << 20,
    "latent_dim": 1 << 16,
    "width": 1 << 16,
    "d_width": 1 << 16,
    "depth": 1000,
    "n_critic": 1000,
    "image_size": 1 << 14,
}


@dataclass
class TrainConfig:
    """Everything that decides a training run. Two runs with equal configs produce equal weights (on CPU)."""

    name: str = "model"
    kind: str = "gan"  # gan | vae | classifier | can | nodata | sparse-ae | pix2pix
    dataset: str = "fashion-mnist"  # see swerve.data.DATASETS, or folder:PATH
    classes: list[int] | None = None  # train on these classes only (labels keep their numbers)
    image_size: int | None = None  # resize images; None keeps the dataset's size
    channels: int | None = None  # 1 (grey) or 3 (RGB); None keeps the dataset's
    bad_images: str = "skip"  # an unreadable image in a folder dataset: skip (with a warning) or raise
    mirror: bool = False  # flip each training image left-right with probability 1/2 as batches are drawn
    download: bool = False  # fetch Fashion-MNIST/MNIST from their official source when not found locally
    arch: str = "dcgan"  # dcgan (images) | mlp (points) | charcnn (text)
    latent_dim: int = 64
    latent_distribution: str = "normal"
    width: int = 32  # dcgan channel width; mlp hidden units of G
    d_width: int | None = None  # discriminator width / hidden units (default: width, or 2x for mlp)
    depth: int = 3  # mlp layers; charcnn residual blocks
    conditional: bool = False
    spectral_norm: bool = False
    objective: str = "ns"  # ns | hinge | wgan-gp
    gp_weight: float = 10.0
    n_critic: int = 1
    vae_sigma: float = 0.1  # std of the VAE's Gaussian likelihood, in data units
    steps: int = 2000
    batch_size: int = 64
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: list[float] = field(default_factory=lambda: [0.5, 0.999])
    ema: float = 0.999  # decay of the generator's moving average; 0 turns it off
    lr_decay_start: int | None = None  # from this step every learning rate falls linearly to 0 at `steps`
    seed: int = 0
    log_every: int = 50
    sample_every: int = 500
    checkpoint_every: int = 500
    device: str = "auto"
    params: dict[str, Any] = field(default_factory=dict)  # settings of a divergent kind, checked by its task
    # Small-data GAN training (swerve.train.augment) and StyleGAN2 training (swerve.train.stylegan).
    augment: str = ""  # "" (none) | diffaugment | ada: what D's inputs (real and fake) go through
    augment_policy: str = "color,translation,cutout"  # DiffAugment's transforms (also ADA's)
    ada_target: float = 0.6  # ADA: the r_t = E[sign(D(real))] that p is steered towards
    ada_interval: int = 4  # ADA: steps between adjustments of p
    ada_kimg: float = 100.0  # ADA: thousands of images over which p may move from 0 to 1
    r1_gamma: float = 0.0  # weight of the R1 penalty on D's gradient at real images; 0 turns it off
    r1_every: int = 16  # lazy R1: applied every this many steps, scaled by it
    max_width: int = 256  # fastgan/stylegan2: channel cap at low resolutions
    style_mixing: float = 0.9  # stylegan2: probability of mixing two latents' styles in a generated batch
    pl_weight: float = 0.0  # stylegan2: path-length regularisation weight (the paper: 2); 0 turns it off
    pl_every: int = 4  # stylegan2: lazy path-length regularisation interval

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ConfigError naming the first field that is of the wrong type or out of range."""
        hints = {f.name: f.type for f in dataclasses.fields(self)}
        for name in hints:
            value = getattr(self, name)
            kind = hints[name]
            if "int" in kind and "list" not in kind and "float" not in kind:
                if value is None and "None" in kind:
                    continue
                if not isinstance(value, int) or isinstance(value, bool):
                    raise ConfigError(f"{name} must be an integer, got {value!r}")
            elif kind == "float":
                setattr(self, name, check_number(name, value))  # finite: NaN and infinity are refused
            elif kind == "bool" and not isinstance(value, bool):
                raise ConfigError(f"{name} must be true or false, got {value!r}")
            elif kind == "str" and not isinstance(value, str):
                raise ConfigError(f"{name} must be a string, got {value!r}")
        _choice("kind", self.kind, KINDS)
        _choice("arch", self.arch, ARCHS)
        _choice("objective", self.objective, OBJECTIVES)
        _choice("bad_images", self.bad_images, ("skip", "raise"))
        _choice("latent_distribution", self.latent_distribution, ("normal", "uniform"))
        for name, most in COUNTS.items():
            if getattr(self, name) is not None:
                check_number(name, getattr(self, name), 1, most, integer=True)
        for name in ("log_every", "sample_every", "checkpoint_every"):  # 0: off
            check_number(name, getattr(self, name), 0, MAX_STEPS, integer=True)
        if self.lr_decay_start is not None:
            check_number("lr_decay_start", self.lr_decay_start, 0, self.steps - 1, integer=True)
        if self.channels is not None:
            _choice("channels", self.channels, (1, 3))
        for name in ("lr_g", "lr_d", "vae_sigma"):
            check_number(name, getattr(self, name), 0, open_low=True)
        check_number("gp_weight", self.gp_weight, 0)
        check_number("ema", self.ema, 0, 1, open_high=True)
        check_finite("params", self.params)
        self.betas = check_betas(self.betas)
        if self.classes is not None and (
            not isinstance(self.classes, list) or not all(isinstance(c, int) and c >= 0 for c in self.classes)
        ):
            raise ConfigError(f"classes must be a list of class indices, got {self.classes!r}")
        if not isinstance(self.params, dict):
            raise ConfigError(f"params must be a mapping of setting names to values, got {self.params!r}")
        self._validate_small_data()
        if self.kind == "vae" and self.arch not in ("dcgan", "charcnn"):
            raise ConfigError("a vae uses arch 'dcgan' (images) or 'charcnn' (text)")

    def _validate_small_data(self) -> None:
        _choice("augment", self.augment, AUGMENTS)
        if self.augment:
            from swerve.train.augment import parse_policy

            parse_policy(self.augment_policy)
        for name in ("ada_interval", "r1_every", "max_width", "pl_every"):
            check_number(name, getattr(self, name), 1, MAX_STEPS, integer=True)
        check_number("ada_target", self.ada_target, -1, 1)
        check_number("style_mixing", self.style_mixing, 0, 1)
        check_number("ada_kimg", self.ada_kimg, 0, open_low=True)
        for name in ("r1_gamma", "pl_weight"):
            check_number(name, getattr(self, name), 0)
        if (self.r1_gamma > 0 or self.augment) and self.kind != "gan":
            raise ConfigError(f"augment and r1_gamma are options of kind 'gan', not {self.kind!r}")

    def to_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        if not values["mirror"]:  # off: equal to configs and checkpoints from before mirror
            del values["mirror"]
        if not values["params"]:  # no settings: equal to configs and checkpoints from before params
            del values["params"]
        for name, default in SMALL_DATA_DEFAULTS.items():  # likewise for the small-data options
            if values[name] == default:
                del values[name]
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Build from a mapping; unknown keys are an error (a typo should not be silently ignored)."""
        if not isinstance(values, dict):
            raise ConfigError(
                f"a training config is a mapping of field names to values, got {type(values).__name__}"
            )
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - known  # keys from YAML can be numbers
        if unknown:
            raise ConfigError(
                f"unknown config field(s) {key_list(unknown)}; known: {', '.join(sorted(known))}"
            )
        floats = {f.name for f in dataclasses.fields(cls) if f.type == "float"}
        return cls(**{k: _as_float(v) if k in floats else v for k, v in values.items()})

    @classmethod
    def from_file(cls, path: str | Path) -> TrainConfig:
        """Read a YAML or JSON config file."""
        path = Path(path)
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read config file {path}: {exc}") from None
        try:
            values = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (json.JSONDecodeError, yaml.YAMLError) as exc:
            first = str(exc).splitlines()[0]
            raise ConfigError(
                f"config file {path} is not valid {path.suffix.lstrip('.') or 'YAML'}: {first}"
            ) from None
        return cls.from_dict(values or {})

    def method_params(self, defaults: dict[str, Any]) -> dict[str, Any]:
        """``params`` over a divergent kind's ``defaults``; an unknown setting is an error naming the rest."""
        unknown = key_list(set(self.params) - set(defaults))
        if unknown:
            raise ConfigError(
                f"unknown {self.kind} setting(s) {unknown}; known: {', '.join(sorted(defaults))}"
            )
        return {**defaults, **self.params}

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)


SMALL_DATA_DEFAULTS = {
    f.name: f.default
    for f in dataclasses.fields(TrainConfig)
    if f.name
    in ("augment", "augment_policy", "ada_target", "ada_interval", "ada_kimg", "r1_gamma", "r1_every")
    or f.name in ("max_width", "style_mixing", "pl_weight", "pl_every")
}


def _as_float(value: Any) -> Any:
    """YAML 1.1 reads ``1e-4`` as a string; accept such numbers where a float is expected."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _choice(name: str, value: object, options: tuple) -> None:
    if value not in options:
        raise ConfigError(f"{name} must be one of {', '.join(map(str, options))}; got {value!r}")


def lr_factor(config: TrainConfig, step: int) -> float:
    """The share of the configured learning rates that step ``step`` (0-based) trains with: 1, then, from
    ``lr_decay_start``, a straight line down to 0 at ``steps`` (the linear decay of pix2pix and CycleGAN)."""
    start = config.lr_decay_start
    if start is None or step < start:
        return 1.0
    return max(0.0, (config.steps - step) / (config.steps - start))

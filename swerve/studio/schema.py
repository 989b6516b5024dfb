"""What the page may send: every request body is one of these, checked before anything runs.

Unknown fields are refused (a typo should not be silently ignored), every number must be finite (no NaN or
Infinity, not even inside a bend's free-form parameters) and has a range, and every list a length, so a
request the page would never make gets a 422 naming the field instead of reaching a model.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from swerve.studio.finite import not_finite

SEED_MAX = 2**31 - 1
Z_MAX = 1000.0  # a latent coordinate; Gaussian latents stay within about 6
MAX_DEPTH = 4  # how deeply a bend's free-form fields may nest ({"params": {...}}, {"channels": {...}})
LayerName = Annotated[str, Field(min_length=1, max_length=200)]
Amount = Annotated[float, Field(ge=-10.0, le=10.0)]  # slider positions, in standard deviations


class Strict(BaseModel):
    """Every request model: unknown fields, non-finite numbers, and numbers sent as text or booleans
    (strict: ``"5"`` or ``true`` for an integer) refused."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, populate_by_name=True, strict=True)


def plain_json(value: Any, depth: int = 0) -> Any:
    """``value`` unchanged if it is shallow JSON with finite numbers of at most ``SEED_MAX`` in size only;
    a ValueError naming the fault."""
    if not_finite(value):
        raise ValueError(f"numbers must be finite, got {value}")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) > SEED_MAX:
        raise ValueError(f"numbers must lie within ±{SEED_MAX}")
    if depth > MAX_DEPTH:
        raise ValueError(f"nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, dict):
        for item in value.values():
            plain_json(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            plain_json(item, depth + 1)
    return value


class LatentIn(Strict):
    """Where the latent comes from: a seed, optionally slerped toward a second seed, or explicit numbers."""

    seed: int = Field(0, ge=0, le=SEED_MAX)
    toward: int | None = Field(None, ge=0, le=SEED_MAX)
    t: float = Field(0.0, ge=0.0, le=1.0)
    z: list[Annotated[float, Field(ge=-Z_MAX, le=Z_MAX)]] | None = Field(None, max_length=4096)


class PcaIn(Strict):
    """GANSpace sliders: principal directions of ``layer``, moved in the latent or at the layer itself."""

    layer: str = Field(..., min_length=1, max_length=200)
    apply: Literal["latent", "layer"] = "latent"
    amounts: list[Amount] = Field(default_factory=list, max_length=32)
    k: int = Field(8, ge=1, le=32)


class ScheduleIn(Strict):
    """The coarse-to-fine blend (Pinkney & Adler 2020): layers before position ``pivot`` (counted coarse to
    fine) stay near one model, later ones go to the other, over a logistic of ``width`` layers."""

    pivot: float = Field(1.0, ge=0.0, le=64.0)
    width: float = Field(0.5, gt=0.0, le=16.0)
    hard: bool = False


class BlendIn(Strict):
    with_: str = Field(..., alias="with", min_length=1, max_length=4096)
    alpha: float = Field(0.5, ge=0.0, le=1.0)
    schedule: ScheduleIn | None = None


class GlitchIn(Strict):
    """A seeded weight glitch (Klingemann's Neural Glitch): noise, zeroing, shuffling or reconnecting."""

    kind: Literal["gaussian", "zero", "shuffle", "reconnect"]
    amount: float = Field(0.1, ge=0.0, le=10.0)
    layers: list[LayerName] = Field(default_factory=list, max_length=16)  # none: the whole generator
    seed: int = Field(0, ge=0, le=SEED_MAX)


class CreativeIn(Strict):
    """The creative decoder (Das et al. 2020): weak channels of ``layer`` fire with the strongest ones."""

    layer: str = Field("conv:0", min_length=1, max_length=200)
    fraction: float = Field(0.25, ge=0.0, le=1.0)
    strength: float = Field(1.0, ge=0.0, le=10.0)
    top: float = Field(0.1, gt=0.0, le=0.5)
    seed: int = Field(0, ge=0, le=SEED_MAX)


class StateIn(Strict):
    """Everything the page shows: the model, the latent, the class, the sliders, bends, blend and glitch."""

    model: str = Field(..., min_length=1, max_length=4096)
    latent: LatentIn = Field(default_factory=LatentIn)
    label: int | None = Field(None, ge=0, le=100_000)
    pca: PcaIn | None = None
    bends: list[dict[str, Any]] = Field(default_factory=list, max_length=32)
    blend: BlendIn | None = None
    glitch: GlitchIn | None = None
    creative: CreativeIn | None = None

    @field_validator("bends")
    @classmethod
    def _plain_bends(cls, bends: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return plain_json(bends)


class SketchIn(Strict):
    """A drawing for the sketch pad: a PNG data URL, the translation model, the page's bends."""

    model: str = Field(..., min_length=1, max_length=4096)
    picture: str = Field(..., min_length=1, max_length=200_000)
    bends: list[dict[str, Any]] = Field(default_factory=list, max_length=32)
    as_target: bool = False

    @field_validator("bends")
    @classmethod
    def _plain_bends(cls, bends: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return plain_json(bends)


class ProjectSketchIn(Strict):
    """The sketch pad's picture projected into a generator's latent space (swerve.diverge.project)."""

    model: str = Field(..., min_length=1, max_length=4096)
    picture: str = Field(..., min_length=1, max_length=200_000)
    steps: int = Field(100, ge=1, le=2000)
    restarts: int = Field(2, ge=1, le=16)
    seed: int = Field(0, ge=0, le=SEED_MAX)


class GridIn(Strict):
    state: StateIn
    n: int = Field(9, ge=1, le=64)


class DirectionsIn(Strict):
    model: str = Field(..., min_length=1, max_length=4096)
    layer: str = Field(..., min_length=1, max_length=200)
    k: int = Field(8, ge=1, le=32)


class SweepIn(Strict):
    """What a sweep varies: principal slider ``index``, parameter ``param`` of bend number ``bend``, the
    blend's alpha, the glitch's amount or the creative decoder's strength."""

    target: Literal["pca", "bend", "blend", "glitch", "creative"]
    index: int = Field(0, ge=0, le=31)
    bend: int = Field(0, ge=0, le=31)
    param: str = Field("", max_length=100)
    low: float = Field(-3.0, ge=-1e6, le=1e6)
    high: float = Field(3.0, ge=-1e6, le=1e6)


class ExportIn(Strict):
    """A latent walk from the current picture through ``points`` random seeds, or a sweep, as GIF or MP4."""

    state: StateIn
    kind: Literal["walk", "sweep"] = "walk"
    format: Literal["gif", "mp4"] = "gif"
    frames: int = Field(24, ge=2, le=600)
    points: int = Field(3, ge=2, le=16)
    fps: int = Field(12, ge=1, le=60)
    sweep: SweepIn | None = None


class RegionIn(Strict):
    """A rectangle of the source picture, as fractions of its height (top, bottom) and width (left, right)."""

    top: float = Field(0.25, ge=0.0, le=1.0)
    left: float = Field(0.25, ge=0.0, le=1.0)
    bottom: float = Field(0.75, ge=0.0, le=1.0)
    right: float = Field(0.75, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _not_empty(self) -> RegionIn:
        if self.bottom <= self.top or self.right <= self.left:
            raise ValueError("the region is empty: top must be above bottom and left before right")
        return self


class RewriteIn(Strict):
    """Copy-paste rewriting (Bau et al. 2020): make ``layer`` draw the ``region`` of the picture of seed
    ``source`` wherever the page's current picture has the context found there."""

    state: StateIn
    layer: str = Field(..., min_length=1, max_length=200)
    source: int = Field(..., ge=0, le=SEED_MAX)
    region: RegionIn = Field(default_factory=RegionIn)
    rank: int = Field(1, ge=1, le=8)
    n: int | None = Field(None, ge=16, le=65536)  # None: enough keys for the layer's width


class RefineIn(Strict):
    """DGflow (Ansari et al. 2021) on the page's picture: its latent flows along a critic's gradient, through
    the generator with every edit on. ``critic``: the model's own discriminator, or the domain classifier's
    log-odds of class ``target`` (default: the page's class). ``reverse`` flows away instead. ``method``
    ``ddls`` (Che et al. 2020) or ``dot`` (Tanaka 2019) runs a baseline from the same latent instead."""

    state: StateIn
    method: Literal["dgflow", "ddls", "dot"] = "dgflow"
    critic: Literal["discriminator", "class"] = "discriminator"
    target: int | None = Field(None, ge=0, le=100_000)
    divergence: Literal["kl", "js", "logd"] = "kl"
    steps: int | None = Field(None, ge=1, le=500)  # none: the method's own (DGflow 25, DDLS 100, DOT 10)
    eta: float = Field(0.1, gt=0.0, le=10.0)
    gamma: float = Field(0.01, ge=0.0, le=1.0)
    reverse: bool = False
    seed: int = Field(0, ge=0, le=SEED_MAX)


class FinetuneIn(Strict):
    """A short divergent fine-tune of the page's model in the background (swerve.diverge.finetune):
    ``uncanny`` (the inverted adversarial loss against its own frozen discriminator), ``guided`` (toward, or
    ``away`` from, the page's class by the dataset's domain classifier; Broad & Grierson 2019),
    ``cross-domain`` (on to another data set, keeping the trail), ``domain-shift`` (the data set slowly
    replaced by the model's own samples) or ``nada`` (CLIP guidance from ``source`` to ``text``; Gal et al.
    2021, needs ``pip install 'swerve[clip]'``)."""

    state: StateIn
    method: Literal["uncanny", "guided", "cross-domain", "domain-shift", "nada"] = "uncanny"
    steps: int = Field(100, ge=1, le=5000)
    lr: float = Field(2e-4, gt=0.0, le=1e-2)
    away: bool = False
    seed: int = Field(0, ge=0, le=SEED_MAX)
    # cross-domain and domain-shift: a data set swerve ships or reads (never a path from the page)
    dataset: Literal["fashion-mnist", "mnist", "digits"] | None = None
    classes: list[Annotated[int, Field(ge=0, le=999)]] | None = Field(None, min_length=1, max_length=100)
    # nada
    source: str = Field("photo", min_length=1, max_length=300)
    text: str = Field("", max_length=300)


class NoveltyIn(Strict):
    """Latent novelty search (Lehman & Stanley 2011) through the page's generator, every edit on: the ``keep``
    most novel pictures found in ``budget`` generator evaluations, novelty measured in the domain
    classifier's feature space, optionally only among pictures of ``quality`` at least ``quality_min``."""

    state: StateIn
    method: Literal["evolution", "gradient"] = "evolution"
    budget: int = Field(1000, ge=20, le=20_000)
    population: int = Field(50, ge=2, le=500)
    keep: int = Field(9, ge=1, le=25)
    quality: Literal["none", "discriminator", "classifier"] = "none"
    quality_min: float = Field(0.5, ge=0.0, le=1.0)
    seed: int = Field(0, ge=0, le=SEED_MAX)


class TrainIn(Strict):
    """Train a new model from one of the zoo's recipes (swerve.zoo.recipes) in the background, with its own
    number of steps and seed, and for the recipes that read Fashion-MNIST or digits, the classes it may see:
    the inspiring set of a held-out-class GAN or a CAN (Elgammal et al. 2017)."""

    recipe: Literal[
        "fashion-gan", "fashion-vae", "digits-gan", "fashion-heldout-gan", "fashion-heldout-can", "nodata-gan"
    ]
    steps: int = Field(..., ge=1, le=20_000)
    seed: int = Field(0, ge=0, le=SEED_MAX)
    classes: list[Annotated[int, Field(ge=0, le=9)]] | None = Field(None, min_length=1, max_length=10)

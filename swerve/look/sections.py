"""The demo report's sections, and the registry that makes adding one a small change.

A section is a function ``DemoContext -> Section | None`` registered with ``@section(name, order=N)``;
:func:`swerve.look.demo.run_demo` runs them all by ascending ``order``. Return ``None`` to be left out
(a zoo model is not installed); raise :class:`~swerve.errors.SwerveError` to be shown as a "could not run"
card. ``order`` also picks the step of the loop the section is listed under (see ``STAGES``): below 60
make, 60s diverge, 70s refine, 80s measure, 90 and up look and scale. For example::

    @section("my-bend", order=66)
    def my_bend(ctx: DemoContext) -> Section | None:
        gan = ctx.bundle("fashion-gan")
        if gan is None:
            return None
        x = gan.sample(16, seed=ctx.seed).x
        return Section("My bend", "What it does, in a sentence.", [Figure(upscale(make_grid(x)))])
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from swerve import zoo
from swerve.bundle import Bundle, load
from swerve.data import load_dataset
from swerve.data.toys import gaussians25, swiss_roll
from swerve.errors import SwerveError
from swerve.look.grid import make_grid, upscale
from swerve.look.plot import scatter_points
from swerve.look.report import Figure, Section
from swerve.look.video import save_animation
from swerve.look.walk import latent_walk
from swerve.measure import class_agreement, gaussians25_scores, swissroll_scores
from swerve.utils import make_generator


@dataclass
class DemoContext:
    """What every section gets: where to write, the seed, a progress callback and a cached zoo loader."""

    out_dir: Path
    seed: int = 0
    progress: Callable[[str], None] | None = None
    _bundles: dict[str, Bundle | None] = field(default_factory=dict, repr=False)

    @property
    def figures_dir(self) -> Path:
        return Path(self.out_dir) / "figures"

    def bundle(self, name: str) -> Bundle | None:
        """Zoo model ``name``, loaded once per demo; ``None`` when the zoo does not have it."""
        if name not in self._bundles:
            path = zoo.zoo_path(name)
            self._bundles[name] = None if path is None else load(path)
        return self._bundles[name]

    def say(self, message: str) -> None:
        """Pass a progress message to the callback, if there is one."""
        if self.progress is not None:
            self.progress(message)


SectionFn = Callable[[DemoContext], Section | None]
SECTIONS: dict[str, SectionFn] = {}
ORDER: dict[str, int] = {}


def section(name: str, order: int = 100) -> Callable[[SectionFn], SectionFn]:
    """Register a demo section under ``name`` (a later registration of the same name replaces it)."""

    def register(fn: SectionFn) -> SectionFn:
        SECTIONS[name] = fn
        ORDER[name] = order
        return fn

    return register


# Modules that register more sections: each method's section lives beside the method's own report code,
# one module per survey category, and is imported here when the demo runs.
SECTION_MODULES: tuple[str, ...] = (
    "swerve.look.sections_colour",
    "swerve.look.sections_bend",
    "swerve.refine.report",
    "swerve.measure.report",
    "swerve.diverge.finetune.report",
    "swerve.scale.report",
    "swerve.diverge.report",
    "swerve.look.sections_stylegan",
    "swerve.look.sections_text",
)


# The steps of swerve's loop, in the report's order: a section belongs to the last stage whose first
# ``order`` is at or below its own. Each stage's sentence is shown under its heading.
STAGES: tuple[tuple[int, str, str], ...] = (
    (
        0,
        "Make",
        "The models everything else starts from: trained on colour emoji, clothes, digits or dots "
        "on a plane.",
    ),
    (
        60,
        "Diverge",
        "Ways of making a model produce what its data never showed: bend it as it draws, search its "
        "hidden space, fine-tune it away from the data, or train it with little or no data at all.",
    ),
    (70, "Refine", "Samples nudged after the fact, using what the model's own critic knows."),
    (
        80,
        "Measure",
        "How far a change moved a model from its data, how good the pictures still are, and where "
        "inside the network the surprise comes from.",
    ),
    (90, "Look and scale", "Many variations of one recipe, run, cached and measured side by side."),
)


def stage_of(name: str) -> str:
    """The stage of the loop that the section registered as ``name`` belongs to (by its ``order``)."""
    order = ORDER.get(name, 100)
    return [stage for first, stage, _ in STAGES if first <= order][-1]


def ordered_sections() -> list[tuple[str, SectionFn]]:
    """The registered sections, these and those of ``SECTION_MODULES``, by ascending order, then name."""
    for module in SECTION_MODULES:
        importlib.import_module(module)
    return sorted(SECTIONS.items(), key=lambda item: (ORDER.get(item[0], 100), item[0]))


# --- the sections ------------------------------------------------------------------------------------------
PER_ROW = 8
WALK_CLASS = "Sneaker"
TOY_POINTS = 2000


@section("fashion-gan", order=10)
def fashion_gan(ctx: DemoContext) -> Section | None:
    gan = ctx.bundle("fashion-gan")
    if gan is None:
        return None
    k = gan.num_classes
    labels = torch.arange(k).repeat_interleave(PER_ROW) if k else None
    samples = gan.sample(len(labels) if k else 8 * PER_ROW, seed=ctx.seed, labels=labels)
    grid = upscale(make_grid(samples.x, nrow=PER_ROW, value_range=_range(gan)))
    names = gan.data.classes[:k]
    caption = f"One row per class, top to bottom: {', '.join(names)}." if names else "Samples."
    table: dict[str, float | int] = {"samples": len(samples.x)}
    classifier = ctx.bundle("fashion-classifier")
    fits = classifier is not None and list(samples.x.shape[1:]) == list(classifier.data.shape)
    if fits and labels is not None:
        agreement = class_agreement(classifier.classifier, samples.x, labels)
        table["% classified as the class asked for"] = 100 * agreement
    note = ""
    if "discriminator" in gan.networks:
        table["mean discriminator logit"] = mean_logit(gan, samples.x, samples.labels)
        real = fashion_test_images(len(samples.x), ctx.seed)
        if real is not None and list(real[0].shape[1:]) == gan.data.shape:
            table["… on real test images"] = mean_logit(gan, *real)
        elif real is None:
            note = f" Not shown: the critic's logit on real test images, as {missing_test_images()}."
    return Section(
        title="The zoo: Fashion-MNIST GAN",
        text=(
            "A GAN trained on small pictures of clothes, asked for one kind of garment per row. Beside it: "
            "how often a separately trained classifier agrees with the kind asked for, and how real the "
            "GAN's own critic (its discriminator) finds them on average, next to what it says of real "
            "photos: higher means more convincing." + note
        ),
        figures=[Figure(grid, caption, name="fashion-gan-classes")],
        table=table,
        kind="zoo",
    )


@section("latent-walk", order=20)
def walk(ctx: DemoContext) -> Section | None:
    gan = ctx.bundle("fashion-gan")
    if gan is None:
        return None
    names = gan.data.classes
    label = (names.index(WALK_CLASS) if WALK_CLASS in names else 0) if gan.num_classes else None
    batches = latent_walk(gan, n_points=4, frames_per_leg=12, seed=ctx.seed, label=label, n=4)
    value_range = _range(gan)
    frames = [upscale(make_grid(x, nrow=2, value_range=value_range), 128) for x in batches]
    gif = save_animation(frames, ctx.figures_dir / "latent-walk.gif", fps=12)
    journey = torch.stack([x[0] for x in batches[::4]])
    strip = upscale(make_grid(journey, nrow=len(journey), value_range=value_range), 64)
    what = f" ({names[label]})" if label is not None and label < len(names) else ""
    return Section(
        title="A latent walk",
        text=(
            f"Four walkers glide smoothly between random points of the GAN's hidden number space, the kind "
            f"of garment held fixed{what}: each step nudges the numbers, and the picture morphs with them. "
            "The strip follows the first walker, one frame in four, back to where it started."
        ),
        figures=[
            Figure(gif, "Four looping walks, 12 frames per leg (spherical interpolation)."),
            Figure(strip, "The first walker's journey, left to right.", name="latent-walk-strip"),
        ],
        table={"points visited per walker": 4, "frames": len(batches)},
        kind="walk",
    )


@section("vae", order=30)
def vae(ctx: DemoContext) -> Section | None:
    model = ctx.bundle("fashion-vae")
    if model is None:
        return None
    value_range = _range(model)
    prior = model.sample(4 * PER_ROW, seed=ctx.seed).x
    figures = [
        Figure(
            upscale(make_grid(prior, nrow=PER_ROW, value_range=value_range)),
            "New images: random latent codes through the decoder.",
            name="vae-prior",
        ),
    ]
    table: dict[str, float | int] = {"latent dimensions": model.latent.dim if model.latent else 0}
    real = fashion_test_images(2 * PER_ROW, ctx.seed)
    if real is not None and "encoder" in model.networks and list(real[0].shape[1:]) == model.data.shape:
        x, labels = real
        recon = reconstruct(model, x, labels)
        rows = torch.cat([x[:PER_ROW], recon[:PER_ROW], x[PER_ROW:], recon[PER_ROW:]])
        figures.append(
            Figure(
                upscale(make_grid(rows, nrow=PER_ROW, value_range=value_range)),
                "Rows 1 and 3: real test images. Rows 2 and 4: the VAE's reconstructions of them.",
                name="vae-reconstructions",
            )
        )
        table["reconstruction error (mean squared)"] = torch.mean((recon - x) ** 2).item()
    note = ""
    if real is None and "encoder" in model.networks:
        note = f" Not shown: reconstructions and their error, as {missing_test_images()}."
    return Section(
        title="The VAE",
        text=(
            "A variational autoencoder squeezes each picture into a handful of numbers and rebuilds it from "
            "them. First, new pictures made from random numbers; then real clothes above their rebuilt "
            "versions, which usually come out a little softer." + note
        ),
        figures=figures,
        table=table,
        kind="zoo",
    )


@section("toys", order=40)
def toys(ctx: DemoContext) -> Section | None:
    figures, rows = [], []
    for name, title, real_data in (
        ("gaussians25-wgangp", "25 Gaussians", gaussians25),
        ("swissroll-wgangp", "Swiss roll", swiss_roll),
    ):
        model = ctx.bundle(name)
        if model is None:
            continue
        points = model.sample(TOY_POINTS, seed=ctx.seed).x
        reference = real_data(TOY_POINTS, seed=ctx.seed + 1).x
        plot = scatter_points(points, reference, title=title)
        figures.append(
            Figure(
                plot, f"{title}: generated points (orange) over real data (grey).", pixelated=False, name=name
            )
        )
        row: dict[str, float | int | str] = {"model": title}
        scores = gaussians25_scores if name.startswith("gaussians25") else swissroll_scores
        row.update(scores(points))
        rows.append(row)
    if not figures:
        return None
    return Section(
        title="2-D toys",
        text=(
            "Two tiny GANs that draw dots on a plane instead of pictures, so you can see at a glance where "
            "they put their samples. On the 25 Gaussians we count the dots that land on a blob and the blobs "
            "that get their share: a blob left empty is the classic failure called mode collapse."
        ),
        figures=figures,
        table=rows,
        kind="toy",
    )


@section("digits-gan", order=50)
def digits(ctx: DemoContext) -> Section | None:
    gan = ctx.bundle("digits-gan")
    if gan is None:
        return None
    columns = gan.num_classes or 8  # a conditional model cycles through its classes: one column each
    x = gan.sample(8 * columns, seed=ctx.seed).x
    grid = upscale(make_grid(x, nrow=columns, value_range=_range(gan)))
    return Section(
        title="8×8 digits GAN",
        text=(
            "A small GAN trained on the 8×8-pixel handwritten digits that ship with scikit-learn. "
            "Tiny pictures make every experiment fast, so this is the model to try ideas on first."
        ),
        figures=[Figure(grid, f"{len(x)} generated digits.", name="digits-gan")],
        table={
            "generator parameters": sum(p.numel() for p in gan.generator.parameters()),
            "latent dimensions": gan.latent.dim if gan.latent else 0,
        },
        kind="zoo",
    )


# --- helpers the sections share ----------------------------------------------------------------------------
def _range(bundle: Bundle) -> tuple[float, float]:
    lo, hi = bundle.data.range
    return float(lo), float(hi)


@torch.no_grad()
def mean_logit(gan: Bundle, x: torch.Tensor, labels: torch.Tensor | None) -> float:
    """The discriminator's mean output on ``x`` (passing the labels to a class-conditional one)."""
    net = gan.discriminator.eval()
    conditional = getattr(getattr(net, "config", None), "num_classes", 0)
    args = [x.to(gan.device)]
    if conditional and labels is not None:
        args.append(labels.to(gan.device))
    return net(*args).float().mean().item()


@torch.no_grad()
def reconstruct(vae_bundle: Bundle, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    """Encode ``x`` to the posterior means and decode them again."""
    device = vae_bundle.device
    mu, _ = vae_bundle.encoder.eval()(x.to(device))
    decoder = vae_bundle.generator.eval()
    if vae_bundle.num_classes:
        if labels is None:
            raise SwerveError("the VAE is class-conditional but the test images have no labels")
        return decoder(mu, labels.to(device)).cpu()
    return decoder(mu).cpu()


def missing_test_images() -> str:
    """Why Fashion-MNIST's test images cannot be loaded, in words with how to get them ("" if they can)."""
    try:
        load_dataset("fashion-mnist", split="test")
    except SwerveError as exc:
        return f"the Fashion-MNIST test images are not there ({exc})"
    return ""


def fashion_test_images(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor | None] | None:
    """``n`` random Fashion-MNIST test images and their labels, or None where the data are not on disk."""
    try:
        data = load_dataset("fashion-mnist", split="test")
    except SwerveError:
        return None
    pick = torch.randperm(len(data), generator=make_generator(seed))[:n]
    return data.x[pick], None if data.labels is None else data.labels[pick]

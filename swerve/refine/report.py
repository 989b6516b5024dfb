"""The demo report's refinement section: each method's samples on the 25-Gaussians toy, and refined images."""

from __future__ import annotations

import copy

import torch

from swerve.data.toys import gaussians25
from swerve.look.grid import make_grid, upscale
from swerve.look.plot import scatter_points
from swerve.look.report import Figure, Section
from swerve.look.sections import DemoContext, section
from swerve.measure import gaussians25_scores, kde_log_likelihood
from swerve.refine.core import discriminator_critic
from swerve.refine.ratio import (
    CALIBRATED_OBJECTIVES,
    class_critic,
    discriminator_objective,
    fit_ratio,
    needs_density_ratio,
    ratio_critic,
)
from swerve.refine.registry import initial_latents, run_method

POINTS = 500
CORRECTOR_STEPS = 500  # a density-ratio corrector for DDLS, DRS and MH when the toy's critic is a WGAN's
# Demo-sized settings: MH with 32 proposals per sample (the paper: 640), everything else at its defaults.
METHODS = [
    ("DGflow-KL", "dgflow", {}),
    ("DOT", "dot", {}),
    ("DDLS", "ddls", {}),
    ("DRS", "drs", {}),
    ("MH", "mh", {"k": 32}),
]
TARGET = "Bag"


@section("refine", order=70)
def refine_section(ctx: DemoContext) -> Section | None:
    toy = ctx.bundle("gaussians25-wgangp")
    gan = ctx.bundle("fashion-gan")
    if toy is None and gan is None:
        return None
    figures: list[Figure] = []
    rows: list[dict] = []
    if toy is not None:
        figures_toy, rows = _toy(toy, ctx.seed)
        figures += figures_toy
    if gan is not None:
        figures += _images(gan, ctx)
    return Section(
        title="Refining samples with the critic",
        text=(
            "A GAN's critic still knows where real data lies. Discriminator Gradient Flow (DGflow) nudges "
            "each sample's hidden numbers uphill on the critic's score, a little at a time; the baselines "
            "move them differently (DOT, DDLS) or keep only the samples the critic likes (DRS, MH). Every "
            "plot starts from the same 500 points of the 25-Gaussians toy; on the clothes, the same flow "
            f"runs towards realism, away from it, and towards a classifier's idea of a {TARGET.lower()}."
            + (
                ""
                if toy is None or discriminator_objective(toy) in (None, *CALIBRATED_OBJECTIVES)
                else " The toy's critic is a WGAN's, not a density ratio: DDLS, DRS and MH read a corrector "
                f"trained on top of it ({CORRECTOR_STEPS} steps of logistic regression, data vs samples)."
            )
        ),
        figures=figures,
        table=rows,
        kind="refine",
    )


def _toy(bundle, seed: int) -> tuple[list[Figure], list[dict]]:
    critic = discriminator_critic(bundle.discriminator)
    ratio = critic
    if discriminator_objective(bundle) not in (None, *CALIBRATED_OBJECTIVES):  # e.g. WGAN-GP: correct it
        corrected = copy.deepcopy(bundle)
        real = gaussians25(20000, seed=seed + 3).x
        with torch.enable_grad():  # the demo draws its sections without gradients; this one trains
            fit_ratio(corrected, real, corrector=True, steps=CORRECTOR_STEPS, seed=seed)
        ratio = ratio_critic(corrected)
    z, _ = initial_latents(bundle, POINTS, seed)
    real = gaussians25(POINTS, seed=seed + 1).x
    held_out = gaussians25(POINTS, seed=seed + 2).x
    results = [("base", bundle.sample(POINTS, seed=seed, z=z).x, 0.0)]
    for name, method, settings in METHODS:
        chosen = ratio if needs_density_ratio(method, settings) else critic
        out = run_method(method, bundle, chosen, z, seed=seed, **settings)
        results.append((name, out.x, out.seconds))
    figures, rows = [], []
    for name, x, seconds in results:
        scores = gaussians25_scores(x)
        figures.append(
            Figure(
                scatter_points(x, real, title=name, size=3.0),
                f"25 Gaussians, {name}: samples (orange) over real data (grey).",
                pixelated=False,
                name=f"refine-{name.lower()}",
            )
        )
        rows.append(
            {
                "method": name,
                **scores,
                "KDE log-likelihood": kde_log_likelihood(x, held_out),
                "seconds": seconds,
            }
        )
    return figures, rows


def _images(gan, ctx: DemoContext) -> list[Figure]:
    critic = discriminator_critic(gan.discriminator)
    per_row = 8
    z, labels = initial_latents(
        gan, 3 * per_row, ctx.seed, labels=[7] * per_row + [0] * per_row + [5] * per_row
    )
    lo, hi = gan.data.range
    base = gan.sample(len(z), seed=ctx.seed, z=z, labels=labels).x
    toward = run_method("dgflow", gan, critic, z, labels=labels, seed=ctx.seed).x
    away = run_method("dgflow", gan, critic, z, labels=labels, seed=ctx.seed, reverse=True).x
    figures = [
        Figure(
            upscale(make_grid(torch.cat([base, toward, away]), nrow=per_row, value_range=(lo, hi))),
            "Rows 1–3: samples; rows 4–6: the same after DGflow (25 steps); rows 7–9: after the reverse "
            "flow, pushed away from what the critic calls real.",
            name="refine-fashion-gan",
        )
    ]
    classifier = ctx.bundle("fashion-classifier")
    if classifier is not None and TARGET in classifier.data.classes:
        target = classifier.data.classes.index(TARGET)
        bag = run_method(
            "dgflow", gan, class_critic(classifier.classifier, target), z, labels=labels, seed=ctx.seed
        ).x
        figures.append(
            Figure(
                upscale(make_grid(torch.cat([base, bag]), nrow=per_row, value_range=(lo, hi))),
                f"Top: samples; bottom: flowed towards the classifier's log-odds for "
                f"'{TARGET}', with the generator's own classes unchanged.",
                name="refine-towards-class",
            )
        )
    return figures

"""The demo report's "diverge while making" sections: novelty search, Digits that are not, held-out classes
and CAN, training without data. Each uses the zoo's models and a few seconds of CPU."""

from __future__ import annotations

import torch

from swerve.data import load_dataset
from swerve.diverge.compare import measure_samples, reference_images
from swerve.diverge.digits_not import cluster_examples, digits_that_are_not, white_ratio
from swerve.diverge.inspiring import FASHION_HELD_OUT, held_out_harness
from swerve.diverge.nodata import batch_variance
from swerve.diverge.novelty import search_bundle
from swerve.look.grid import make_grid, upscale
from swerve.look.report import Figure, Section
from swerve.look.sections import DemoContext, section

PER_ROW = 8


def _grid(x: torch.Tensor, name: str, caption: str, nrow: int = PER_ROW) -> Figure:
    return Figure(upscale(make_grid(x, nrow=nrow)), caption, name=name)


def _rounded(row: dict) -> dict:
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}


@section("novelty-search", order=61)
def novelty_search_section(ctx: DemoContext) -> Section | None:
    gan, clf = ctx.bundle("fashion-gan"), ctx.bundle("fashion-classifier")
    if gan is None or clf is None:
        return None
    ctx.say("novelty search")
    archive = search_bundle(
        gan, clf.classifier, budget=800, population=40, add_per_generation=2, seed=ctx.seed
    )
    random = gan.sample(len(archive), seed=ctx.seed).x
    reference = reference_images("fashion-mnist", 500, seed=ctx.seed)
    rows = []
    if reference is not None:
        for name, x in (("random samples (baseline)", random), ("novelty-search archive", archive.x)):
            values = measure_samples(x, reference, clf.classifier, seed=ctx.seed)
            keep = ("novelty", "sparseness", "precision", "recall")
            rows.append({"samples": name, **{k: round(values[k], 3) for k in keep}})
    best = archive.x[archive.novelty.argsort(descending=True)[: 4 * PER_ROW]]
    return Section(
        title="Novelty search in the GAN's latent space",
        text=(
            "Instead of asking the GAN for likely pictures, an evolutionary search looks for hidden codes "
            "whose pictures differ most from everything found so far (as the clothes classifier sees "
            "them), and keeps the most novel in an archive. Next to random samples of the same GAN, the "
            "archive spreads wider (sparseness) and lands further from real clothes (novelty), at some "
            "cost in realism (precision)."
        ),
        figures=[
            _grid(best, "novelty-archive", f"The archive's 32 most novel of {len(archive)} (800 GAN calls)."),
            _grid(random[: 4 * PER_ROW], "novelty-random", "Random samples of the same GAN, for comparison."),
        ],
        table=rows or None,
        kind="diverge",
    )


@section("digits-that-are-not", order=65)
def digits_not_section(ctx: DemoContext) -> Section | None:
    ae, clf = ctx.bundle("fashion-wta-ae"), ctx.bundle("fashion-classifier")
    if ae is None or clf is None:
        return None
    ctx.say("digits that are not")
    data = load_dataset("fashion-mnist", n=5000)
    result = digits_that_are_not(
        ae.networks["autoencoder"],
        clf.classifier,
        white_ratio(data.x),
        n=96,
        clusters=6,
        max_iter=40,
        class_names=data.classes,
        seed=ctx.seed,
    )
    examples, order = cluster_examples(result, per_cluster=PER_ROW)
    novel = result.novel_clusters
    table = [
        _rounded({k: v for k, v in row.items() if k != "mean top probability"})
        for row in sorted(result.table, key=lambda r: order.index(r["cluster"]))
    ]
    return Section(
        title="Fashion that is not: fixed points of a sparse autoencoder",
        text=(
            "A sparse autoencoder that can only draw a picture as a few strokes is fed noise, and its own "
            "output, again and again (black and white, with as much white as real clothes have) until the "
            "picture stops changing. The settled pictures are grouped; the classifier recognises some groups "
            f"as clothes it knows, and {len(novel)} of {len(result.table)} as nothing it knows."
        ),
        figures=[
            _grid(
                examples,
                "digits-not-clusters",
                "One row per cluster, unrecognised clusters first (rows padded with black).",
            ),
        ],
        table=table,
        kind="diverge",
    )


@section("inspiring-set", order=63)
def inspiring_section(ctx: DemoContext) -> Section | None:
    gan, can, clf = (
        ctx.bundle(n) for n in ("fashion-heldout-gan", "fashion-heldout-can", "fashion-classifier")
    )
    if gan is None or clf is None:
        return None
    ctx.say("held-out classes and CAN")
    test = load_dataset("fashion-mnist", split="test", n=2000)
    held = torch.isin(test.labels, torch.tensor(FASHION_HELD_OUT))
    samples = {"GAN without sandals and sneakers": gan.sample(300, seed=ctx.seed).x}
    figures = [
        _grid(samples["GAN without sandals and sneakers"][:32], "heldout-gan", "The GAN that never saw them.")
    ]
    if can is not None:
        samples["CAN without sandals and sneakers"] = can.sample(300, seed=ctx.seed).x
        figures.append(
            _grid(
                samples["CAN without sandals and sneakers"][:32],
                "heldout-can",
                "The CAN, trained on the same classes, pushed towards style ambiguity.",
            )
        )
    samples.update(
        {"real sandals and sneakers": test.x[held][:300], "real other clothes": test.x[~held][:300]}
    )
    rows = held_out_harness(samples, clf.classifier, FASHION_HELD_OUT)
    table = [
        _rounded({k: r[k] for k in ("method", "count@0.5", "count@0.9", "max", "objectness")}) for r in rows
    ]
    return Section(
        title="Clothes never seen: held-out classes and a CAN",
        text=(
            "Two models never saw a sandal or a sneaker; the CAN was also rewarded for pictures its own "
            "critic cannot place in any class it knows. A classifier that knows all ten kinds of clothing "
            "counts the share of their pictures it calls a sandal or a sneaker anyway, with more than 50% "
            "or 90% confidence (count@0.5, count@0.9; max is its mean confidence): kinds the models "
            "arrived at on their own. Real pictures show the scale."
        ),
        figures=figures,
        table=table,
        kind="diverge",
    )


@section("no-data", order=64)
def nodata_section(ctx: DemoContext) -> Section | None:
    model = ctx.bundle("nodata-gan")
    if model is None:
        return None
    x1 = model.sample(4 * PER_ROW, seed=ctx.seed).x
    z = torch.randn(4 * PER_ROW, model.latent.dim, generator=torch.Generator().manual_seed(ctx.seed))
    with torch.no_grad():
        x2 = model.networks["generator_b"].eval()(z)
    return Section(
        title="A GAN trained without data",
        text=(
            "Two generators and a critic, and no pictures at all: the critic learns to tell the first "
            "generator from the second, the first tries to pass for the second, the second tries to stand "
            "apart, and "
            "each is rewarded for more variety than the other. What comes out owes nothing to a data set; "
            "batch variance measures how varied each generator's pictures are."
        ),
        figures=[
            _grid(x1, "nodata-g1", "Generator 1, which tries to pass for generator 2."),
            _grid(x2, "nodata-g2", "Generator 2, which tries to stand apart."),
        ],
        table={
            "batch variance, generator 1": round(float(batch_variance(x1)), 3),
            "batch variance, generator 2": round(float(batch_variance(x2)), 3),
            "training steps": model.training.get("steps", 0),
        },
        kind="diverge",
    )

"""The demo's colour card: the emoji GAN, one column per group, above the training emoji each sample is
nearest to (a memorisation check), with its numbers in ``emoji-classifier``'s features.

Few samples keep it quick (the numbers are rough: 90 samples against as many held-out emoji); the zoo
quality benchmark (``benchmarks/zoo_quality.py``) measures the same on 900. Without Debian's emoji font
the samples are still shown, and the card says what is missing and how to install it.
"""

from __future__ import annotations

import torch

from swerve.data import load_dataset
from swerve.errors import SwerveError
from swerve.look.grid import make_grid, upscale
from swerve.look.report import Figure, Section
from swerve.look.sections import DemoContext, section
from swerve.measure import class_agreement, memorisation, nearest_rows

PAIRS = 2  # rows of samples shown, each above its row of nearest training emoji
PER_GROUP = 10  # samples per group behind the numbers
SHOWN = ("fd", "precision", "recall")  # of swerve.refine.scores's numbers


@section("colour", order=5)
def colour(ctx: DemoContext) -> Section | None:
    from swerve.refine.scores import score_samples  # local: refine is heavier than the report needs

    gan = ctx.bundle("emoji-gan")
    if gan is None or not gan.num_classes:
        return None
    k = gan.num_classes
    samples = gan.sample(k * PER_GROUP, seed=ctx.seed, labels=torch.arange(k).repeat(PER_GROUP))
    shown = samples.x[: k * PAIRS]
    table: dict[str, float | int] = {"samples measured": len(samples.x)}
    classifier = ctx.bundle("emoji-classifier")
    if classifier is not None and list(classifier.data.shape) == gan.data.shape:
        table["% in the group asked for"] = 100 * class_agreement(
            classifier.classifier, samples.x, samples.labels
        )
    scores, missing = score_samples(gan, samples.x, samples.labels)
    missing = {name: why for name, why in missing.items() if name in SHOWN}
    table.update({name: scores[name] for name in SHOWN if name in scores})
    try:
        train = load_dataset("emoji", image_size=gan.data.shape[-1], progress=False)
        test = load_dataset("emoji", image_size=gan.data.shape[-1], split="test", progress=False)
    except SwerveError as exc:
        unmeasured = "".join(f", {name}" for name in missing)
        rows = [shown]
        note = f" Not shown: the nearest training emoji{unmeasured}, as the emoji cannot be drawn: {exc}"
    else:
        nearest = train.x[nearest_rows(shown, train.x)]
        rows = [
            part for r in range(PAIRS) for part in (shown[r * k : (r + 1) * k], nearest[r * k : (r + 1) * k])
        ]
        copies = memorisation(samples.x.flatten(1), train.x.flatten(1), test.x.flatten(1), quantile=0.05)
        table["% closer to a training emoji than 95% of held-out ones are"] = 100 * copies["copies"]
        note = ""
    if missing and not note:
        note = f" Not measured: {', '.join(missing)} ({next(iter(missing.values()))})."
    groups = ", ".join(gan.data.classes[:k])
    value_range = (float(gan.data.range[0]), float(gan.data.range[1]))
    grid = upscale(make_grid(torch.cat(rows), nrow=k, value_range=value_range), 512)
    caption = f"Columns, left to right: {groups}."
    if len(rows) > 1:
        caption += " Each row of samples sits above the training emoji nearest to each, in pixels."
    return Section(
        title="The zoo: colour emoji GAN",
        text=(
            "A GAN trained on 48-pixel colour emoji, asked for one group of emoji per column. Under each "
            "sample sits the training emoji closest to it: a model that copies would show twins. Beside "
            "them: how often a separately trained emoji classifier sees the group asked for, and how close "
            "the samples are to held-out emoji in that classifier's features (FD: lower is closer; "
            "precision: the share that look real; recall: how much of the real variety they cover)." + note
        ),
        figures=[Figure(grid, caption, name="emoji-gan")],
        table=table,
        kind="zoo",
    )

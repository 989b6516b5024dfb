"""The demo report's fine-tuning section: a loss-hacking trail and a guidance trail, with metric curves."""

from __future__ import annotations

import tempfile

import torch

from swerve.diverge.finetune.config import FinetuneConfig
from swerve.diverge.finetune.run import finetune
from swerve.diverge.finetune.trail import missing_note, trail_curves
from swerve.look.report import Figure, Section
from swerve.look.sections import DemoContext, section

STEPS, EVERY, BATCH = 30, 10, 8
LABELS = {"fake_prob": "D: P(fake)", "target_prob": "P(Bag)", "novelty": "novelty", "precision": "precision"}


@section("finetune", order=62)
def finetune_section(ctx: DemoContext) -> Section | None:
    gan = ctx.bundle("fashion-gan")
    if gan is None or "discriminator" not in gan.networks or ctx.bundle("fashion-classifier") is None:
        return None
    common = dict(steps=STEPS, trail_every=EVERY, batch_size=BATCH, seed=ctx.seed, grid_size=20)
    runs = {
        "uncanny": FinetuneConfig(method="uncanny", **common),
        "guided": FinetuneConfig(
            method="guided", scorer="fashion-classifier", target=[8], beta=1.0, **common
        ),
    }
    trails = {}
    with tempfile.TemporaryDirectory() as tmp, torch.enable_grad():
        for name, cfg in runs.items():
            ctx.say(f"fine-tuning: {name}")
            result = finetune(gan, cfg, f"{tmp}/{name}", progress=False)
            trails[name] = (result.trail.render(per_row=10, scale=2), result.trail.metrics())
    (uncanny_img, uncanny), (guided_img, guided) = trails["uncanny"], trails["guided"]
    keys = ("fake_prob", "target_prob", "novelty", "precision")
    table = [
        {"trail": name, "step": m["step"], **{LABELS[k]: m[k] for k in keys if k in m}}
        for name, (_, metrics) in trails.items()
        for m in metrics
    ]
    notes = [f"The {name} trail: {note}." for name, (_, m) in trails.items() if (note := missing_note(m))]
    return Section(
        title="Fine-tuning a GAN away from its data",
        text=(
            "Two ways of training a GAN's weights away from its data, for "
            f"{STEPS} steps of {BATCH} samples. Loss hacking (Broad, Leymarie & Grierson, 'Amplifying the "
            "Uncanny') trains the generator to make pictures its own frozen critic calls fake: the clothes "
            "dissolve into strange textures. Guidance (Broad & Grierson 2019) trains it until a classifier "
            "sees a bag, with the critic as a brake: garments square off, and the classifier is convinced "
            "well before a person would be." + "".join(f" {note}" for note in notes)
        ),
        figures=[
            Figure(
                uncanny_img,
                "Loss hacking: one row per checkpoint (steps 0, 10, 20, 30), same latents in every column.",
                name="finetune-uncanny-trail",
            ),
            Figure(
                trail_curves(uncanny, keys, "loss hacking", LABELS),
                "Loss hacking, its numbers by step: the critic's P(fake) climbs as novelty rises.",
                False,
                "finetune-uncanny-curves",
            ),
            Figure(
                guided_img,
                "Guidance towards 'Bag': one row per checkpoint (steps 0, 10, 20, 30).",
                name="finetune-guided-trail",
            ),
            Figure(
                trail_curves(guided, keys, "guidance", LABELS),
                "Guidance, its numbers by step: P(Bag) is the classifier's confidence.",
                False,
                "finetune-guided-curves",
            ),
        ],
        table=table,
        kind="diverge",
    )

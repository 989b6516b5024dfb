"""The demo report's section on network bending, blending and model rewriting (the zoo's Fashion GAN)."""

from __future__ import annotations

import torch

from swerve.diverge.bend import Bend, apply_bends
from swerve.diverge.blend import blend_bundles
from swerve.diverge.glitch import glitch
from swerve.diverge.rewrite import paste_rewrite
from swerve.look.grid import make_grid, upscale
from swerve.look.report import Figure, Section
from swerve.look.sections import DemoContext, section

LATENTS = 4
ROWS = [
    ("none", None, {}),
    ("translate", "translate", {"dx": 0.25}),
    ("rotate", "rotate", {"degrees": 90}),
    ("scale", "scale", {"factor": 1.6}),
    ("flip", "flip", {"axis": "v"}),
    ("dilate", "dilate", {"radius": 1}),
    ("erode", "erode", {"radius": 1}),
    ("sobel", "sobel", {}),
    ("threshold", "threshold", {"level": 0.5}),
    ("invert", "invert", {}),
    ("noise", "noise", {"std": 1.0}),
    ("oscillate", "oscillate", {"amplitude": 1.5, "frequency": 2.0}),
]
LAYERS = ["conv:0", "conv:1"]
ALPHAS = [0.0, 0.25, 0.5, 0.75, 1.0]


def _grid(x: torch.Tensor, nrow: int, side: int = 256):  # noqa: ANN202
    return upscale(make_grid(x, nrow=nrow), side)


def _change(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean absolute pixel change, in units of the [-1, 1] range."""
    return float((a - b).abs().mean())


@torch.no_grad()
def _bend_grid(gan, z: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, list[dict]]:  # noqa: ANN001
    g = gan.generator
    rows, table = [], []
    base = g(z, y)
    for label, transform, params in ROWS:
        row, entry = [], {"transform": label}
        for layer in LAYERS:
            bends = (
                [] if transform is None else [Bend(layer, transform, params, {"fraction": 0.5, "seed": 0})]
            )
            with apply_bends(g, bends):
                x = g(z, y)
            row.append(x)
            entry[f"pixel change at {layer}"] = _change(x, base)
        rows.append(torch.cat(row))
        table.append(entry)
    return torch.cat(rows), table


@section("bend-blend-rewrite", order=60)
def bending(ctx: DemoContext) -> Section | None:
    gan = ctx.bundle("fashion-gan")
    if gan is None:
        return None
    gen = torch.Generator().manual_seed(ctx.seed)
    z = gan.latent.sample(LATENTS, gen)
    y = torch.tensor([0, 7, 8, 3])[:LATENTS] % max(gan.num_classes, 1) if gan.num_classes else None
    ctx.say("bending: transforms x layers")
    grid, bend_table = _bend_grid(gan, z, y)
    per_row = LATENTS * len(LAYERS)

    ctx.say("bending: blend, glitch, rewrite")
    glitched = glitch(gan, "gaussian", 0.6, seed=ctx.seed)
    blend_rows = [blend_bundles(gan, glitched, alpha=a).sample(LATENTS, z=z, labels=y).x for a in ALPHAS]
    swap = blend_bundles(gan, glitched, schedule={"pivot": "conv:1", "hard": True}).sample(
        LATENTS, z=z, labels=y
    )
    blend_strip = torch.stack([r for rows in zip(*blend_rows, swap.x, strict=True) for r in rows])

    kinds = [("gaussian", 0.3), ("zero", 0.2), ("shuffle", 0.05), ("reconnect", 0.5)]
    base = gan.sample(LATENTS, z=z, labels=y).x
    glitch_rows = [base] + [
        glitch(gan, k, a, layers=["conv:0"], seed=ctx.seed).sample(LATENTS, z=z, labels=y).x for k, a in kinds
    ]

    mask = torch.zeros(28, 28)
    mask[9:19, 9:19] = 1
    # rank = the number of pasted locations (paste_rewrite caps it), so the paste holds exactly at the target
    edited, result = paste_rewrite(gan, "conv:0", source=7, target=0, mask=mask, seed=ctx.seed, rank=64, n=64)
    rank = result.directions.shape[1]
    before = gan.sample(8, seed=ctx.seed).x
    after = edited.sample(8, seed=ctx.seed).x
    others = [i for i in range(8) if i not in (0, 7)]
    figures = [
        Figure(
            _grid(grid, per_row, 384),
            f"Rows: no bend, then {', '.join(r[0] for r in ROWS[1:])}, each on a random half of the "
            f"channels. Left four columns: the bend at conv:0 (14x14 maps); right four: at conv:1 (28x28).",
            name="bend-grid",
        ),
        Figure(
            _grid(blend_strip, len(ALPHAS) + 1),
            "Each row one latent: weights blended from the GAN (left) towards a noisy copy of itself "
            f"(alpha {', '.join(map(str, ALPHAS))}); last column: coarse layers from the GAN, fine "
            "layers (conv:1 on) from the copy.",
            name="blend-strip",
        ),
        Figure(
            _grid(torch.cat(glitch_rows), LATENTS),
            "Rows: the original, then conv:0 glitched: Gaussian noise 0.3, 20% zeroed, 5% shuffled, "
            "half its channels reconnected (seed-reproducible).",
            name="glitch",
        ),
        Figure(
            _grid(torch.cat([before, after]), 8),
            "Top: samples; bottom: after rewriting conv:0 so that the middle of the last sample is drawn "
            f"into the first (rank {rank}, closed form); the others move little.",
            name="rewrite",
        ),
    ]
    table: dict[str, float | str] = {
        f"bend {e['transform']}: pixel change at conv:0 / conv:1": " / ".join(
            f"{e[f'pixel change at {layer}']:.3f}" for layer in LAYERS
        )
        for e in bend_table[1:]
    }
    table.update(
        {
            "blend: pixel change at alpha 0.5": round(_change(blend_rows[2], blend_rows[0]), 3),
            "glitch: pixel change, reconnect half of conv:0": round(_change(glitch_rows[4], base), 3),
            "rewrite: constraint residual (0 = exact)": round(result.error(), 4),
            "rewrite: rank of the weight change": rank,
            "rewrite: pixel change, the target sample": round(_change(after[0], before[0]), 3),
            "rewrite: pixel change, the other samples": round(_change(after[others], before[others]), 3),
        }
    )
    return Section(
        title="Bending, blending and rewriting a trained GAN",
        text=(
            "Four ways to change a trained GAN with no data and no training. Network bending transforms "
            "chosen channels inside the generator as it draws (deeper layers give finer, more local "
            "changes); blending mixes its weights with a noisy copy's; glitching perturbs weights from a "
            "seed. Rewriting (Bau et al. 2020) edits one layer so that chosen content appears where it is "
            "asked for, while other pictures barely move. Pixel change is the mean absolute difference "
            "from the unchanged pictures, on a -1 to 1 scale."
        ),
        figures=figures,
        table=table,
        kind="diverge",
    )

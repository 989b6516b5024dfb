"""The demo report's measurement sections: the divergence map of zoo operations, and a scan on images."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from swerve import taps
from swerve.diverge.creative import Creative, creative_decoder
from swerve.errors import SwerveError
from swerve.look.grid import make_grid, upscale
from swerve.look.report import Figure, Section
from swerve.look.sections import DemoContext, fashion_test_images, missing_test_images, section
from swerve.measure.divergence import divergence_map, plot_map
from swerve.measure.scan import empirical_pvalues, scan_group, scan_individual
from swerve.measure.scan.activations import sample_activations

MAP_OPS = [
    "none",
    "creative:fraction=0.25,0.5",
    "bend:multiply:factor=3@blocks.0",
    "bend:rotate:degrees=90@blocks.0",
    "bend:ablate@blocks.1",
    "glitch:gaussian:amount=0.5",
]
SCAN_LAYER = "blocks.0"


@section("divergence-map", order=80)
def divergence_map_section(ctx: DemoContext) -> Section | None:
    bundles = [b for b in (ctx.bundle("fashion-gan"), ctx.bundle("fashion-vae")) if b is not None]
    if not bundles:
        return None
    real = fashion_test_images(500, ctx.seed)
    if real is None:  # a card that says why, not a card that vanishes
        raise SwerveError(f"the map measures against real clothes, and {missing_test_images()}")
    ctx.say("divergence map")
    rows = divergence_map(bundles, MAP_OPS, real[0], n=100, seed=ctx.seed, cache_dir=ctx.out_dir / "cache")
    names = {"bundle": "model", "label": "change", "novelty": "novelty", "precision": "precision"}
    names |= {"recall": "recall", "fd": "FD"}
    table = [{shown: r[key] for key, shown in names.items()} for r in rows]
    return Section(
        title="Divergence map: how far, and how good",
        text=(
            "Each dot is one way of changing a model (the creative decoder, a bend, a weight glitch), "
            "measured on 100 samples against real clothes, as swerve's clothing classifier sees them. "
            "Right is further from the data (novelty 1 = as far as real pictures lie from each other); up "
            "is more samples that look like real clothes (precision). Good divergence moves right without "
            "dropping; FD is the Fréchet distance to real clothes (lower is closer)."
        ),
        figures=[
            Figure(
                plot_map(rows),
                "Novelty against quality, one point per operation.",
                False,
                name="divergence-map",
            )
        ],
        table=table,
        kind="measure",
    )


def _framed(x: torch.Tensor, picked: torch.Tensor) -> torch.Tensor:
    """Grey images (N, 1, H, W) as RGB with a 2-pixel frame: red where picked, grey elsewhere."""
    rgb = F.pad(x.repeat(1, 3, 1, 1), (2, 2, 2, 2), value=0.0)
    frame = torch.ones_like(rgb, dtype=torch.bool)
    frame[:, :, 2:-2, 2:-2] = False
    colour = torch.tensor([1.0, -1.0, -1.0])[None, :, None, None].expand_as(rgb)
    grey = torch.zeros_like(rgb)
    framed = torch.where(frame & picked[:, None, None, None], colour, torch.where(frame, grey, rgb))
    return framed


def _overlay(
    x: torch.Tensor, nodes: torch.Tensor, shape: tuple[int, int, int], ordinary: int
) -> torch.Tensor:
    """Samples tinted red where more channels of the scanned layer are in the sample's anomalous subset
    than in the first ``ordinary`` samples', on average (their mean map is the baseline)."""
    c, h, w = shape
    heat = nodes.reshape(len(x), c, h, w).float().mean(1, keepdim=True)
    heat = (heat - heat[:ordinary].mean(0, keepdim=True)).clamp_min(0)
    heat = F.interpolate(heat / heat.amax().clamp_min(1e-6), size=x.shape[-2:], mode="nearest")
    base = (x + 1) / 2
    rgb = torch.cat([torch.maximum(base, heat), base * (1 - heat), base * (1 - heat)], 1)
    return rgb * 2 - 1


@section("subset-scan", order=81)
def subset_scan_section(ctx: DemoContext) -> Section | None:
    vae = ctx.bundle("fashion-vae")
    if vae is None:
        return None
    ctx.say("subset scan")
    per = 8
    _, background = sample_activations(vae, 200, [SCAN_LAYER], seed=ctx.seed + 1)
    normal, acts_n = sample_activations(vae, per, [SCAN_LAYER], seed=ctx.seed + 2)
    with creative_decoder(vae.generator, Creative(seed=ctx.seed)):
        creative, acts_c = sample_activations(vae, per, [SCAN_LAYER], seed=ctx.seed + 3)
    acts = torch.cat([acts_n[SCAN_LAYER], acts_c[SCAN_LAYER]])
    pv = empirical_pvalues(acts, background[SCAN_LAYER])
    group = scan_group(pv, restarts=3, seed=ctx.seed)
    single = scan_individual(pv)
    x = torch.cat([normal.x, creative.x])
    picked = torch.zeros(len(x), dtype=torch.bool)
    picked[group.samples] = True
    shape = taps.output_shapes(vae.generator.eval(), normal.z[:1].to(vae.device))[SCAN_LAYER][1:]
    framed = upscale(make_grid(_framed(x, picked), nrow=per))
    tinted = upscale(make_grid(_overlay(x, single.nodes, shape, per), nrow=per))
    sizes = single.sizes().double()
    return Section(
        title="Subset scanning: which samples, which units",
        text=(
            "Which pictures are unusual, and which units inside the network make them so? Top row: ordinary "
            "VAE samples; bottom row: the same VAE with the creative decoder (weak units of its first block "
            "made to fire with the strong ones). The scan compares each unit with 200 ordinary samples and "
            "finds the group of samples and units that together are most surprising (a higher Berk-Jones "
            "score is more surprising)."
        ),
        figures=[
            Figure(
                framed,
                f"Group scan of {SCAN_LAYER}: the samples it picked are framed in red.",
                name="subset-scan-group",
            ),
            Figure(
                tinted,
                "Each sample scanned on its own: red tint where it has more surprising units than "
                "ordinary samples do.",
                name="subset-scan-units",
            ),
        ],
        table={
            "Berk-Jones score (higher = more surprising)": group.score,
            "p-value threshold α* of the group": group.alpha,
            "picked: creative samples": int((group.samples >= per).sum()),
            "picked: ordinary samples": int((group.samples < per).sum()),
            "units in the group's subset": f"{len(group.nodes)} of {acts.shape[1]}",
            "units per sample, ordinary (mean)": float(sizes[:per].mean()),
            "units per sample, creative (mean)": float(sizes[per:].mean()),
        },
        kind="measure",
    )

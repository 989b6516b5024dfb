"""The demo report's StyleGAN section: W-space style mixing and StyleGAN3's translation equivariance.

No pretrained StyleGAN ships with swerve (``swerve import`` brings your own), so the section draws small
randomly initialised networks: the pictures are textures, but the mechanisms show plainly.
"""

from __future__ import annotations

import torch

from swerve.look.grid import make_grid, upscale
from swerve.look.report import Figure, Section
from swerve.look.sections import DemoContext, section
from swerve.models.stylegan2 import StyleGAN2Config, StyleGAN2Generator, mix_styles
from swerve.models.stylegan3 import StyleGAN3Config, StyleGAN3Generator, translate_output, translation_psnr
from swerve.utils import make_generator

SMALL = dict(resolution=32, z_dim=64, w_dim=64, channel_base=2048, channel_max=64, mapping_layers=4)
SHIFTS = (0, 2, 4, 6)


def _contrast(x: torch.Tensor) -> torch.Tensor:
    """Stretch random-network images to [-1, 1] per image so their structure is visible."""
    lo = x.amin(dim=(1, 2, 3), keepdim=True)
    hi = x.amax(dim=(1, 2, 3), keepdim=True)
    return (x - lo) / (hi - lo).clamp_min(1e-8) * 2 - 1


@section("stylegan", order=55)
def stylegan(ctx: DemoContext) -> Section:
    torch.manual_seed(ctx.seed)
    g2 = StyleGAN2Generator(StyleGAN2Config(**SMALL)).eval()
    gen = make_generator(ctx.seed)
    with torch.no_grad():
        ws_a = g2.mapping(torch.randn(4, 64, generator=gen))  # rows: coarse styles
        ws_b = g2.mapping(torch.randn(4, 64, generator=gen))  # columns: fine styles
        rows = [ws_b]  # the first row: the column sources
        for i in range(4):
            row_source = ws_a[i : i + 1]
            rows += [row_source, mix_styles(row_source.expand(4, -1, -1), ws_b, 4)]
        cells = g2.synthesis(torch.cat(rows))  # one batch: 4 + 4 * 5 images
    corner = torch.ones(1, 3, 32, 32)  # blank
    mixing = upscale(make_grid(torch.cat([corner, _contrast(cells)]), nrow=5), 320)

    torch.manual_seed(ctx.seed)
    g3 = StyleGAN3Generator(StyleGAN3Config.preset("T", **{**SMALL, "channel_max": 32}, num_layers=6)).eval()
    with torch.no_grad():
        ws = g3.mapping(torch.randn(1, 64, generator=gen))
        frames = torch.cat([translate_output(g3, ws, dx, 0) for dx in SHIFTS])
        psnr = translation_psnr(g3, ws, 3, -2)
    strip = upscale(make_grid(_contrast(frames), nrow=len(SHIFTS)), 160)
    return Section(
        title="StyleGAN2 and StyleGAN3, in plain PyTorch",
        text=(
            "Bring your own StyleGAN: `swerve import` reads rosinality .pt and NVIDIA .pkl files without "
            "running any code inside them. Here, small random networks show two mechanisms. Style mixing: "
            "each cell takes its coarse styles (layout) from its row's image and its fine styles (colour, "
            "texture) from its column's. StyleGAN3: moving the Fourier input moves the whole picture, "
            "pixel for pixel, with nothing stuck to the frame."
        ),
        figures=[
            Figure(
                mixing, "Style mixing in W: first row and column are the sources.", name="stylegan-mixing"
            ),
            Figure(
                strip,
                f"StyleGAN3-T with its input moved {', '.join(map(str, SHIFTS))} pixels right.",
                name="stylegan3-translation",
            ),
        ],
        table={
            "StyleGAN3-T translation equivariance, EQ-T (PSNR in dB, higher = more exact)": round(psnr, 1),
            "style inputs (ws) of the 32×32 StyleGAN2": g2.num_ws,
        },
        kind="models",
    )

"""The demo report's sweep section: one bend at growing strength, run as a cached sweep."""

from __future__ import annotations

import torch

from swerve.look.grid import make_grid, upscale
from swerve.look.report import Figure, Section
from swerve.look.sections import DemoContext, section
from swerve.scale.operations import OPERATIONS
from swerve.scale.sweep import parse_spec, run_sweep

FACTORS = [1.0, 2.0, 4.0, 8.0]
PER_ROW = 8


@section("sweep", order=90)
def sweep_section(ctx: DemoContext) -> Section | None:
    gan = ctx.bundle("fashion-gan")
    if gan is None:
        return None
    bend = {"layer": "blocks.0", "transform": "multiply", "params": {"factor": 1.0}}
    spec = parse_spec(
        {
            "name": "demo-bend-strength",
            "bundle": "fashion-gan",
            "seeds": [ctx.seed],
            "n": PER_ROW,
            "metrics": ["change", "diversity", "class_agreement"],
            "save_samples": False,
            "jobs": [
                {"operation": "bend", "params": {"bends": [bend]}, "grid": {"bends.0.params.factor": FACTORS}}
            ],
        }
    )
    out = ctx.out_dir / "sweep"
    first = run_sweep(spec, out, progress=False)
    again = run_sweep(spec, out, progress=False)  # every job is cached now: nothing runs
    rows = []
    for result in first.results:
        m = result["metrics"]
        rows.append(
            {
                "factor": result["job"]["params"]["bends"][0]["params"]["factor"],
                "change from the original": m["change"],
                "diversity": m["diversity"],
                "% classified as asked": 100 * m["class_agreement"],
            }
        )
    # The same pure jobs again, for their pictures (the sweep itself keeps numbers).
    pictures = torch.cat([OPERATIONS["bend"].run(gan, job.params, job.seed, job.n).x for job in spec.jobs])
    grid = upscale(make_grid(pictures, nrow=PER_ROW, value_range=tuple(gan.data.range)))
    return Section(
        title="A sweep: one bend at growing strength",
        text=(
            "A sweep runs many variations of a recipe and measures each: here the first layer's "
            "activations are multiplied by 1, 2, 4 and 8 (one row each). The numbers say how far each "
            "row moved from the original pictures, how varied it is, and how often a classifier still "
            f"sees the garment asked for. Results are cached by content: running it again ran "
            f"{again.ran} of {again.total} jobs."
        ),
        figures=[Figure(grid, "Rows: multiply factor 1, 2, 4, 8 on blocks.0; same latents.", name="sweep")],
        table=rows,
        kind="sweep",
    )

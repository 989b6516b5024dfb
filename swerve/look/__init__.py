"""Looking at models: image grids, animations, scatter plots, latent walks and the HTML report.

The demo (``swerve.look.demo.run_demo``) and the 2-D plots (``swerve.look.plot``) import matplotlib and the
datasets, so they are imported from their modules rather than here.
"""

from swerve.look.grid import make_grid, save_image, to_uint8, upscale
from swerve.look.report import Figure, Report, Section, format_number
from swerve.look.video import save_animation
from swerve.look.walk import latent_walk, slerp, walk_frames, walk_latents

__all__ = [
    "Figure",
    "Report",
    "Section",
    "format_number",
    "latent_walk",
    "make_grid",
    "save_animation",
    "save_image",
    "slerp",
    "to_uint8",
    "upscale",
    "walk_frames",
    "walk_latents",
]

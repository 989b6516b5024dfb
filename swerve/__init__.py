"""swerve: active divergence with deep generative models.

make a model, diverge from its data, refine its samples, measure how far it went, and look at the result.
"""

__version__ = "0.1.0"

from swerve.bundle import Bundle, DataSpec, LatentSpec, Samples, load  # noqa: E402

__all__ = ["Bundle", "DataSpec", "LatentSpec", "Samples", "load", "__version__"]

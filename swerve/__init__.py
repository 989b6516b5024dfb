"""swerve: active divergence with deep generative models.

make a model, diverge from its data, refine its samples, measure how far it went, and look at the result.
"""

__version__ = "0.1.0"

__all__ = ["Bundle", "DataSpec", "LatentSpec", "Samples", "load", "__version__"]
_FROM_BUNDLE = {"Bundle", "DataSpec", "LatentSpec", "Samples", "load"}


def __getattr__(name: str) -> object:
    """``swerve.load``, ``swerve.Bundle``, ...: imported (with torch) on first use, so ``import swerve`` and
    the command line's help stay fast."""
    if name in _FROM_BUNDLE:
        from swerve import bundle

        return getattr(bundle, name)
    raise AttributeError(f"module 'swerve' has no attribute {name!r}")

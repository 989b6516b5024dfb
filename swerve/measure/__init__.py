"""Measurements: pure functions of tensors that say how good, how diverse and how novel samples are."""

from swerve.measure.toys import gaussians25_scores, swissroll_scores

__all__ = ["gaussians25_scores", "swissroll_scores"]

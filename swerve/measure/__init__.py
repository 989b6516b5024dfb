"""Measurements: pure functions of tensors that say how good, how diverse and how novel samples are."""

from swerve.measure.classes import class_agreement
from swerve.measure.toys import gaussians25_scores, swissroll_scores

__all__ = ["class_agreement", "gaussians25_scores", "swissroll_scores"]

"""Measurements: pure functions of tensors that say how good, how diverse and how novel samples are."""

from swerve.measure.classes import class_agreement
from swerve.measure.features import FeatureSpec, domain_classifier, extract_features
from swerve.measure.fidelity import density_coverage, frechet_distance, kid, precision_recall
from swerve.measure.measurement import Measurement, novelty_quality
from swerve.measure.novelty import knn_distance, memorisation, objectness, out_of_class
from swerve.measure.toys import gaussians25_scores, kde_log_likelihood, swissroll_scores

__all__ = [
    "FeatureSpec",
    "Measurement",
    "class_agreement",
    "density_coverage",
    "domain_classifier",
    "extract_features",
    "frechet_distance",
    "gaussians25_scores",
    "kde_log_likelihood",
    "kid",
    "knn_distance",
    "memorisation",
    "novelty_quality",
    "objectness",
    "out_of_class",
    "precision_recall",
    "swissroll_scores",
]

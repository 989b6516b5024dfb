"""Measurements: pure functions of tensors that say how good, how diverse and how novel samples are."""

from swerve.measure.classes import class_agreement
from swerve.measure.diversity import collapsed, pairwise_diversity
from swerve.measure.features import (
    EXTRACTORS,
    Extractor,
    FeatureSpec,
    domain_classifier,
    extract_features,
    get_extractor,
    register_extractor,
)
from swerve.measure.fidelity import density_coverage, frechet_distance, kid, precision_recall
from swerve.measure.measurement import Measurement, explain_missing, measure_samples, novelty_quality
from swerve.measure.novelty import knn_distance, memorisation, nearest_rows, objectness, out_of_class
from swerve.measure.posterior import class_probabilities, posterior_entropy
from swerve.measure.sparseness import novelty_scores, sparseness
from swerve.measure.toys import gaussians25_scores, kde_log_likelihood, swissroll_scores

__all__ = [
    "EXTRACTORS",
    "Extractor",
    "FeatureSpec",
    "Measurement",
    "class_agreement",
    "class_probabilities",
    "collapsed",
    "density_coverage",
    "domain_classifier",
    "explain_missing",
    "extract_features",
    "frechet_distance",
    "get_extractor",
    "gaussians25_scores",
    "kde_log_likelihood",
    "kid",
    "knn_distance",
    "measure_samples",
    "memorisation",
    "nearest_rows",
    "novelty_quality",
    "novelty_scores",
    "objectness",
    "out_of_class",
    "pairwise_diversity",
    "posterior_entropy",
    "precision_recall",
    "register_extractor",
    "sparseness",
    "swissroll_scores",
]

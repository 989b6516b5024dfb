"""The numbers reported before and after refinement, taken from swerve.measure for the bundle's data.

Points (2-D toys): % high quality and mode coverage (swerve.measure.toys) and the KDE log-likelihood of
held-out real points. Images with a shipped domain classifier: Fréchet distance, precision, recall, density,
coverage and novelty in its features (swerve.measure.novelty_quality). Always: the critic's mean logit.
"""

from __future__ import annotations

from typing import Any

import torch

from swerve.bundle import Bundle
from swerve.data import load_dataset
from swerve.data.toys import gaussians25, swiss_roll
from swerve.errors import SwerveError
from swerve.measure import gaussians25_scores, kde_log_likelihood, novelty_quality, swissroll_scores
from swerve.measure.features import DOMAIN_CLASSIFIERS, domain_classifier
from swerve.refine.core import Critic, critic_logits

TOYS = {"gaussians25": (gaussians25, gaussians25_scores), "swissroll": (swiss_roll, swissroll_scores)}
HELD_OUT_SEED = 12345  # real points never used to train a model or a ratio estimator (those use seed 0, 1)


def reference_data(dataset: str, n: int) -> tuple[torch.Tensor, torch.Tensor | None] | None:
    """``n`` held-out real samples of ``dataset`` (toys: a fresh seed; images: the test split), or None."""
    if dataset in TOYS:
        real = TOYS[dataset][0](n, seed=HELD_OUT_SEED)
        return real.x, real.labels
    try:
        real = load_dataset(dataset, split="test")
    except (SwerveError, TypeError):
        return None
    pick = torch.randperm(len(real), generator=torch.Generator().manual_seed(HELD_OUT_SEED))[:n]
    return real.x[pick], None if real.labels is None else real.labels[pick]


def score_samples(
    bundle: Bundle,
    x: torch.Tensor,
    labels: torch.Tensor | None = None,
    critic: Critic | None = None,
    reference: torch.Tensor | None = None,
) -> dict[str, Any]:
    """Quality numbers for samples ``x`` of ``bundle`` (see the module docstring); ``reference`` is the
    held-out real data (default: :func:`reference_data` of the bundle's dataset, as many as samples)."""
    dataset = bundle.data.dataset
    scores: dict[str, Any] = {}
    if critic is not None:
        scores["mean critic logit"] = float(critic_logits(critic, x, labels, device=bundle.device).mean())
    if reference is None:
        found = reference_data(dataset, max(len(x), 1000 if dataset in TOYS else len(x)))
        reference = None if found is None else found[0]
    if dataset in TOYS:
        scores.update(TOYS[dataset][1](x))
        if reference is not None:
            scores["KDE log-likelihood"] = kde_log_likelihood(x, reference)
    elif dataset in DOMAIN_CLASSIFIERS and reference is not None and len(x) >= 4:
        measurement = novelty_quality(x, reference, domain_classifier(dataset), extractor_name=dataset)
        scores.update({k: float(v) for k, v in measurement.values.items()})
    return scores

"""The numbers reported before and after refinement, taken from swerve.measure for the bundle's data.

Points (2-D toys): % high quality and mode coverage (swerve.measure.toys) and the KDE log-likelihood of
held-out real points. Images with a shipped domain classifier: Fréchet distance, precision, recall, density,
coverage and novelty in its features (swerve.measure.novelty_quality). Always: the critic's mean logit.
A number that cannot be computed is named, with the reason and how to get what it needs, in ``missing``.
"""

from __future__ import annotations

from typing import Any

import torch

from swerve.bundle import Bundle
from swerve.data import load_dataset, load_like
from swerve.data.text import bundle_vocab, decode
from swerve.data.toys import gaussians25, swiss_roll
from swerve.errors import DataError, SwerveError
from swerve.measure import gaussians25_scores, kde_log_likelihood, novelty_quality, swissroll_scores
from swerve.measure.features import DOMAIN_CLASSIFIERS, domain_classifier
from swerve.measure.text import js_ngrams
from swerve.refine.core import Critic, critic_logits

TOYS = {"gaussians25": (gaussians25, gaussians25_scores), "swissroll": (swiss_roll, swissroll_scores)}
HELD_OUT_SEED = 12345  # real points never used to train a model or a ratio estimator (those use seed 0, 1)
IMAGE_METRICS = ("fd", "precision", "recall", "density", "coverage", "novelty")
MIN_IMAGES = 4  # fewer samples than this have no k-NN precision or recall


def reference_data(
    dataset: str, n: int, shape: list[int] | None = None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``n`` held-out real samples of ``dataset`` (toys: a fresh seed; images: the test split, at the size
    and channels of ``shape`` when given, a model's sample shape).

    Raises SwerveError saying which data are missing and how to get them."""
    if dataset in TOYS:
        real = TOYS[dataset][0](n, seed=HELD_OUT_SEED)
        return real.x, real.labels
    if shape is not None:
        real = load_like(dataset, shape, split="test", progress=False)
    else:
        real = load_dataset(dataset, split="test", progress=False)
    pick = torch.randperm(len(real), generator=torch.Generator().manual_seed(HELD_OUT_SEED))[:n]
    return real.x[pick], None if real.labels is None else real.labels[pick]


def image_measure(
    bundle: Bundle, n: int, reference: torch.Tensor | None = None
) -> tuple[Any, torch.Tensor | None, str | None]:
    """The domain classifier and the reference images (``n`` test images unless given) for the bundle's
    samples, or why there are none: ``(extractor, reference, reason)``."""
    dataset = bundle.data.dataset
    if not dataset:
        return None, None, f"{bundle.name or 'the bundle'} does not say which dataset it was trained on"
    if dataset not in DOMAIN_CLASSIFIERS:
        known = ", ".join(sorted(DOMAIN_CLASSIFIERS))
        return None, None, f"swerve has no domain classifier for {dataset!r} (it has ones for: {known})"
    if n < MIN_IMAGES:
        return None, None, f"needs at least {MIN_IMAGES} samples, got {n}"
    try:
        extractor = domain_classifier(dataset)
    except SwerveError as exc:
        return None, None, f"needs the {DOMAIN_CLASSIFIERS[dataset]} model: {exc}"
    if reference is None:
        try:
            reference = reference_data(dataset, n, bundle.data.shape)[0]
        except SwerveError as exc:
            return None, None, f"needs {dataset} test images as the reference: {exc}"
    if list(reference.shape[1:]) != list(bundle.data.shape):
        shapes = f"{list(reference.shape[1:])} vs the samples' {bundle.data.shape}"
        return None, None, f"the {dataset} reference images do not have the samples' shape ({shapes})"
    return extractor, reference, None


def score_samples(
    bundle: Bundle,
    x: torch.Tensor,
    labels: torch.Tensor | None = None,
    critic: Critic | None = None,
    reference: torch.Tensor | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Quality numbers for samples ``x`` of ``bundle`` (see the module docstring), and the numbers it could
    not compute, each with the reason: ``(scores, missing)``. ``reference`` is the held-out real data
    (default: :func:`reference_data` of the bundle's dataset, as many as samples)."""
    dataset = bundle.data.dataset
    scores: dict[str, Any] = {}
    missing: dict[str, str] = {}
    if critic is not None:
        scores["mean critic logit"] = float(critic_logits(critic, x, labels, device=bundle.device).mean())
    if dataset in TOYS:
        scores.update(TOYS[dataset][1](x))
        if reference is None:
            reference = reference_data(dataset, max(len(x), 1000))[0]
        scores["KDE log-likelihood"] = kde_log_likelihood(x, reference)
        return scores, missing
    vocab = bundle_vocab(bundle)
    if vocab is not None:
        return text_scores(bundle, x, vocab, scores, reference)
    if not bundle.data.is_image:
        return scores, {"quality": f"swerve measures points of the 2-D toys ({', '.join(TOYS)}) only"}
    extractor, reference, reason = image_measure(bundle, len(x), reference)
    if reason is not None:
        return scores, dict.fromkeys(IMAGE_METRICS, reason)
    measurement = novelty_quality(x, reference, extractor, extractor_name=dataset)
    scores.update({k: float(v) for k, v in measurement.values.items()})
    return scores, missing


TEXT_ORDERS = (4, 6)  # the n-gram orders DGflow reports (Ansari et al. 2021, after Gulrajani et al. 2017)


def text_scores(
    bundle: Bundle,
    x: torch.Tensor,
    vocab: list[str],
    scores: dict[str, Any],
    reference: torch.Tensor | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """JS-4 and JS-6 of a text bundle's samples (N x V x L scores) against held-out real strings (the
    dataset's test split unless ``reference``, N x L indices, is given)."""
    if reference is None:
        try:
            reference = load_dataset(bundle.data.dataset, split="test", progress=False).x
        except SwerveError as exc:
            return scores, {
                f"JS-{n}": f"needs held-out {bundle.data.dataset} text: {exc}" for n in TEXT_ORDERS
            }
    strings, real = decode(x, vocab, strip=False), decode(reference, vocab, strip=False)
    scores.update({f"JS-{n}": v for n, v in js_ngrams(strings, real, TEXT_ORDERS).items()})
    return scores, {}


def held_out_text(bundle: Bundle) -> torch.Tensor:
    """The test split of a text bundle's dataset, split with the training run's seed so it holds none of
    the strings the model was trained on (N x L character indices)."""
    config = (bundle.training or {}).get("config") or {}
    seed = config.get("seed", 0) if isinstance(config, dict) else 0
    data = load_dataset(bundle.data.dataset, split="test", seed=int(seed), progress=False)
    if data.vocab != bundle_vocab(bundle):
        raise DataError(
            f"{bundle.data.dataset} now spells with other characters than {bundle.name} was trained on "
            f"({len(data.vocab or [])} and {len(bundle_vocab(bundle) or [])}): its held-out text does not fit"
        )
    return data.x

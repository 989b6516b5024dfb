"""Measurements of the one picture on the page, with swerve.measure's functions and provenance.

For a dataset with a shipped domain classifier (Fashion-MNIST), the picture and a fixed set of real test
images go through the classifier's features. The page shows: **novelty**, the mean distance to the 3 nearest
real images relative to how far real images are from each other (the per-sample form of the ``novelty`` in
:func:`swerve.measure.novelty_quality`: 1 is as far as real data is from itself); **density**, how many real
images' 5-NN balls hold the picture, over 5 (Naeem et al. 2020; around 1 looks like the data, 0 lies off it);
the class the classifier sees and its confidence; and the model's own critic, its discriminator's logit.
"""

from __future__ import annotations

import threading
from typing import Any

import torch

from swerve.bundle import Bundle
from swerve.errors import ConfigError
from swerve.measure import FeatureSpec, density_coverage, domain_classifier, extract_features, knn_distance
from swerve.measure.features import DOMAIN_CLASSIFIERS

K_NOVELTY = 3
K_DENSITY = 5


class Gauge:
    """Real reference features per dataset, computed once, and the measurements of single pictures."""

    def __init__(self, reference_n: int = 1000) -> None:
        self.reference_n = reference_n
        self._refs: dict[str, tuple[torch.nn.Module, torch.Tensor, float]] = {}
        self._lock = threading.Lock()

    def reference(self, dataset: str) -> tuple[torch.nn.Module, torch.Tensor, float]:
        """The dataset's classifier, its test images' features, and their mean k-NN distance to each other."""
        with self._lock:
            if dataset not in self._refs:
                from swerve.data import load_dataset

                if dataset not in DOMAIN_CLASSIFIERS:
                    known = ", ".join(sorted(DOMAIN_CLASSIFIERS))
                    what = dataset or "this model"
                    raise ConfigError(f"no measurement for {what}: swerve measures {known}")
                classifier = domain_classifier(dataset).cpu().eval()
                real = load_dataset(dataset, split="test", n=self.reference_n, progress=False)
                features = extract_features(classifier, real.x)
                nearest = torch.cdist(features, features).topk(K_NOVELTY + 1, largest=False).values[:, 1:]
                self._refs[dataset] = (classifier, features, float(nearest.mean()))
            return self._refs[dataset]

    @torch.no_grad()
    def measure(self, bundle: Bundle, x: torch.Tensor, label: int | None) -> dict[str, Any]:
        """Novelty, density, the seen class and the critic's logit for one picture ``x`` (1 x C x H x W)."""
        classifier, real, real_nn = self.reference(bundle.data.dataset)
        features = extract_features(classifier, x)
        probs = torch.softmax(classifier.head(features.float()), dim=1)[0]
        seen = int(probs.argmax())
        classes = bundle.data.classes
        values: dict[str, Any] = {
            "novelty": float(knn_distance(features, real, k=K_NOVELTY)[0] / real_nn),
            # density_coverage wants N >= 2 samples; a sample repeated has the same mean density as itself.
            "density": density_coverage(real, features.repeat(2, 1), k=K_DENSITY)["density"],
            "class": classes[seen] if seen < len(classes) else str(seen),
            "confidence": float(probs[seen]),
        }
        if label is not None:
            values["agrees"] = seen == label
        if "discriminator" in bundle.networks:
            d = bundle.discriminator.eval()
            device = next(d.parameters()).device
            y = torch.tensor([label], device=device) if bundle.num_classes and label is not None else None
            values["critic"] = float(d(x.to(device), y) if y is not None else d(x.to(device)))
        spec = FeatureSpec(DOMAIN_CLASSIFIERS[bundle.data.dataset], "features")
        return {
            "values": values,
            "features": spec.to_dict(),
            "reference": {"dataset": bundle.data.dataset, "split": "test", "n": len(real)},
            "k": {"novelty": K_NOVELTY, "density": K_DENSITY},
        }

"""Measurements of the one picture on the page, with swerve.measure's functions and provenance.

For a dataset with a shipped domain classifier (Fashion-MNIST, emoji), the picture and a fixed set of real
test images go through the classifier's registered feature space (unit-length penultimate features, see
:mod:`swerve.measure.features`). The page shows: **novelty**, the mean distance to the 3 nearest
real images relative to how far real images are from each other (the per-sample form of the ``novelty`` in
:func:`swerve.measure.novelty_quality`: 1 is as far as real data is from itself); **density**, how many real
images' 5-NN balls hold the picture, over 5 (Naeem et al. 2020; around 1 looks like the data, 0 lies off it);
the class the classifier sees and its confidence; and the model's own critic, its discriminator's logit.

For every model, a **scan score**: the picture's activations at one layer against the same layer over 256
ordinary pictures of the unedited model, through empirical p-values and linear-time subset scanning with
the Berk–Jones statistic (McFowland et al. 2013; Cintas et al. 2022 use it to find creative samples). It
is shown beside the score of the same latent drawn without any edit, so the page says how far the edits
moved the layer out of its usual range (two-tailed: pushed up or down).
"""

from __future__ import annotations

import threading
from typing import Any

import torch

from swerve.bundle import Bundle
from swerve.errors import SwerveError
from swerve.measure import density_coverage, extract_features, knn_distance
from swerve.measure.features import DOMAIN_CLASSIFIERS, Extractor, get_extractor
from swerve.measure.scan import empirical_pvalues, scan_individual
from swerve.measure.scan.activations import sample_activations

K_NOVELTY = 3
K_DENSITY = 5
SCAN_N = 256
SCAN_STATISTIC = "berk-jones"


class Gauge:
    """Real reference features per dataset, computed once, and the measurements of single pictures."""

    def __init__(self, reference_n: int = 1000, scan_n: int = SCAN_N) -> None:
        self.reference_n = reference_n
        self.scan_n = scan_n
        self._refs: dict[
            tuple[str, tuple[int, ...]], tuple[Extractor, torch.nn.Module, torch.Tensor, float]
        ] = {}
        self._backgrounds: dict[tuple[str, str], torch.Tensor] = {}
        self._lock = threading.Lock()

    def reference(
        self, dataset: str, shape: list[int] | None = None
    ) -> tuple[Extractor, torch.nn.Module, torch.Tensor, float]:
        """The dataset's registered feature extractor and its network, its test images' features (at the
        size and channels of ``shape``, a model's sample shape, when given), and their mean k-NN distance."""
        key = (dataset, tuple(shape or ()))
        with self._lock:
            if key not in self._refs:
                from swerve.data import load_like

                extractor = get_extractor(dataset)
                network = extractor.load().cpu().eval()
                real = load_like(dataset, shape or [], split="test", n=self.reference_n, progress=False)
                features = self.features(extractor, network, real.x)
                nearest = torch.cdist(features, features).topk(K_NOVELTY + 1, largest=False).values[:, 1:]
                self._refs[key] = (extractor, network, features, float(nearest.mean()))
            return self._refs[key]

    @staticmethod
    def features(extractor: Extractor, network: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
        return extract_features(network, x, layer=extractor.layer, normalise=extractor.normalise)

    @torch.no_grad()
    def measure(self, bundle: Bundle, x: torch.Tensor, label: int | None) -> dict[str, Any]:
        """Novelty, density and the seen class (where the dataset has a domain classifier) and the critic's
        logit (where the bundle has a discriminator) for one picture ``x`` (1 x C x H x W)."""
        values: dict[str, Any] = {}
        notes: list[str] = []
        result: dict[str, Any] = {"values": values, "notes": notes}
        dataset = bundle.data.dataset
        reference, reason = None, None
        if dataset in DOMAIN_CLASSIFIERS:
            try:
                reference = self.reference(dataset, bundle.data.shape)
            except SwerveError as exc:  # no test pictures (emoji without its font) or no classifier
                reason = f"novelty and density need {dataset} test pictures: {exc}"
        else:
            known = ", ".join(sorted(DOMAIN_CLASSIFIERS))
            reason = f"novelty and density need a domain classifier; swerve ships them for {known}"
        if reference is not None:
            extractor, classifier, real, real_nn = reference
            features = self.features(extractor, classifier, x)
            probs = torch.softmax(classifier(x.to(next(classifier.parameters()).device)), dim=1)[0].cpu()
            seen = int(probs.argmax())
            classes = bundle.data.classes
            values["novelty"] = float(knn_distance(features, real, k=K_NOVELTY)[0] / real_nn)
            # density_coverage wants N >= 2 samples; a sample repeated has the same mean density as itself.
            values["density"] = density_coverage(real, features.repeat(2, 1), k=K_DENSITY)["density"]
            values["class"] = classes[seen] if seen < len(classes) else str(seen)
            values["confidence"] = float(probs[seen])
            if label is not None:
                values["agrees"] = seen == label
            result["features"] = extractor.spec.to_dict()
            result["reference"] = {"dataset": dataset, "split": "test", "n": len(real)}
            result["k"] = {"novelty": K_NOVELTY, "density": K_DENSITY}
        else:
            notes.append(str(reason))
        if "discriminator" in bundle.networks:
            d = bundle.discriminator.eval()
            device = next(d.parameters()).device
            y = torch.tensor([label], device=device) if bundle.num_classes and label is not None else None
            values["critic"] = float(d(x.to(device), y) if y is not None else d(x.to(device)))
        return result

    def background(self, key: str, bundle: Bundle, layer: str) -> torch.Tensor:
        """``layer``'s activations (scan_n x nodes) over ordinary pictures of ``bundle``, computed once per
        model and layer. The caller holds the model's lock, so no edit is active on the generator."""
        with self._lock:
            if (key, layer) in self._backgrounds:
                return self._backgrounds[(key, layer)]
        _, acts = sample_activations(bundle, self.scan_n, [layer], seed=0)
        with self._lock:
            self._backgrounds[(key, layer)] = acts[layer]
        return acts[layer]

    def scan(self, activations: torch.Tensor, background: torch.Tensor) -> dict[str, float]:
        """The Berk–Jones subset-scan score of one picture's activations (1 x nodes) against the background,
        the share of nodes in the most anomalous subset, and the threshold α* that subset was found at."""
        pvalues = empirical_pvalues(activations, background, tail="two")  # a bend may push either way
        found = scan_individual(pvalues, statistic=SCAN_STATISTIC)
        return {
            "scan": float(found.scores[0]),
            "scan_share": float(found.nodes[0].double().mean()),
            "scan_alpha": float(found.alphas[0]),
        }

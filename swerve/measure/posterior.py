"""Class posteriors of samples: a classifier's probabilities, and how undecided they are.

The out-of-class metrics (novelty.py) and CAN's style ambiguity are both statements about p(y|x); these are
the two small functions that produce and summarise it.
"""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def class_probabilities(classifier: nn.Module, x: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """softmax(classifier(x)) as an (N, K) float64 CPU tensor, computed in batches in eval mode."""
    was = classifier.training
    classifier.eval()
    device = next(classifier.parameters()).device
    try:
        parts = [
            classifier(x[i : i + batch_size].to(device)).double().softmax(1).cpu()
            for i in range(0, len(x), batch_size)
        ]
    finally:
        classifier.train(was)
    return torch.cat(parts)


def posterior_entropy(probs: torch.Tensor) -> float:
    """Mean entropy (nats) of class posteriors (N, K): 0 when all are certain, log K when all are uniform."""
    p = probs.detach().double().clamp_min(1e-12)
    return float(-(p * p.log()).sum(1).mean())

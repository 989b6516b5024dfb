"""How often a classifier puts samples in the class they were meant to be: the accuracy of a classifier on
real data, or the class agreement of a conditional generator's samples."""

from __future__ import annotations

import torch


@torch.no_grad()
def class_agreement(
    classifier: torch.nn.Module, x: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000
) -> float:
    """Fraction of ``x`` that ``classifier`` assigns to ``labels`` (its argmax), in batches."""
    was_training = classifier.training
    classifier.eval()
    device = next(classifier.parameters()).device
    correct = 0
    for start in range(0, len(x), batch_size):
        logits = classifier(x[start : start + batch_size].to(device))
        correct += int((logits.argmax(1).cpu() == labels[start : start + batch_size].cpu()).sum())
    classifier.train(was_training)
    return correct / len(x)

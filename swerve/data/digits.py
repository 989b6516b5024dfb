"""scikit-learn's bundled 8 x 8 handwritten digits: 1,797 images, no download, loads in a blink."""

from __future__ import annotations

import torch

from swerve.data.base import Dataset

DIGIT_CLASSES = [str(d) for d in range(10)]


def load_digits() -> Dataset:
    """The digits as N x 1 x 8 x 8 float32 in [-1, 1] (grey levels 0..16 mapped linearly), labels 0..9."""
    from sklearn.datasets import load_digits as sklearn_digits  # here: importing sklearn takes seconds

    bunch = sklearn_digits()
    x = torch.as_tensor(bunch.images, dtype=torch.float32).div_(8.0).sub_(1.0).unsqueeze(1)
    labels = torch.as_tensor(bunch.target, dtype=torch.long)
    return Dataset(x, labels, list(DIGIT_CLASSES), "digits")

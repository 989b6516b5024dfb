"""The creative decoder: weak units fire with strong ones, reproducibly, and the model is left as it was."""

from __future__ import annotations

import pytest
import torch

from swerve.diverge.creative import Creative, coactivate, creative_decoder, creative_sample
from swerve.errors import ConfigError
from tests.conftest import tiny_image_bundle


def test_weak_channels_take_on_the_strong_channels_pattern() -> None:
    h = torch.zeros(1, 10, 2, 2)
    h[0, 0] = torch.tensor([[4.0, 0.0], [0.0, 0.0]])  # the one strong channel (top = 0.1 of 10)
    h[0, 1:5] = 0.5  # middling channels, in the stronger half
    out = coactivate(Creative(fraction=0.4, top=0.1, strength=1.0, seed=0))(h)
    changed = [c for c in range(10) if not torch.equal(out[0, c], h[0, c])]
    assert len(changed) == 2 and all(c >= 5 for c in changed)  # 40 % of the weaker half, only from it
    for c in changed:  # each got the strong channel's map added
        assert torch.equal(out[0, c], h[0, c] + h[0, 0])
    assert torch.equal(out[0, :5], h[0, :5])


def test_creative_samples_differ_reproducibly_and_leave_the_model_unchanged() -> None:
    bundle = tiny_image_bundle(conditional=False)
    before = {k: v.clone() for k, v in bundle.generator.state_dict().items()}
    normal = bundle.sample(8, seed=1).x
    config = Creative(layer="blocks.0", fraction=0.5, strength=2.0, seed=3)
    a = creative_sample(bundle, 8, seed=1, config=config)
    b = creative_sample(bundle, 8, seed=1, config=config)
    assert torch.equal(a.x, b.x) and not torch.allclose(a.x, normal)
    assert a.recipe["creative"]["fraction"] == 0.5
    assert torch.equal(bundle.sample(8, seed=1).x, normal)  # the hook is gone
    assert all(torch.equal(before[k], v) for k, v in bundle.generator.state_dict().items())
    with creative_decoder(bundle.generator, Creative(fraction=0.0)):
        assert torch.equal(bundle.sample(8, seed=1).x, normal)  # fraction 0 is the plain decoder


def test_creative_decoder_rejects_bad_parameters() -> None:
    with pytest.raises(ConfigError, match="fraction"):
        Creative(fraction=1.5)
    bundle = tiny_image_bundle(conditional=False)
    nowhere = Creative(layer="nope")
    with pytest.raises(ConfigError, match="no layer"), creative_decoder(bundle.generator, nowhere):
        pass

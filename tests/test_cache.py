"""Reference features cached by content hash; the extractor registry; normalised features for precision."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from swerve.data import load_dataset
from swerve.errors import ConfigError, DataError, DatasetNotFound
from swerve.measure import cache as cache_module
from swerve.measure import get_extractor, measure_samples, novelty_quality, register_extractor
from swerve.measure.cache import cached, content_hash, reference_features


def test_reference_features_are_computed_once_per_content(tmp_path: Path, monkeypatch) -> None:
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 4))
    x = torch.randn(30, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    calls = []
    real_extract = cache_module.extract_features
    monkeypatch.setattr(
        cache_module, "extract_features", lambda *a, **k: calls.append(1) or real_extract(*a, **k)
    )
    first = reference_features(net, x, cache_dir=tmp_path)
    again = reference_features(net, x, cache_dir=tmp_path)
    assert torch.equal(first, again) and len(calls) == 1
    assert [p.suffix for p in tmp_path.iterdir()] == [".safetensors"]  # one entry, no temporary left
    reference_features(net, x + 1, cache_dir=tmp_path)  # other data: another key
    with torch.no_grad():
        net[1].weight.add_(1)
    reference_features(net, x, cache_dir=tmp_path)  # other weights: another key
    assert len(calls) == 3 and len(list(tmp_path.iterdir())) == 3
    assert content_hash(x, "a") != content_hash(x, "b")


def test_a_corrupt_cache_entry_is_recomputed(tmp_path: Path) -> None:
    (tmp_path / "k.safetensors").write_bytes(b"not a safetensors file")
    out = cached("k", lambda: {"t": torch.ones(2)}, tmp_path)
    assert torch.equal(out["t"], torch.ones(2))
    assert torch.equal(cached("k", lambda: {"t": torch.zeros(2)}, tmp_path)["t"], torch.ones(2))


def test_extractor_registry() -> None:
    assert get_extractor("fashion-mnist").name == "fashion-classifier"
    with pytest.raises(ConfigError, match="no feature extractor"):
        get_extractor("imagenet")
    with pytest.raises(ConfigError, match="normalise"):
        register_extractor("x", lambda: torch.nn.Identity(), normalise="z-score")
    register_extractor("toy-flat", lambda: torch.nn.Flatten(), datasets=("toy",))
    assert get_extractor("toy").name == "toy-flat"


def test_only_missing_files_are_a_missing_dataset(tmp_path: Path, monkeypatch) -> None:
    """The skip below is for a machine without Fashion-MNIST; a corrupt file must fail, not skip."""
    from swerve.data import idx

    monkeypatch.setattr(idx, "_candidate_dirs", lambda source, root: [tmp_path])
    with pytest.raises(DatasetNotFound, match="not found"):
        idx.load_fashion_mnist("test")
    for name in idx._file_names("test"):
        (tmp_path / name).write_bytes(b"junk")
    with pytest.raises(DataError, match="IDX") as info:
        idx.load_fashion_mnist("test")
    assert not isinstance(info.value, DatasetNotFound)


def test_unit_length_features_stop_noise_from_looking_realistic() -> None:
    try:
        data = load_dataset("fashion-mnist", split="test", n=700)
    except DatasetNotFound as exc:  # only a missing dataset skips; any other loader error fails the test
        pytest.skip(str(exc))
    real, held_out = data.x[:400], data.x[400:700]
    noise = torch.rand(300, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    classifier = get_extractor("fashion-mnist").load()
    raw = novelty_quality(noise, real, classifier)
    unit = measure_samples(noise, real, "fashion-mnist", seed=0)
    real_unit = measure_samples(held_out, real, "fashion-mnist", seed=0)
    assert raw["precision"] > 0.75  # the failure: noise collapses next to real data
    assert unit["precision"] < 0.6 < real_unit["precision"]
    assert unit.features.normalise == "l2" and unit.n == 300 and unit.seed == 0

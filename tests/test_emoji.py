"""The emoji data set: rendered from Debian's colour font, cached, split by variant group."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from swerve.data import emoji, load_dataset, load_emoji
from swerve.data.emoji import DEBIAN_TEST, parse_emoji_test, variant_key
from swerve.errors import DataError
from tests.marks import needs_emoji

needs_font = needs_emoji

SAMPLE_TEST = """\
# group: Smileys & Emotion
# subgroup: face-smiling
1F600                                                  ; fully-qualified     # 😀 E1.0 grinning face
263A FE0F                                              ; fully-qualified     # ☺️ E0.6 smiling face
263A                                                   ; unqualified         # ☺ E0.6 smiling face
# group: People & Body
# subgroup: hand-fingers-open
1F44B                                                  ; fully-qualified     # 👋 E0.6 waving hand
1F44B 1F3FB                                  ; fully-qualified     # 👋🏻 E1.0 waving hand: light skin tone
# group: Component
1F3FB                                                  ; component           # 🏻 E1.0 light skin tone
"""


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def in_cache(cache: Path, monkeypatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.delenv("SWERVE_EMOJI_FONT", raising=False)
    monkeypatch.delenv("SWERVE_EMOJI_TEST", raising=False)
    return cache


def fully_qualified_lines() -> int:
    return sum("; fully-qualified" in line for line in DEBIAN_TEST.read_text(encoding="utf-8").splitlines())


def test_parse_keeps_fully_qualified_lines_with_group_and_subgroup(tmp_path):
    path = tmp_path / "emoji-test.txt"
    path.write_text(SAMPLE_TEST, encoding="utf-8")
    entries = parse_emoji_test(path)
    names = ["grinning face", "smiling face", "waving hand", "waving hand: light skin tone"]
    assert [e.name for e in entries] == names
    assert entries[3].codepoints == (0x1F44B, 0x1F3FB)
    assert (entries[3].group, entries[3].subgroup) == ("People & Body", "hand-fingers-open")


def test_variant_key_drops_skin_tones_hair_and_selectors():
    assert variant_key((0x1F44B, 0x1F3FB)) == variant_key((0x1F44B,))
    assert variant_key((0x1F468, 0x200D, 0x1F9B0)) == variant_key((0x1F468,))  # man: red hair
    assert variant_key((0x1F575, 0xFE0F)) == variant_key((0x1F575, 0x1F3FD))  # detective
    assert variant_key((0x1F468,)) != variant_key((0x1F469,))
    couple = (0x1F9D1, 0x1F3FB, 0x200D, 0x2764, 0xFE0F, 0x200D, 0x1F9D1, 0x1F3FC)
    assert variant_key(couple) == "1F9D1 200D 2764 200D 1F9D1"


def test_missing_font_is_one_line_naming_both_packages(tmp_path, monkeypatch):
    monkeypatch.setenv("SWERVE_EMOJI_FONT", str(tmp_path / "no-such-font.ttf"))
    with pytest.raises(DataError) as info:
        load_dataset("emoji", image_size=32)
    message = str(info.value)
    assert "\n" not in message
    assert "no-such-font.ttf" in message
    assert "fonts-noto-color-emoji" in message and "unicode-data" in message


@pytest.mark.parametrize("size", [31, 129, 64.0])
def test_sizes_outside_32_to_128_are_refused(size):
    with pytest.raises(DataError, match="32 to 128"):
        load_emoji("train", size)


def test_unknown_background_is_refused():
    with pytest.raises(DataError, match="background"):
        load_emoji("train", 32, background="not-a-colour")


@needs_font
def test_every_fully_qualified_emoji_is_rendered_in_nine_groups(in_cache):
    data = load_emoji("all", 32, progress=False)
    assert len(data) == fully_qualified_lines()
    assert data.x.shape[1:] == (3, 32, 32)
    assert len(data.classes) == 9 and "Component" not in data.classes
    assert sorted(data.labels.unique().tolist()) == list(range(9))
    assert len(data.meta["subgroup"]) == len(data) and data.meta["subgroup"][0] == "face-smiling"
    assert data.x.min() >= -1 and data.x.max() <= 1
    # Colour, not grey: the grinning face is yellow (red and green well above blue) on white.
    face = data.x[0]
    centre = face[:, 12:20, 12:20].mean(dim=(1, 2))
    assert centre[0] > centre[2] + 0.5 and centre[1] > centre[2] + 0.3
    assert torch.allclose(face[:, 0, 0], torch.ones(3))  # the white background in the corner


@needs_font
def test_second_load_comes_from_the_cache_and_is_identical(in_cache, monkeypatch):
    first = load_emoji("all", 32, progress=False)
    assert list((in_cache / "swerve" / "emoji").glob("emoji-32-*.npy"))

    def no_render(*args, **kwargs):
        raise AssertionError("rendered again despite a cache entry")

    monkeypatch.setattr(emoji, "render_emoji", no_render)
    second = load_emoji("all", 32, progress=False)
    assert torch.equal(first.x, second.x)
    with pytest.raises(AssertionError, match="rendered again"):
        load_emoji("all", 33, progress=False)  # another size, another entry


@needs_font
def test_background_colour_fills_the_corners_and_has_its_own_cache_entry(in_cache, tmp_path, monkeypatch):
    listing = tmp_path / "emoji-test.txt"
    listing.write_text(SAMPLE_TEST, encoding="utf-8")
    monkeypatch.setenv("SWERVE_EMOJI_TEST", str(listing))
    white = load_dataset("emoji", image_size=32, progress=False)
    black = load_dataset("emoji:#000000", image_size=32, progress=False)
    assert len(white) + len(load_dataset("emoji", "test", image_size=32, progress=False)) == 4
    assert torch.allclose(white.x[:, :, 0, 0], torch.ones(3))
    assert torch.allclose(black.x[:, :, 0, 0], -torch.ones(3))
    assert "#000000" in black.name


@needs_font
def test_skin_tone_variants_share_a_group_and_never_straddle_the_split(in_cache):
    data = load_emoji("all", 32, progress=False)
    names = data.meta["name"]
    wave = [i for i, n in enumerate(names) if n == "waving hand" or n.startswith("waving hand:")]
    assert len(wave) == 6 and len({int(data.groups[i]) for i in wave}) == 1
    train, test = load_emoji("train", 32, progress=False), load_emoji("test", 32, progress=False)
    assert len(train) + len(test) == len(data)
    assert 0.05 < len(test) / len(data) < 0.15
    keys = data.meta["group_keys"]
    train_keys = {keys[g] for g in train.groups.tolist()}
    test_keys = {keys[g] for g in test.groups.tolist()}
    assert train_keys and test_keys and not train_keys & test_keys
    assert set(test.labels.tolist()) == set(range(9))  # every group is in the held-out split


@needs_font
def test_load_dataset_renders_at_image_size_and_keeps_groups_when_trimmed(in_cache, monkeypatch):
    data = load_dataset("emoji", image_size=32, channels=3, n=50, classes=[1], progress=False)
    assert data.x.shape == (50, 3, 32, 32)
    assert data.labels.eq(1).all() and len(data.groups) == 50 and len(data.meta["name"]) == 50
    grey = load_dataset("emoji", image_size=32, channels=1, n=4, progress=False)
    assert grey.x.shape == (4, 1, 32, 32)
    assert np.isfinite(grey.x.numpy()).all()


@needs_font
def test_refine_emoji_gan_measures_in_emoji_classifier_features(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SWERVE_EMOJI_FONT", raising=False)
    code, out, err = cli("refine", "emoji-gan", "--n", "8", "--set", "steps=1", "--json")
    assert code == 0, err
    result = json.loads(out)
    for key in ("fd", "precision", "recall"):
        assert key not in result["missing"]
        assert math.isfinite(result["before"][key]) and math.isfinite(result["after"][key])


def test_refine_emoji_gan_without_the_font_says_why_fd_is_missing(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SWERVE_EMOJI_FONT", str(tmp_path / "no-such-font.ttf"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    code, out, err = cli("refine", "emoji-gan", "--n", "8", "--set", "steps=1", "--json")
    assert code == 0, err
    missing = json.loads(out)["missing"]
    assert "fonts-noto-color-emoji" in missing["fd"] and "fd" not in json.loads(out)["before"]


def emoji_gauge(reference_n: int = 64) -> dict:
    from swerve.bundle import load
    from swerve.studio.gauge import Gauge

    bundle = load("emoji-gan")
    sample = bundle.sample(1, seed=0)
    return Gauge(reference_n=reference_n).measure(bundle, sample.x, int(sample.labels[0]))


@needs_font
def test_the_studio_measures_an_emoji_picture_in_emoji_classifier_features(monkeypatch):
    monkeypatch.delenv("SWERVE_EMOJI_FONT", raising=False)
    result = emoji_gauge()
    assert result["features"]["extractor"] == "emoji-classifier"
    assert result["values"]["novelty"] > 0 and 0 < result["values"]["confidence"] <= 1
    assert result["reference"] == {"dataset": "emoji", "split": "test", "n": 64}


def test_the_studio_says_why_an_emoji_picture_has_no_novelty_without_the_font(tmp_path, monkeypatch):
    monkeypatch.setenv("SWERVE_EMOJI_FONT", str(tmp_path / "no-such-font.ttf"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    result = emoji_gauge()
    assert "novelty" not in result["values"] and "critic" in result["values"]
    assert any("fonts-noto-color-emoji" in note for note in result["notes"])


@needs_font
def test_the_fine_tuning_trail_measures_emoji_quality(cli, tmp_path, monkeypatch):
    monkeypatch.delenv("SWERVE_EMOJI_FONT", raising=False)
    args = ["--method", "uncanny", "--steps", "2", "--trail-every", "2", "--batch-size", "4"]
    code, _, err = cli(
        "finetune", "emoji-gan", *args, "--out", tmp_path / "run", "--device", "cpu", "--no-progress"
    )
    assert code == 0, err
    metrics = json.loads((tmp_path / "run" / "trail" / "step_000002" / "metrics.json").read_text())
    assert "missing" not in metrics
    assert all(math.isfinite(metrics[key]) for key in ("fd", "precision", "recall", "novelty"))

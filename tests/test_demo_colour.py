"""The demo's colour card: emoji-gan samples beside their nearest training emoji, or why not."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from swerve import zoo
from swerve.look import sections
from swerve.look.demo import run_demo
from tests.marks import needs_emoji

pytestmark = pytest.mark.skipif(zoo.zoo_path("emoji-gan") is None, reason="the zoo has no emoji-gan")


def colour_demo(tmp_path, monkeypatch) -> tuple[str, dict]:
    sections.ordered_sections()  # registers the colour section
    monkeypatch.setattr(sections, "SECTIONS", {"colour": sections.SECTIONS["colour"]})
    page = run_demo(tmp_path / "demo", seed=0).read_text(encoding="utf-8")
    record = json.loads((tmp_path / "demo" / "demo.json").read_text(encoding="utf-8"))
    return page, record["sections"][0]


def test_the_colour_section_opens_the_make_stage():
    names = [name for name, _ in sections.ordered_sections()]
    assert names[0] == "colour" and sections.stage_of("colour") == "Make"


@needs_emoji
def test_the_colour_card_shows_samples_over_their_nearest_training_emoji(tmp_path, monkeypatch):
    monkeypatch.delenv("SWERVE_EMOJI_FONT", raising=False)
    page, run = colour_demo(tmp_path, monkeypatch)
    assert run["status"] == "ok" and "colour emoji GAN" in page and "Not shown" not in page
    assert {"fd", "precision", "recall", "% in the group asked for"} <= set(run["numbers"])
    grid = Image.open(tmp_path / "demo" / run["figures"][0])
    assert grid.width > 2 * grid.height  # nine columns, four rows: samples, nearest, samples, nearest


def test_without_the_font_the_colour_card_says_which_packages_are_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("SWERVE_EMOJI_FONT", str(tmp_path / "no-such-font.ttf"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    page, run = colour_demo(tmp_path, monkeypatch)
    assert run["status"] == "ok" and run["figures"]
    assert "Not shown: the nearest training emoji, fd" in page and "fonts-noto-color-emoji" in page
    assert "fd" not in run["numbers"]

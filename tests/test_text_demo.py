"""The demo report's text sections (swerve.look.sections_text)."""

from __future__ import annotations

import math

import pytest

from swerve.errors import DataError
from tests.marks import needs_words
from tests.test_text_diverge import text_pair  # noqa: F401  (the fixture)


def _context(tmp_path, **bundles):
    from swerve.look.sections import DemoContext

    ctx = DemoContext(out_dir=tmp_path)
    ctx._bundles.update({"fortunes-wgangp": None, "words-wgangp": None, **bundles})
    return ctx


def test_text_refine_card_shows_strings_and_js_before_and_after_dgflow(text_pair, tmp_path):  # noqa: F811
    import swerve
    from swerve.look import sections_text

    bundle = swerve.load(text_pair[0], device="cpu")
    card = sections_text.text_refine(_context(tmp_path, **{"fortunes-wgangp": bundle}))
    (row,) = card.table
    for key in ("JS-4 before", "JS-4 after DGflow", "JS-6 before", "JS-6 after DGflow"):
        assert 0 <= row[key] <= math.log(2)
    assert row["strings before"].count(" | ") == sections_text.SHOWN - 1 and row["after DGflow"]
    assert sections_text.text_refine(_context(tmp_path)) is None  # no text model in the zoo: no card


def test_text_refine_card_names_the_missing_corpus(text_pair, tmp_path, monkeypatch):  # noqa: F811
    import swerve
    from swerve.look import sections_text

    bundle = swerve.load(text_pair[0], device="cpu")
    bundle.data.dataset = "fortunes"
    monkeypatch.setenv("SWERVE_FORTUNES", str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match="fortunes-min"):  # the demo turns this into a card saying so
        sections_text.text_refine(_context(tmp_path, **{"fortunes-wgangp": bundle}))


@needs_words
def test_words_card_lists_new_words_with_their_scores(tmp_path, monkeypatch):
    import swerve
    from swerve.look import sections_text

    monkeypatch.setattr(sections_text, "BUDGET", 40)
    words = swerve.load("words-wgangp", device="cpu")
    card = sections_text.text_words(_context(tmp_path, **{"words-wgangp": words}))
    assert 0 < len(card.table) <= sections_text.WORDS_SHOWN
    novelty = [r["novelty"] for r in card.table]
    assert novelty == sorted(novelty, reverse=True)
    assert all(r["new"] in ("yes", "no") and r["edits"] >= 0 for r in card.table)
    assert all((r["edits"] == 0) == (r["new"] == "no") for r in card.table)


def test_text_bend_card_shows_each_change_as_strings(text_pair, tmp_path):  # noqa: F811
    import swerve
    from swerve.look import sections_text

    bundle = swerve.load(text_pair[0], device="cpu")
    card = sections_text.text_bend(_context(tmp_path, **{"fortunes-wgangp": bundle}))
    assert [r["change"] for r in card.table] == ["none"] + [label for label, _ in sections_text.CHANGES]
    assert all(r["strings"].count(" | ") == sections_text.SHOWN - 1 for r in card.table)
    assert sections_text.text_bend(_context(tmp_path)) is None

"""The gallery and a blind rating session in real headless Chromium: rate with the keyboard, reload, resume
where the rater stopped; the gallery shows what was kept across a studio restart."""

from __future__ import annotations

from pathlib import Path

from swerve.look.store import Store
from swerve.studio.engine import Studio
from swerve.studio.models import Models
from tests.test_studio_browser import expect, serve  # skips this module without the studio extra

KEEP = """async seeds => { const m = await import('/static/state.js');
  for (const seed of seeds) await m.api('/api/keep', {model: 'fashion-gan', latent: {seed}, label: 0});
  return true; }"""


def test_rate_with_the_keyboard_reload_resume_and_the_gallery_survives_a_restart(
    chromium_page, tmp_path: Path
):
    page = chromium_page
    stage = page.locator("#rate-stage")
    figures = page.locator("#gallery-grid figure")
    out = tmp_path / "out"
    url, server, thread = serve(Studio(Models([]), out, start_model="fashion-gan"))
    try:
        page.goto(url)
        page.wait_for_function(
            "Number(document.getElementById('image').dataset.renders) >= 1 && window.studio.idle()"
        )
        page.evaluate(KEEP, [11, 12])  # two pictures kept earlier, through the API
        page.click("#keep-btn")  # the gallery follows the explorer
        expect(figures).to_have_count(3, timeout=30_000)

        page.fill("#rater", "ana")
        page.click("#rate-new")
        expect(stage).to_have_attribute("data-position", "0")
        expect(stage).to_be_visible()
        expect(page.locator("#rate-images img")).to_have_count(1)
        page.keyboard.press("4")
        expect(page.locator("#rate-novelty")).to_have_text("4")
        page.keyboard.press("2")
        expect(stage).to_have_attribute("data-position", "1")
        page.keyboard.press(" ")  # skip
        expect(stage).to_have_attribute("data-position", "2")

        store = Store(out / "swerve.db")
        session = store.sessions()[0]
        saved = store.ratings(session["id"])
        assert [(r["position"], r["novelty"], r["value"], r["skipped"]) for r in saved] == [
            (0, 4, 2, 0),
            (1, None, None, 1),
        ]
        assert {r["rater"] for r in saved} == {"ana"}

        page.reload()  # the page resumes where ana stopped
        expect(stage).to_be_visible()
        expect(stage).to_have_attribute("data-position", "2")
        expect(page.locator("#rate-count")).to_contain_text("1 rated, 1 skipped of 3")
        page.keyboard.press("5")
        page.keyboard.press("3")
        expect(stage).to_have_attribute("data-position", "done")
        assert len(store.ratings(session["id"])) == 3

        # re-open the picture kept with seed 12 (second newest) in the explorer
        expect(page.locator("#gallery-panel")).not_to_have_attribute("open", "")  # closed while rating: blind
        page.click("#gallery-panel > summary")
        expect(figures).to_have_count(3)
        page.locator("#gallery-grid .gallery-open").nth(1).click()
        page.wait_for_function("window.studio.state.latent.seed === 12 && window.studio.idle()")
        # delete and undo
        page.locator("#gallery-grid .gallery-delete").first.click()
        expect(figures).to_have_count(2)
        page.click("#gallery-undo")
        expect(figures).to_have_count(3)
        # compare two
        page.locator("#gallery-grid .gallery-compare").nth(1).click()
        page.locator("#gallery-grid .gallery-compare").nth(2).click()
        expect(page.locator("#gallery-compare")).to_be_visible()
        fields = page.locator("#compare-differences tr td:first-child").all_text_contents()
        assert "seed" in fields and "z" in fields
        assert page.errors == []
    finally:
        server.should_exit = True
        thread.join(10)

    url, server, thread = serve(Studio(Models([]), out, start_model="fashion-gan"))  # a restarted studio
    try:
        page.goto(url)
        expect(figures).to_have_count(3, timeout=30_000)
        # a new port is a new origin (the page forgot the name): ana names herself and finds her session done
        expect(page.locator("#rate-start")).to_be_enabled()
        page.fill("#rater", "ana")
        page.click("#rate-start")
        expect(stage).to_have_attribute("data-position", "done")
        assert page.errors == []
    finally:
        server.should_exit = True
        thread.join(10)

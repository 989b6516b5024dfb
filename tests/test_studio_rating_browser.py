"""The gallery and a blind rating session in real headless Chromium: rate with the keyboard, reload, resume
where the rater stopped; the gallery shows what was kept across a studio restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from swerve.look.store import Store
from swerve.studio.engine import Studio
from swerve.studio.models import Models
from tests.cdp import Browser
from tests.test_studio_browser import CHROMIUM, serve  # skips this module without the studio extra

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium found (apt-get install chromium)")

KEEP = """(async () => {{ const m = await import('/static/state.js');
  for (const seed of {seeds}) await m.api('/api/keep', {{model: 'fashion-gan', latent: {{seed}}, label: 0}});
  return true; }})()"""
STAGE = "document.getElementById('rate-stage')"


def figures(browser: Browser) -> int:
    return int(browser.evaluate("document.querySelectorAll('#gallery-grid figure').length"))


def test_rate_with_the_keyboard_reload_resume_and_the_gallery_survives_a_restart(tmp_path: Path):
    out = tmp_path / "out"
    url, server, thread = serve(Studio(Models([]), out, start_model="fashion-gan"))
    browser = Browser(CHROMIUM)
    try:
        browser.goto(url)
        browser.wait_for(
            "Number(document.getElementById('image').dataset.renders) >= 1 && window.studio.idle()"
        )
        browser.evaluate(KEEP.format(seeds="[11, 12]"))
        browser.evaluate("document.getElementById('keep-btn').click()")  # the gallery follows the explorer
        browser.wait_for("document.querySelectorAll('#gallery-grid figure').length === 3", 30)

        browser.evaluate("document.getElementById('rater').value = 'ana'")
        browser.evaluate("document.getElementById('rate-new').click()")
        browser.wait_for(f"{STAGE}.dataset.position === '0' && !{STAGE}.hidden")
        assert browser.evaluate("document.querySelectorAll('#rate-images img').length") == 1
        browser.press("4")
        assert browser.evaluate("document.getElementById('rate-novelty').textContent") == "4"
        browser.press("2")
        browser.wait_for(f"{STAGE}.dataset.position === '1'")
        browser.press(" ")  # skip
        browser.wait_for(f"{STAGE}.dataset.position === '2'")

        store = Store(out / "swerve.db")
        session = store.sessions()[0]
        saved = store.ratings(session["id"])
        assert [(r["position"], r["novelty"], r["value"], r["skipped"]) for r in saved] == [
            (0, 4, 2, 0),
            (1, None, None, 1),
        ]
        assert {r["rater"] for r in saved} == {"ana"}

        browser.goto(url)  # reload: the page resumes where ana stopped
        browser.wait_for(f"!{STAGE}.hidden && {STAGE}.dataset.position === '2'")
        assert "1 rated, 1 skipped of 3" in browser.evaluate(
            "document.getElementById('rate-count').textContent"
        )
        browser.press("5")
        browser.press("3")
        browser.wait_for(f"{STAGE}.dataset.position === 'done'")
        assert len(store.ratings(session["id"])) == 3

        # re-open the picture kept with seed 12 (second newest) in the explorer
        browser.wait_for("document.querySelectorAll('#gallery-grid figure').length === 3")
        browser.evaluate("document.querySelectorAll('#gallery-grid .gallery-open')[1].click()")
        browser.wait_for("window.studio.state.latent.seed === 12 && window.studio.idle()")
        # delete and undo
        browser.evaluate("document.querySelectorAll('#gallery-grid .gallery-delete')[0].click()")
        browser.wait_for("document.querySelectorAll('#gallery-grid figure').length === 2")
        browser.evaluate("document.getElementById('gallery-undo').click()")
        browser.wait_for("document.querySelectorAll('#gallery-grid figure').length === 3")
        # compare two
        browser.evaluate("document.querySelectorAll('#gallery-grid .gallery-compare')[1].click()")
        browser.evaluate("document.querySelectorAll('#gallery-grid .gallery-compare')[2].click()")
        browser.wait_for("!document.getElementById('gallery-compare').hidden")
        fields = browser.evaluate(
            "[...document.querySelectorAll('#compare-differences tr td:first-child')].map(t => t.textContent)"
        )
        assert "seed" in fields and "z" in fields
        assert browser.errors == []
    finally:
        server.should_exit = True
        thread.join(10)

    url, server, thread = serve(Studio(Models([]), out, start_model="fashion-gan"))  # a restarted studio
    try:
        browser.goto(url)
        browser.wait_for("document.querySelectorAll('#gallery-grid figure').length === 3", 30)
        # a new port is a new origin (the page forgot the name): ana names herself and finds her session done
        browser.wait_for("!document.getElementById('rate-start').disabled")
        browser.evaluate("document.getElementById('rater').value = 'ana'")
        browser.evaluate("document.getElementById('rate-start').click()")
        browser.wait_for(f"{STAGE}.dataset.position === 'done'")
        assert browser.errors == []
    finally:
        browser.close()
        server.should_exit = True
        thread.join(10)

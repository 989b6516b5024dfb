"""A text model in the studio: the engine returns strings, the page lists them and the list follows the
sliders (in real headless Chromium)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the studio extra is not installed: pip install 'swerve[studio]'")
pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx")

from swerve.studio.engine import Studio  # noqa: E402
from swerve.studio.models import Models  # noqa: E402
from swerve.studio.schema import StateIn  # noqa: E402
from tests.test_studio_api import page_client  # noqa: E402

WORDS = "words-wgangp"


def _state(**changes) -> StateIn:
    return StateIn.model_validate({"model": WORDS, "latent": {"seed": 3}, **changes})


def test_engine_lists_a_text_models_strings_and_follows_the_page(tmp_path: Path):
    studio = Studio(Models([]), tmp_path / "out")
    info = studio.info(WORDS)
    assert info["text"] is True and {row["name"] for row in info["layers"]} >= {"blocks.0", "blocks.1"}
    plain = studio.strings(_state(), 6)["strings"]
    assert len(plain) == 6 and all(0 < len(s) <= 12 for s in plain)
    picture, _ = studio.picture(_state())
    assert picture.mode == "L" and picture.size[1] > 0  # the page's own string, typed
    assert studio.strings(_state(), 1)["strings"] == plain[:1]  # the list starts with the page's string
    bend = {"layer": "blocks.0", "transform": "multiply", "params": {"factor": -4.0}}
    bent = studio.strings(_state(bends=[bend]), 6)["strings"]
    assert bent != plain


def test_strings_route_answers_json_and_refuses_an_image_model(tmp_path: Path):
    from tests.conftest import tiny_image_bundle

    tiny = tiny_image_bundle().save(tmp_path / "models" / "tiny")
    client = page_client(Studio(Models([tmp_path / "models"]), tmp_path / "out"))
    answer = client.post("/api/strings", json={"state": {"model": WORDS, "latent": {"seed": 1}}, "n": 4})
    assert answer.status_code == 200 and len(answer.json()["strings"]) == 4
    refused = client.post("/api/strings", json={"state": {"model": str(tiny.resolve())}, "n": 4})
    assert refused.status_code == 400 and "not strings" in refused.json()["error"]
    listed = {m["id"]: m for m in client.get("/api/models").json()["models"]}
    assert listed[WORDS]["usable"] and listed[WORDS]["text"]


def test_the_page_lists_strings_that_follow_a_slider(chromium_page, tmp_path: Path):
    from tests.test_studio_browser import click_at, serve

    studio = Studio(Models([]), tmp_path / "out", start_model=WORDS)
    url, server, thread = serve(studio)
    page = chromium_page
    try:
        page.goto(url)
        items = page.locator("#text-list li")
        page.wait_for_function("document.querySelectorAll('#text-list li').length === 8")
        assert page.locator("#image").is_hidden() and page.locator("#text-box").is_visible()
        before = items.all_text_contents()
        updates = int(page.locator("#text-list").get_attribute("data-updates"))
        page.click("#add-bend")  # multiply on the first conv block
        page.wait_for_function(
            "n => Number(document.getElementById('text-list').dataset.updates) > n", arg=updates
        )
        updates = int(page.locator("#text-list").get_attribute("data-updates"))
        click_at(page.locator(".bend .bend-param").first, 0.05)  # the factor slider, far to the left
        page.wait_for_function(
            "n => Number(document.getElementById('text-list').dataset.updates) > n && window.studio.idle()",
            arg=updates,
        )
        page.wait_for_timeout(300)  # the list's answer to the last state
        assert page.evaluate("window.studio.state.bends[0].params.factor") < -5
        assert items.all_text_contents() != before
        assert page.errors == []
    finally:
        server.should_exit = True
        thread.join(10)

"""The studio end to end in real headless Chromium: open the page, move a slider with the mouse, keep the
picture, and check that the kept recipe remakes exactly the pixels the page showed."""

from __future__ import annotations

import base64
import io
import json
import re
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

NO_EXTRA = "the studio extra is not installed: pip install 'swerve[studio]'"
pytest.importorskip("fastapi", reason=NO_EXTRA)
uvicorn = pytest.importorskip("uvicorn", reason=NO_EXTRA)

from swerve.studio.app import create_app  # noqa: E402
from swerve.studio.engine import Studio  # noqa: E402
from swerve.studio.models import Models  # noqa: E402
from swerve.studio.recipe import read_recipe, render_recipe, to_picture  # noqa: E402
from tests.browser import find_chromium  # noqa: E402

CHROMIUM = find_chromium()  # the fixture ``chromium_browser`` (tests/browser.py) skips without it
expect = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed: pip install 'swerve[dev]'"
).expect


def serve(studio: Studio) -> tuple[str, uvicorn.Server, threading.Thread]:
    """The studio on a free loopback port, in a thread."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # asyncio sets TCP_NODELAY
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    server = uvicorn.Server(uvicorn.Config(create_app(studio), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    return f"http://127.0.0.1:{sock.getsockname()[1]}/", server, thread


@pytest.fixture
def studio_page(chromium_page, tmp_path: Path):
    """A fresh page on a studio serving the zoo's fashion-gan, its picture drawn: (page, studio, out)."""
    studio = Studio(Models([]), tmp_path / "out", start_model="fashion-gan")
    url, server, thread = serve(studio)
    try:
        chromium_page.goto(url)
        chromium_page.wait_for_function("Number(document.getElementById('image').dataset.renders) >= 1")
        yield chromium_page, studio, tmp_path / "out"
    finally:
        server.should_exit = True
        thread.join(10)


FETCH = """id => fetch(document.getElementById(id).src).then(r => r.arrayBuffer()).then(b => {
  let s = ''; for (const x of new Uint8Array(b)) s += String.fromCharCode(x); return btoa(s); })"""


def shown_pixels(page, image: str = "image") -> np.ndarray:
    """The bytes of the picture the page shows in ``<img id=image>``, decoded."""
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(page.evaluate(FETCH, image)))))


def renders(page) -> int:
    return int(page.locator("#image").get_attribute("data-renders"))


def settle(page, renders_before: int) -> None:
    """Wait until the picture has been drawn again since ``renders_before`` and nothing is pending."""
    page.wait_for_function(
        "n => Number(document.getElementById('image').dataset.renders) > n && window.studio.idle()",
        arg=renders_before,
    )


def click_at(locator, fraction: float) -> None:
    """Click ``locator`` (a range input, a grid) at ``fraction`` of its width, halfway down."""
    box = locator.bounding_box()
    locator.click(position={"x": fraction * box["width"], "y": box["height"] / 2})


def test_moving_sliders_changes_the_picture_and_the_kept_recipe_reproduces_it(studio_page):
    page, studio, out = studio_page
    expect(page.locator("#status")).not_to_have_class(re.compile(r"\berror\b"))
    before = shown_pixels(page)

    # Turn on the principal directions of the first block and drag the first slider.
    count = renders(page)
    page.select_option("#pca-layer", "blocks.0")
    settle(page, count)
    count = renders(page)
    click_at(page.locator("#pca-sliders input").first, 0.9)
    settle(page, count)
    after = shown_pixels(page)
    assert page.evaluate("window.studio.state.pca.amounts[0]") > 2
    assert not np.array_equal(before, after)

    # Add a bend (multiply, on the first conv block) and drag its slider.
    count = renders(page)
    page.click("#add-bend")
    settle(page, count)
    with_bend = shown_pixels(page)
    count = renders(page)
    click_at(page.locator(".bend .bend-param").first, 0.15)
    settle(page, count)
    bent = page.evaluate("window.studio.state.bends[0]")
    assert bent["transform"] == "multiply" and bent["params"]["factor"] < -5
    after = shown_pixels(page)
    assert not np.array_equal(with_bend, after)

    page.click("#keep-btn")
    expect(page.locator("#kept li")).to_have_count(1)
    kept = sorted(out.glob("keep-*.json"))
    assert len(kept) == 1
    recipe = read_recipe(kept[0])
    assert recipe.bends[0]["params"]["factor"] == bent["params"]["factor"]
    remade = np.asarray(to_picture(render_recipe(recipe), studio.models.get("fashion-gan")))
    assert np.array_equal(remade, after)

    # Load the kept picture back after moving on: the page shows it again.
    count = renders(page)
    page.fill("#seed", "77")
    page.press("#seed", "Enter")
    settle(page, count)
    assert not np.array_equal(shown_pixels(page), after)
    count = renders(page)
    page.set_input_files("#load", sorted(out.glob("keep-*.png"))[0])
    settle(page, count)
    assert np.array_equal(shown_pixels(page), after)

    # A short walk exported in the background: its progress arrives over Server-Sent Events.
    page.fill("#export-frames", "4")
    page.click("#export-btn")
    expect(page.locator("#exports li")).to_have_count(1, timeout=60_000)
    expect(page.locator("#progress")).to_have_js_property("value", 4)
    expect(page.locator("#job-status")).to_have_text("walk: done")
    walk = sorted(out.glob("walk-*.gif"))
    assert len(walk) == 1 and Image.open(walk[0]).n_frames == 4
    assert page.errors == []  # no uncaught exception in the page's scripts


def test_the_job_panels_ask_for_what_each_method_needs(studio_page):
    page, _, _ = studio_page
    boxes = ("finetune-away-box", "finetune-data-box", "finetune-text-box")
    expected = {
        "uncanny": (),
        "guided": ("finetune-away-box",),
        "cross-domain": ("finetune-data-box",),
        "domain-shift": ("finetune-data-box",),
        "nada": ("finetune-text-box",),
    }
    page.click("#finetune-panel > summary")
    for method, visible in expected.items():
        page.select_option("#finetune-method", method)
        for box in boxes:
            shown = expect(page.locator(f"#{box}"))
            shown.to_be_visible() if box in visible else shown.to_be_hidden()
    divergence = page.locator("label:has(#refine-divergence)")
    for method, steps in [("ddls", 100), ("dot", 10), ("dgflow", 25)]:
        page.select_option("#refine-method", method)
        expect(page.locator("#refine-steps")).to_have_value(str(steps))
        assert divergence.evaluate("l => l.hidden") is (method != "dgflow")
    page.click("#train-panel > summary")
    for recipe in ("fashion-heldout-can", "nodata-gan"):
        page.select_option("#train-recipe", recipe)
        hidden = page.locator("#train-classes-box").evaluate("b => b.hidden")
        assert hidden is (recipe == "nodata-gan")  # no data, no classes to choose


def test_a_novelty_search_opens_the_picture_clicked_in_its_grid(studio_page):
    page, _, out = studio_page
    page.click("#novelty-panel > summary")
    page.fill("#novelty-budget", "100")
    page.click("#novelty-btn")
    page.wait_for_function(
        "(g => !document.getElementById('grid-box').hidden && g.src.includes('novelty')"
        " && g.complete && g.naturalWidth > 0)(document.getElementById('grid'))"
    )
    found = json.loads(next(out.glob("novelty-*.json")).read_text())["states"]
    grid = page.locator("#grid")
    box = grid.bounding_box()
    count = renders(page)
    grid.click(position={"x": box["width"] * 5 / 6, "y": box["height"] / 6})  # the first row's third picture
    settle(page, count)
    opened = page.evaluate("window.studio.state")
    assert opened["latent"]["z"] == found[2]["latent"]["z"] and opened["label"] == found[2]["label"]


def stroke(page, points: list[tuple[float, float]]) -> None:
    """Press the mouse at the first point (fractions of the sketch canvas), move through the rest, release."""
    canvas = page.locator("#sketch-canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    at = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in points]
    page.mouse.move(*at[0])
    page.mouse.down()
    for x, y in at[1:]:
        page.mouse.move(x, y)
    page.mouse.up()


def sketch_pixels(page, count: int) -> np.ndarray:
    page.wait_for_function(
        "n => Number(document.getElementById('sketch-result').dataset.renders || 0) >= n", arg=count
    )
    return shown_pixels(page, "sketch-result")


def test_the_sketch_pad_renders_a_stroke_drawn_with_the_mouse(studio_page) -> None:
    page, studio, out = studio_page
    expect(page.locator("#sketch-model option")).not_to_have_count(0)
    expect(page.locator("#sketch-model")).to_have_value("emoji-lineart2colour")  # the default, when built
    page.click("#sketch-panel > summary")
    line = [(0.3, 0.2), (0.7, 0.2), (0.8, 0.9), (0.2, 0.9), (0.3, 0.2)]
    stroke(page, line)
    drawn = sketch_pixels(page, 1)
    assert drawn.shape == (64, 64, 3)
    assert np.abs(np.diff(drawn.astype(int), axis=2)).mean() > 3  # black line art comes back in colour
    page.click("#sketch-undo")
    blank = sketch_pixels(page, 2)
    assert np.abs(drawn.astype(int) - blank.astype(int)).mean() > 5  # the stroke made the picture
    stroke(page, line)
    assert np.array_equal(sketch_pixels(page, 3), drawn)  # the same stroke, the same picture

    page.click("#sketch-keep")
    expect(page.locator("#sketch-keep")).to_have_attribute("data-kept", re.compile(r"keep-\d+\.png"))
    kept = sorted(out.glob("keep-*.json"))
    assert len(kept) == 1
    recipe = read_recipe(kept[0])
    assert recipe.sketch is not None and recipe.bundle == "emoji-lineart2colour"
    remade = np.asarray(to_picture(render_recipe(recipe), studio.models.get(recipe.bundle)))
    assert np.array_equal(remade, drawn)  # the recipe carries the drawing: the picture, bit for bit

    # Project the drawing into the GAN's latent space (a background job); the explorer opens what it found.
    page.select_option("#sketch-generator", "fashion-gan")
    count = renders(page)
    page.click("#sketch-project")
    expect(page.locator("#sketch-project")).to_have_attribute(
        "data-projected", re.compile(r"project-\d+\.png"), timeout=120_000
    )
    settle(page, count)
    found = json.loads(
        (out / page.locator("#sketch-project").get_attribute("data-projected"))
        .with_suffix(".json")
        .read_text()
    )
    assert page.evaluate("window.studio.state.latent.z") == found["state"]["latent"]["z"]


def test_grid_tiles_are_at_least_96_pixels_and_measures_read_in_words(studio_page):
    page, _, _ = studio_page
    page.set_viewport_size({"width": 760, "height": 900})  # a small laptop window
    page.click("#show-grid")
    page.wait_for_function(
        "!document.getElementById('grid-box').hidden && document.getElementById('grid').complete"
        " && document.getElementById('grid').naturalWidth > 0"
    )
    assert page.locator("#grid").bounding_box()["width"] / 3 >= 96  # nine seeds, three to a row
    page.click("#measure-btn")
    expect(page.locator("#measures tr")).not_to_have_count(0)
    rows = page.locator("#measures tr").evaluate_all(
        "rows => rows.map(r => [r.title, ...[...r.cells].map(c => c.textContent)])"
    )
    by_name = {row[1]: row for row in rows}
    assert all(row[0] for row in rows)  # every measure has its definition on hover
    assert by_name["novelty"][3] and by_name["novelty"][3] != by_name["novelty"][2]  # words beside the number
    assert "without edits" in by_name["scan"][3]

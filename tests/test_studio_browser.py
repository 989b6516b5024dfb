"""The studio end to end in real headless Chromium: open the page, move a slider with the mouse, keep the
picture, and check that the kept recipe remakes exactly the pixels the page showed."""

from __future__ import annotations

import base64
import io
import json
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
from tests.cdp import Browser, find_chromium  # noqa: E402

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium found: install Debian's chromium (apt-get install chromium) or set SWERVE_CHROMIUM",
)


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
def page(tmp_path: Path):
    studio = Studio(Models([]), tmp_path / "out", start_model="fashion-gan")
    url, server, thread = serve(studio)
    browser = Browser(CHROMIUM)
    try:
        browser.goto(url)
        browser.wait_for("Number(document.getElementById('image').dataset.renders) >= 1")
        yield browser, studio, tmp_path / "out"
    finally:
        browser.close()
        server.should_exit = True
        thread.join(10)


def shown_pixels(browser: Browser) -> np.ndarray:
    """The bytes of the picture the page shows, decoded."""
    encoded = browser.evaluate(
        """fetch(document.getElementById('image').src).then(r => r.arrayBuffer()).then(b => {
             let s = ''; for (const x of new Uint8Array(b)) s += String.fromCharCode(x); return btoa(s); })"""
    )
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(encoded))))


def settle(browser: Browser, renders_before: int) -> None:
    browser.wait_for(
        f"Number(document.getElementById('image').dataset.renders) > {renders_before} && window.studio.idle()"
    )


def renders(browser: Browser) -> int:
    return int(browser.evaluate("Number(document.getElementById('image').dataset.renders)"))


def drag_slider(browser: Browser, selector: str, fraction: float) -> None:
    """Click a range input at ``fraction`` of its width, as a person's mouse would."""
    box = browser.evaluate(
        f"(() => {{ const r = document.querySelector({selector!r}).getBoundingClientRect();"
        " return [r.left, r.top, r.width, r.height]; })()"
    )
    left, top, width, height = box
    browser.click(left + fraction * width, top + height / 2)


def test_moving_sliders_changes_the_picture_and_the_kept_recipe_reproduces_it(page):
    browser, studio, out = page
    assert browser.evaluate("document.getElementById('status').classList.contains('error')") is False
    before = shown_pixels(browser)

    # Turn on the principal directions of the first block and drag the first slider.
    count = renders(browser)
    browser.evaluate(
        "(() => { const s = document.getElementById('pca-layer'); s.value = 'blocks.0';"
        " s.dispatchEvent(new Event('change')); })()"
    )
    settle(browser, count)
    browser.wait_for("document.querySelectorAll('#pca-sliders input').length > 0")
    count = renders(browser)
    drag_slider(browser, "#pca-sliders input", 0.9)
    settle(browser, count)
    after = shown_pixels(browser)
    assert browser.evaluate("window.studio.state.pca.amounts[0]") > 2
    assert not np.array_equal(before, after)

    # Add a bend (multiply, on the first conv block) and drag its slider.
    count = renders(browser)
    browser.evaluate("document.getElementById('add-bend').click()")
    settle(browser, count)
    with_bend = shown_pixels(browser)
    count = renders(browser)
    drag_slider(browser, ".bend .bend-param", 0.15)
    settle(browser, count)
    bent = browser.evaluate("window.studio.state.bends[0]")
    assert bent["transform"] == "multiply" and bent["params"]["factor"] < -5
    after = shown_pixels(browser)
    assert not np.array_equal(with_bend, after)

    browser.evaluate("document.getElementById('keep-btn').click()")
    browser.wait_for("document.querySelectorAll('#kept li').length === 1")
    kept = sorted(out.glob("keep-*.json"))
    assert len(kept) == 1
    recipe = read_recipe(kept[0])
    assert recipe.bends[0]["params"]["factor"] == bent["params"]["factor"]
    remade = np.asarray(to_picture(render_recipe(recipe), studio.models.get("fashion-gan")))
    assert np.array_equal(remade, after)

    # Load the kept picture back after moving on: the page shows it again.
    count = renders(browser)
    browser.evaluate(
        "(() => { const s = document.getElementById('seed'); s.value = '77';"
        " s.dispatchEvent(new Event('change')); })()"
    )
    settle(browser, count)
    assert not np.array_equal(shown_pixels(browser), after)
    count = renders(browser)
    browser.upload("#load", str(sorted(out.glob("keep-*.png"))[0]))
    settle(browser, count)
    assert np.array_equal(shown_pixels(browser), after)

    # A short walk exported in the background: its progress arrives over Server-Sent Events.
    browser.evaluate("document.getElementById('export-frames').value = '4'")
    browser.evaluate("document.getElementById('export-btn').click()")
    browser.wait_for("document.querySelectorAll('#exports li').length === 1", 60)
    assert browser.evaluate("document.getElementById('progress').value") == 4
    assert browser.evaluate("document.getElementById('job-status').textContent") == "walk: done"
    walk = sorted(out.glob("walk-*.gif"))
    assert len(walk) == 1 and Image.open(walk[0]).n_frames == 4
    assert browser.errors == []  # no uncaught exception in the page's scripts


def test_the_job_panels_ask_for_what_each_method_needs(page):
    browser, _, _ = page
    shown = "(id => !document.getElementById(id).hidden)"
    pick = (
        "(m => { const s = document.getElementById('finetune-method'); s.value = m;"
        " s.dispatchEvent(new Event('change')); })"
    )
    boxes = ("finetune-away-box", "finetune-data-box", "finetune-text-box")
    expected = {
        "uncanny": (),
        "guided": ("finetune-away-box",),
        "cross-domain": ("finetune-data-box",),
        "domain-shift": ("finetune-data-box",),
        "nada": ("finetune-text-box",),
    }
    for method, visible in expected.items():
        browser.evaluate(f"{pick}({method!r})")
        assert {b for b in boxes if browser.evaluate(f"{shown}({b!r})")} == set(visible), method
    divergence = "document.getElementById('refine-divergence').closest('label').hidden"
    for method, steps in [("ddls", 100), ("dot", 10), ("dgflow", 25)]:
        browser.evaluate(
            f"(() => {{ const s = document.getElementById('refine-method'); s.value = {method!r};"
            " s.dispatchEvent(new Event('change')); })()"
        )
        assert browser.evaluate("Number(document.getElementById('refine-steps').value)") == steps
        assert browser.evaluate(divergence) is (method != "dgflow")
    classes = "document.getElementById('train-classes-box').hidden"
    for recipe in ("fashion-heldout-can", "nodata-gan"):
        browser.evaluate(
            f"(() => {{ const s = document.getElementById('train-recipe'); s.value = {recipe!r};"
            " s.dispatchEvent(new Event('change')); })()"
        )
        assert browser.evaluate(classes) is (recipe == "nodata-gan")  # no data, no classes to choose


def test_a_novelty_search_opens_the_picture_clicked_in_its_grid(page):
    browser, _, out = page
    browser.evaluate("document.getElementById('novelty-budget').value = '100'")
    browser.evaluate("document.getElementById('novelty-btn').click()")
    grid = "document.getElementById('grid')"
    browser.wait_for(
        f"!document.getElementById('grid-box').hidden && {grid}.src.includes('novelty')"
        f" && {grid}.complete && {grid}.naturalWidth > 0"
    )
    found = json.loads(next(out.glob("novelty-*.json")).read_text())["states"]
    left, top, width, height = browser.evaluate(
        "(() => { const r = document.getElementById('grid').getBoundingClientRect();"
        " return [r.left, r.top, r.width, r.height]; })()"
    )
    count = renders(browser)
    browser.click(left + width * 5 / 6, top + height / 6)  # the third picture of the first row
    settle(browser, count)
    opened = browser.evaluate("window.studio.state")
    assert opened["latent"]["z"] == found[2]["latent"]["z"] and opened["label"] == found[2]["label"]


def stroke(browser: Browser, points: list[tuple[float, float]]) -> None:
    """Press the mouse at the first point (fractions of the sketch canvas), move through the rest, release."""
    box = browser.evaluate(
        """(() => { const c = document.getElementById('sketch-canvas'); c.scrollIntoView({block: 'center'});
             const r = c.getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()"""
    )
    at = [(box[0] + x * box[2], box[1] + y * box[3]) for x, y in points]
    events = [("mousePressed", at[0])] + [("mouseMoved", p) for p in at[1:]] + [("mouseReleased", at[-1])]
    browser.call("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": at[0][0], "y": at[0][1]})
    for kind, (x, y) in events:
        params = {"type": kind, "x": x, "y": y, "button": "left", "buttons": 1, "clickCount": 1}
        browser.call("Input.dispatchMouseEvent", params)


def sketch_pixels(browser: Browser, count: int) -> np.ndarray:
    browser.wait_for(f"Number(document.getElementById('sketch-result').dataset.renders || 0) >= {count}")
    encoded = browser.evaluate(
        """fetch(document.getElementById('sketch-result').src).then(r => r.arrayBuffer()).then(b => {
             let s = ''; for (const x of new Uint8Array(b)) s += String.fromCharCode(x); return btoa(s); })"""
    )
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(encoded))))


def test_the_sketch_pad_renders_a_stroke_drawn_with_the_mouse(page) -> None:
    browser, _, _ = page
    browser.wait_for("document.getElementById('sketch-model').options.length > 0")
    assert browser.evaluate("document.getElementById('sketch-model').value") == "fashion-edges2grey"
    browser.evaluate("document.getElementById('sketch-panel').open = true")
    line = [(0.3, 0.2), (0.7, 0.2), (0.8, 0.9), (0.2, 0.9), (0.3, 0.2)]
    stroke(browser, line)
    drawn = sketch_pixels(browser, 1)
    assert drawn.shape == (32, 32)
    browser.evaluate("document.getElementById('sketch-undo').click()")
    blank = sketch_pixels(browser, 2)
    assert np.abs(drawn.astype(int) - blank.astype(int)).mean() > 5  # the stroke made the picture
    stroke(browser, line)
    assert np.array_equal(sketch_pixels(browser, 3), drawn)  # the same stroke, the same picture


def test_grid_tiles_are_at_least_96_pixels_and_measures_read_in_words(page):
    browser, _, _ = page
    narrow = {"width": 760, "height": 900, "deviceScaleFactor": 1, "mobile": False}  # a small laptop window
    browser.call("Emulation.setDeviceMetricsOverride", narrow)
    browser.evaluate("document.getElementById('show-grid').click()")
    browser.wait_for(
        "!document.getElementById('grid-box').hidden && document.getElementById('grid').complete"
        " && document.getElementById('grid').naturalWidth > 0"
    )
    width = browser.evaluate("document.getElementById('grid').getBoundingClientRect().width")
    assert width / 3 >= 96  # nine seeds, three to a row
    browser.evaluate("document.getElementById('measure-btn').click()")
    browser.wait_for("document.querySelectorAll('#measures tr').length > 0")
    rows = browser.evaluate(
        "[...document.querySelectorAll('#measures tr')]"
        ".map(r => [r.title, ...[...r.cells].map(c => c.textContent)])"
    )
    by_name = {row[1]: row for row in rows}
    assert all(row[0] for row in rows)  # every measure has its definition on hover
    assert by_name["novelty"][3] and by_name["novelty"][3] != by_name["novelty"][2]  # words beside the number
    assert "without edits" in by_name["scan"][3]

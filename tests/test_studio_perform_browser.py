"""The performance view in real headless Chromium: open it from the control page, change a control over the
API, and the canvas it paints changes; the control page shows the view's frame rate and latency."""

from __future__ import annotations

import time
import wave
from pathlib import Path

import httpx
import numpy as np

from swerve.studio.engine import Studio
from swerve.studio.models import Models
from tests.test_studio_browser import expect, serve  # skips this module without the studio extra

CANVAS_SUM = """() => { const c = document.getElementById('canvas');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let s = 0; for (let i = 0; i < d.length; i += 4) s += d[i] * (1 + (i % 997));
  return [c.width, c.height, s]; }"""
SLIDER_AT = "([v, step]) => Math.abs(Number(document.querySelector('.bend .bend-param').value) - v) <= step"
MORE_FRAMES = "n => Number(document.getElementById('canvas').dataset.frames) > n"


def test_the_performance_view_follows_a_control_changed_over_the_api(chromium_page, request, tmp_path: Path):
    url, server, thread = serve(Studio(Models([]), tmp_path / "out", start_model="fashion-gan"))
    token = server.config.app.state.token
    try:
        page = chromium_page
        page.goto(url)
        page.wait_for_function("Number(document.getElementById('image').dataset.renders) >= 1")
        with page.expect_popup() as opened:
            page.click("#perform-open")
        view = opened.value
        view.errors = []
        view.on("pageerror", lambda error: view.errors.append(str(error)))
        request.node.browser_pages.append(view)
        assert view.url.endswith("/perform")
        view.wait_for_function("Number(document.getElementById('canvas').dataset.frames) >= 1")
        width, height, before = view.evaluate(CANVAS_SUM)
        assert width > 28 and height > 28 and before > 0  # upscaled to the window, not 28 pixels
        frames = int(view.locator("#canvas").get_attribute("data-frames"))

        answer = httpx.post(
            f"{url}api/perform/controls",
            json={"controls": {"blocks.0.rotate.degrees": 90.0}},
            headers={"X-Swerve-Token": token},
        )
        assert answer.status_code == 200, answer.text
        view.wait_for_function(MORE_FRAMES, arg=frames)
        assert view.evaluate(CANVAS_SUM)[2] != before
        expect(page.locator("#perform-rate")).to_contain_text("ms from change to picture")
        assert page.errors == [] and view.errors == []
    finally:
        server.should_exit = True
        thread.join(10)


def test_learn_binds_a_knob_to_the_slider_clicked(chromium_page, tmp_path: Path):
    from pythonosc.udp_client import SimpleUDPClient

    from swerve.studio.live_control import OscInput

    url, server, thread = serve(Studio(Models([]), tmp_path / "out", start_model="fashion-gan"))
    performance = server.config.app.state.performance
    osc = OscInput(performance, 0).start()
    try:
        page = chromium_page
        page.goto(url)
        page.wait_for_function("Number(document.getElementById('image').dataset.renders) >= 1")
        page.click("#add-bend")
        slider = page.locator(".bend .bend-param").first
        expect(slider).to_be_visible()
        param = slider.get_attribute("data-param")
        layer = page.locator(".bend .bend-layer").first.input_value()
        transform = page.locator(".bend .bend-transform").first.input_value()
        before = page.evaluate("() => window.studio.state.bends[0].params")
        page.click("#learn-btn")
        page.wait_for_timeout(600)  # three status polls come and go before the slider is picked
        expect(page.locator("#learn-btn")).to_have_text("cancel learn")
        slider.click()
        expect(page.locator("#perform-note")).to_contain_text("now move a knob")
        assert (
            page.evaluate("() => window.studio.state.bends[0].params") == before
        )  # the click only picked it
        target = f"{layer}.{transform}.{param}"
        assert performance.learning["target"] == target
        SimpleUDPClient("127.0.0.1", osc.port).send_message("/fader", 1.0)
        expect(page.locator("#bindings")).to_contain_text(f"osc:/fader → {target}")
        expect(page.locator("#perform-note")).to_contain_text(f"bound osc:/fader to {target}")
        shown = performance.state()["bends"][0]
        assert shown["layer"] == layer and shown["params"][param] == float(slider.get_attribute("max"))
        assert page.errors == []
    finally:
        osc.close()
        server.should_exit = True
        thread.join(10)


def test_the_slider_bound_to_a_knob_moves_with_it(chromium_page, tmp_path: Path):
    from pythonosc.udp_client import SimpleUDPClient

    from swerve.studio.live_control import OscInput

    url, server, thread = serve(Studio(Models([]), tmp_path / "out", start_model="fashion-gan"))
    performance = server.config.app.state.performance
    osc = OscInput(performance, 0).start()
    knob = SimpleUDPClient("127.0.0.1", osc.port)
    try:
        page = chromium_page
        page.goto(url)
        page.wait_for_function("Number(document.getElementById('image').dataset.renders) >= 1")
        page.click("#add-bend")
        slider = page.locator(".bend .bend-param").first
        expect(slider).to_be_visible()
        page.wait_for_function("Number(document.getElementById('image').dataset.renders) >= 2")
        low, high = float(slider.get_attribute("min")), float(slider.get_attribute("max"))
        page.click("#learn-btn")
        slider.click()
        expect(page.locator("#perform-note")).to_contain_text("now move a knob")
        knob.send_message("/knob", 0.0)
        expect(page.locator("#perform-note")).to_contain_text("bound osc:/knob")
        params = page.evaluate("() => window.studio.state.bends[0].params")
        renders = page.locator("#image").get_attribute("data-renders")

        for level in (0.25, 1.0):
            knob.send_message("/knob", level)
            wanted = low + level * (high - low)
            step = float(slider.get_attribute("step") or 0.01)
            page.wait_for_function(SLIDER_AT, arg=[wanted, step])
        output = page.locator(".bend .bend-param").first.locator("xpath=../output")
        expect(output).to_have_text(slider.input_value())
        # the slider shows the knob; the page did not take it for a change of its own
        assert page.evaluate("() => window.studio.state.bends[0].params") == params
        assert page.locator("#image").get_attribute("data-renders") == renders
        assert page.errors == []
    finally:
        osc.close()
        server.should_exit = True
        thread.join(10)


def click_track(path: Path, seconds: float = 4.0, rate: int = 48000, bpm: float = 120.0) -> Path:
    """A 16-bit mono WAV of loud noise clicks (60 ms) on every beat over silence, for Chromium's fake
    microphone (which plays it in a loop)."""
    rng = np.random.default_rng(0)
    samples = np.zeros(int(seconds * rate), dtype=np.float32)
    click = int(0.06 * rate)
    for start in range(0, len(samples), int(rate * 60.0 / bpm)):
        samples[start : start + click] = 0.8 * rng.uniform(-1, 1, len(samples[start : start + click]))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((samples * 32767).astype("<i2").tobytes())
    return path


def test_the_microphone_drives_a_bend_with_the_beat(chromium_with, request, tmp_path: Path):
    track = click_track(tmp_path / "clicks.wav")
    page = chromium_with(
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={track}",
        "--autoplay-policy=no-user-gesture-required",
    )
    url, server, thread = serve(Studio(Models([]), tmp_path / "out", start_model="fashion-gan"))
    token = server.config.app.state.token
    performance = server.config.app.state.performance
    mapping = {"bindings": [{"source": "mic:rms", "target": "blocks.0.rotate.degrees", "range": [0, 90]}]}
    try:
        page.goto(url)
        page.wait_for_function("Number(document.getElementById('image').dataset.renders) >= 1")
        answer = httpx.post(f"{url}api/perform/mapping", json=mapping, headers={"X-Swerve-Token": token})
        assert answer.status_code == 200, answer.text
        with page.expect_popup() as opened:
            page.click("#perform-open")
        view = opened.value
        view.errors = []
        view.on("pageerror", lambda error: view.errors.append(str(error)))
        request.node.browser_pages.append(view)
        view.wait_for_function("Number(document.getElementById('canvas').dataset.frames) >= 1")
        page.check("#mic-on")
        expect(page.locator("#perform-note")).to_contain_text("listening")

        heard, sums, deadline = [], set(), time.monotonic() + 6.0
        while time.monotonic() < deadline:  # two beats a second: a dozen clicks and the silences between
            heard.append((time.monotonic(), performance.sources.get("mic:rms", -1.0)))
            sums.add(view.evaluate(CANVAS_SUM)[2])
            time.sleep(0.02)
        rms = [r for _, r in heard if r >= 0]
        assert len(rms) > 20, "the page's microphone never reached the server"
        assert max(rms) > 0.5 and min(rms) < 0.05  # loud on the clicks, quiet between them
        assert performance.sources.get("mic:onset", 0.0) >= 0.0 and "mic:band.0" in performance.sources
        rises = [t for (_, a), (t, b) in zip(heard, heard[1:], strict=False) if a < 0.5 <= b]
        gaps = np.diff(rises)
        assert len(rises) >= 3 and 0.3 < float(np.median(gaps)) < 1.2, rises  # the beat, every 0.5 s
        assert len(sums) >= 3  # the bend followed the sound: the view painted it loud and quiet
        assert page.errors == [] and view.errors == []
    finally:
        server.should_exit = True
        thread.join(10)

"""Make docs/images/studio.png: the studio on the zoo GAN, with a principal slider moved and a bend on.

Run from the repository root (it drives the system's headless Chromium through Playwright):

    .venv/bin/python docs/studio_screenshot.py [--out docs/images/studio.png]
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import uvicorn
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.studio_latency import make_partner  # noqa: E402
from swerve.studio.app import create_app  # noqa: E402
from swerve.studio.engine import Studio  # noqa: E402
from swerve.studio.models import Models  # noqa: E402
from tests.browser import find_chromium, launch  # noqa: E402

SETUP = """async () => {
  const set = (id, value, event = 'change') => {
    const el = document.getElementById(id); el.value = value; el.dispatchEvent(new Event(event)); };
  set('label', '7');
  set('seed', '12');
  set('pca-layer', 'blocks.0');
  const pause = () => new Promise(r => setTimeout(r, 50));
  while (document.querySelectorAll('#pca-sliders input').length === 0) await pause();
  const pc = document.querySelectorAll('#pca-sliders input');
  pc[0].value = 2.2; pc[0].dispatchEvent(new Event('input'));
  pc[2].value = -1.4; pc[2].dispatchEvent(new Event('input'));
  const add = document.getElementById('add-bend');
  if (!add.disabled) {
    add.click();
    const card = document.querySelector('.bend');
    const transform = card.querySelector('.bend-transform');
    transform.value = 'rotate'; transform.dispatchEvent(new Event('change'));
    const layer = document.querySelector('.bend .bend-layer');
    layer.value = 'blocks.0'; layer.dispatchEvent(new Event('change'));
    const slider = document.querySelector('.bend .bend-param');
    slider.value = 40; slider.dispatchEvent(new Event('input'));
  }
  const partner = document.getElementById('blend-with');
  if (partner.options.length > 1) {
    set('blend-with', partner.options[1].value);
    set('alpha', '0.35', 'input');
  }
  document.getElementById('measure-btn').click();
  return true;
}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/images/studio.png"))
    args = parser.parse_args()
    chromium = find_chromium()
    if chromium is None:
        raise SystemExit("no Chromium found: apt-get install chromium, or set SWERVE_CHROMIUM")
    with tempfile.TemporaryDirectory() as out:
        models = Path(out) / "models"
        make_partner(models)  # a nudged copy of the GAN, to show blending
        studio = Studio(Models([models]), Path(out) / "kept", start_model="fashion-gan")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        server = uvicorn.Server(uvicorn.Config(create_app(studio), log_level="warning"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.02)
        try:
            with sync_playwright() as playwright:
                browser = launch(playwright, chromium)
                page = browser.new_page(viewport={"width": 1360, "height": 980})
                page.goto(f"http://127.0.0.1:{sock.getsockname()[1]}/")
                page.wait_for_function("Number(document.getElementById('image').dataset.renders) >= 1")
                page.evaluate(SETUP)
                done = "window.studio.idle() && document.querySelectorAll('#measures tr').length > 0"
                page.wait_for_function(done, timeout=60_000)
                page.wait_for_timeout(500)
                args.out.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(args.out))
                browser.close()
        finally:
            server.should_exit = True
            thread.join(10)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

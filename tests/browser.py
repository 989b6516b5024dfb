"""Headless Chromium for the browser tests, through Playwright, driving the system's Chromium (no download).

``chromium_page`` gives a fresh page per test from one browser per session; a failing test leaves a
screenshot of each of its pages in ``test-results/`` (see ``screenshot_on_failure`` in conftest.py).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome")
NO_CHROMIUM = "no Chromium found: install Debian's chromium (apt-get install chromium) or set SWERVE_CHROMIUM"
NO_PLAYWRIGHT = "Playwright is not installed: pip install 'swerve[dev]' (no browser download is needed)"
WIDTH, HEIGHT = 1360, 900


def find_chromium() -> str | None:
    """The path of a Chromium-family browser (``SWERVE_CHROMIUM`` first), or None."""
    given = os.environ.get("SWERVE_CHROMIUM")
    if given:
        return given if os.path.exists(given) else None
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def launch(playwright, executable: str, extra: tuple[str, ...] = ()):
    """The Chromium at ``executable``, headless, started by ``playwright`` (a ``sync_playwright()``), with
    the command-line switches ``extra`` added to the fixed ones."""
    return playwright.chromium.launch(
        executable_path=executable,
        headless=True,
        args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", *extra],  # CI runs as root
    )


@pytest.fixture(scope="session")
def chromium_playwright():
    """One Playwright driver for the session and the Chromium it drives: (playwright, executable); skips
    when there is no Chromium or no Playwright. (A thread may run one sync Playwright at a time: every
    browser of the session comes from this one.)"""
    executable = find_chromium()
    if executable is None:
        pytest.skip(NO_CHROMIUM)
    sync_api = pytest.importorskip("playwright.sync_api", reason=NO_PLAYWRIGHT)
    with sync_api.sync_playwright() as playwright:
        yield playwright, executable


@pytest.fixture(scope="session")
def chromium_browser(chromium_playwright):
    """One headless Chromium for the session, with the fixed switches only."""
    browser = launch(*chromium_playwright)
    yield browser
    browser.close()


@pytest.fixture
def chromium_with(chromium_playwright, request):
    """``chromium_with(*switches)``: a fresh page in a Chromium of its own, started with the extra
    command-line ``switches`` (fake media devices, say) and closed after the test; ``page.errors`` as for
    ``chromium_page``."""
    browsers = []

    def page_with(*switches: str):
        browser = launch(*chromium_playwright, extra=switches)
        browsers.append(browser)
        page = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT}).new_page()
        page.errors = []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        request.node.browser_pages = [*getattr(request.node, "browser_pages", []), page]
        return page

    yield page_with
    for browser in browsers:
        browser.close()


@pytest.fixture
def chromium_page(chromium_browser, request):
    """A fresh page (its own profile), with ``page.errors`` listing uncaught exceptions in its scripts."""
    context = chromium_browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    request.node.browser_pages = [page]
    yield page
    context.close()


def keep_screenshots(item: pytest.Item) -> None:
    """Write a screenshot of each page the failed test ``item`` had open into ``test-results/``."""
    pages = getattr(item, "browser_pages", [])
    folder = Path(item.config.rootpath) / "test-results"
    name = re.sub(r"[^\w.-]+", "-", item.nodeid).strip("-")
    for index, page in enumerate(pages):
        if page.is_closed():
            continue
        folder.mkdir(exist_ok=True)
        try:
            page.screenshot(path=str(folder / f"{name}-{index}.png"), full_page=True)
        except Exception as error:  # noqa: BLE001 - a screenshot must not hide the test's own failure
            item.add_report_section("call", "screenshot", f"no screenshot: {error}")

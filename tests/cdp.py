"""A small Chrome DevTools Protocol client over a pipe, for driving headless Chromium in tests.

Chromium started with ``--remote-debugging-pipe`` reads commands on file descriptor 3 and writes replies on 4,
each a JSON message ended by a NUL byte; no websocket library or browser download is needed.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from typing import Any

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome")


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


class Browser:
    """Headless Chromium with one page; ``call`` sends a command to that page and returns its result."""

    def __init__(self, executable: str, width: int = 1360, height: int = 900) -> None:
        self._profile = tempfile.mkdtemp(prefix="swerve-chromium-")
        to_child, self._write = os.pipe()
        self._read, from_child = os.pipe()
        args = [
            "--headless=new",
            "--remote-debugging-pipe",
            "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            f"--user-data-dir={self._profile}",
            f"--window-size={width},{height}",
            "about:blank",
        ]
        script = f'exec "$0" "$@" 3<&{to_child} 4>&{from_child}'
        self._process = subprocess.Popen(
            ["bash", "-c", script, executable, *args],
            pass_fds=(to_child, from_child),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_child)
        os.close(from_child)
        self._ids = 0
        self.errors: list[str] = []  # uncaught exceptions in the page's scripts
        self._replies: dict[int, queue.Queue] = {}
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._listen, daemon=True)
        self._reader.start()
        target = self.call("Target.createTarget", {"url": "about:blank"}, session=None)["targetId"]
        attached = self.call("Target.attachToTarget", {"targetId": target, "flatten": True}, session=None)
        self.session = attached["sessionId"]
        self.call("Page.enable")
        self.call("Runtime.enable")
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )

    def _listen(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = os.read(self._read, 1 << 16)
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                message = json.loads(raw)
                if message.get("method") == "Runtime.exceptionThrown":
                    details = message["params"]["exceptionDetails"]
                    self.errors.append(details.get("exception", {}).get("description") or details.get("text"))
                if "id" in message:
                    with self._lock:
                        box = self._replies.get(message["id"])
                    if box is not None:
                        box.put(message)

    def call(
        self,
        method: str,
        params: dict | None = None,
        session: str | None | bool = True,
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        """Send ``method`` (to the page unless ``session=None``) and wait for its result."""
        with self._lock:
            self._ids += 1
            number = self._ids
            box: queue.Queue = queue.Queue()
            self._replies[number] = box
        message: dict[str, Any] = {"id": number, "method": method, "params": params or {}}
        if session is True:
            message["sessionId"] = self.session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        try:
            reply = box.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"Chromium did not answer {method} within {timeout} s") from None
        finally:
            with self._lock:
                self._replies.pop(number, None)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error'].get('message')}")
        return reply.get("result", {})

    def evaluate(self, expression: str, timeout: float = 30.0) -> Any:
        """Run JavaScript in the page (awaiting a promise) and return its JSON value."""
        result = self.call(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": True, "returnByValue": True},
            timeout=timeout,
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise RuntimeError(f"page script failed: {text}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 20.0) -> Any:
        """Poll ``expression`` until it is truthy; return its value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.05)
        raise TimeoutError(f"waited {timeout} s for: {expression}")

    def goto(self, url: str) -> None:
        self.call("Page.navigate", {"url": url})
        self.wait_for("document.readyState === 'complete'")

    def click(self, x: float, y: float) -> None:
        """A left click at page coordinates, as a person's mouse would make it."""
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.call(
                "Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}
            )

    def press(self, key: str) -> None:
        """Press and release one key (a digit, a letter, space, an arrow or Escape), as a keyboard would."""
        named = {" ": ("Space", 32), "ArrowLeft": ("ArrowLeft", 37), "ArrowRight": ("ArrowRight", 39)}
        named["Escape"] = ("Escape", 27)
        code, number = named.get(key) or (
            f"Digit{key}" if key.isdigit() else f"Key{key.upper()}",
            ord(key.upper()),
        )
        text = key if len(key) == 1 else ""
        base = {"key": key, "code": code, "windowsVirtualKeyCode": number}
        self.call(
            "Input.dispatchKeyEvent", {"type": "keyDown" if text else "rawKeyDown", "text": text, **base}
        )
        self.call("Input.dispatchKeyEvent", {"type": "keyUp", **base})

    def upload(self, selector: str, path: str) -> None:
        """Choose ``path`` in the file input ``selector``, as a person picking a file would."""
        document = self.call("DOM.getDocument")["root"]["nodeId"]
        node = self.call("DOM.querySelector", {"nodeId": document, "selector": selector})["nodeId"]
        self.call("DOM.setFileInputFiles", {"nodeId": node, "files": [path]})

    def screenshot(self) -> bytes:
        return base64.b64decode(self.call("Page.captureScreenshot", {"format": "png"})["data"])

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, TimeoutError, OSError):
            self.call("Browser.close", session=None, timeout=5)
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        for fd in (self._write, self._read):
            with contextlib.suppress(OSError):
                os.close(fd)
        shutil.rmtree(self._profile, ignore_errors=True)

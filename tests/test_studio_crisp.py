"""The studio draws square pixels only where a picture is enlarged at least twice (crisp.js, studio.css)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

STATIC = Path(__file__).parent.parent / "swerve" / "studio" / "static"


def test_only_the_pixelated_class_draws_square_pixels_and_every_page_loads_crisp_js():
    css = (STATIC / "studio.css").read_text(encoding="utf-8")
    rules = re.findall(r"([^{}]+)\{([^}]*)\}", css)
    square = [selector.strip() for selector, body in rules if "image-rendering: pixelated" in body]
    assert square == ["img.pixelated"]
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    assert '<script type="module" src="/static/crisp.js"></script>' in page
    for script in STATIC.glob("*.js"):
        assert "imageRendering" not in script.read_text(encoding="utf-8"), script.name


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_pictures_enlarged_twice_or_more_are_pixelated_and_others_smooth():
    # (natural width, shown width, device pixel ratio): a 64 px emoji in the 512 px box, a 256 px picture
    # in it (exactly twice), one in a 384 px box (1.5 times), one shown smaller, one not loaded yet, and a
    # 256 px picture at 256 CSS pixels on a screen with two device pixels to each.
    cases = [(64, 512, 1), (256, 512, 1), (256, 384, 1), (256, 128, 1), (0, 512, 1), (256, 256, 2)]
    script = (
        f"import {{ pixelated }} from {json.dumps((STATIC / 'crisp.js').as_uri())};\n"
        f"console.log(JSON.stringify({json.dumps(cases)}.map(([n, s, r]) => pixelated(n, s, r))));"
    )
    done = subprocess.run(
        ["node", "--input-type=module", "-e", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(done.stdout) == [True, True, False, False, False, True]

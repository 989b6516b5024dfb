"""The studio's sketch pad route: a drawing rendered through a translation model with the page's bends."""

from __future__ import annotations

import base64
import io
import json
import time
from pathlib import Path

import pytest
from PIL import Image

pytest.importorskip("fastapi", reason="the studio extra is not installed: pip install 'swerve[studio]'")
pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx")

from fastapi.testclient import TestClient  # noqa: E402

from swerve.bundle import load  # noqa: E402
from swerve.errors import ConfigError  # noqa: E402
from swerve.studio.app import TOKEN_HEADER, create_app  # noqa: E402
from swerve.studio.engine import Studio  # noqa: E402
from swerve.studio.models import Models  # noqa: E402
from swerve.studio.recipe import Recipe, read_recipe, render_recipe, to_picture  # noqa: E402
from tests.conftest import tiny_image_bundle  # noqa: E402
from tests.test_pix2pix import _translator  # noqa: E402


@pytest.fixture
def site(tmp_path: Path):
    allowed = tmp_path / "allowed"
    p2p = str(_translator().save(allowed / "p2p").resolve())
    tiny = str(tiny_image_bundle().save(allowed / "tiny").resolve())
    app = create_app(Studio(Models([allowed]), tmp_path / "out"))
    page = TestClient(app, base_url="http://127.0.0.1", headers={TOKEN_HEADER: app.state.token})
    other = TestClient(app, base_url="http://127.0.0.1")
    return page, other, p2p, tiny


def drawing(line: bool = True) -> str:
    img = Image.new("RGB", (128, 128), "white")
    if line:
        img.paste((0, 0, 0), (20, 60, 110, 68))
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def one_line(response, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    message = response.json()["error"]
    assert "\n" not in message and all(w in message for w in words), message


def test_a_drawing_is_rendered_and_bends_change_it(site) -> None:
    page, _, p2p, tiny = site
    listing = {m["id"]: m for m in page.get("/api/models").json()["models"]}
    assert listing[p2p]["translation"] and not listing[tiny]["translation"]
    plain = page.post("/api/sketch", json={"model": p2p, "picture": drawing()})
    assert plain.status_code == 200 and plain.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(plain.content)).size == (16, 16)
    empty = page.post("/api/sketch", json={"model": p2p, "picture": drawing(line=False)})
    assert empty.content != plain.content  # the stroke shows
    bend = {"layer": "down1", "transform": "multiply", "params": {"factor": 3.0}}
    bent = page.post("/api/sketch", json={"model": p2p, "picture": drawing(), "bends": [bend]})
    assert bent.status_code == 200 and bent.content != plain.content
    again = page.post("/api/sketch", json={"model": p2p, "picture": drawing()})
    assert again.content == plain.content  # the bend did not stay on the model


def test_bad_sketches_are_one_line_4xx(site) -> None:
    page, other, p2p, tiny = site
    one_line(other.post("/api/sketch", json={"model": p2p, "picture": drawing()}), 403, TOKEN_HEADER)
    one_line(
        page.post("/api/sketch", json={"model": tiny, "picture": drawing()}), 400, "not a translation model"
    )
    one_line(
        page.post("/api/sketch", json={"model": p2p, "picture": "data:text/plain,hi"}), 400, "PNG data URL"
    )
    junk = "data:image/png;base64," + base64.b64encode(b"not a png").decode()
    one_line(page.post("/api/sketch", json={"model": p2p, "picture": junk}), 400, "not a picture")
    bad_bend = {"layer": "nowhere", "transform": "multiply", "params": {"factor": 2.0}}
    one_line(page.post("/api/sketch", json={"model": p2p, "picture": drawing(), "bends": [bad_bend]}), 400)
    one_line(page.post("/api/sketch", json={"model": p2p, "picture": "x" * 210_000}), 422)
    huge = io.BytesIO()
    Image.new("1", (9000, 9000), 1).save(huge, format="PNG")  # 10 KB of PNG, 81 million pixels
    huge_url = "data:image/png;base64," + base64.b64encode(huge.getvalue()).decode()
    for route in ("/api/sketch", "/api/sketch/keep"):
        one_line(page.post(route, json={"model": p2p, "picture": huge_url}), 400, "too large")
    one_line(page.post("/api/sketch/project", json={"model": tiny, "picture": huge_url}), 400, "too large")


def test_a_kept_sketch_carries_its_drawing_and_remakes_bit_for_bit(site, tmp_path) -> None:
    page, _, p2p, _ = site
    bend = {"layer": "down1", "transform": "multiply", "params": {"factor": 3.0}}
    body = {"model": p2p, "picture": drawing(), "bends": [bend]}
    shown = page.post("/api/sketch", json=body)
    kept = page.post("/api/sketch/keep", json=body)
    assert kept.status_code == 200, kept.text
    answer = kept.json()
    assert answer["recipe"]["sketch"]["sha256"] and answer["recipe"]["z"] == []
    recipe = read_recipe(tmp_path / "out" / answer["png"])  # the recipe inside the kept PNG
    remade = to_picture(render_recipe(recipe), load(p2p))
    assert remade.tobytes() == Image.open(io.BytesIO(shown.content)).tobytes()  # bit for bit
    picture_file = page.get(f"/api/files/{answer['png']}")
    assert picture_file.status_code == 200
    png = {"Content-Type": "image/png"}
    loaded = page.post("/api/load", content=picture_file.content, headers=png)  # not for the explorer
    one_line(loaded, 422, "kept sketch")
    changed = json.loads((tmp_path / "out" / answer["json"]).read_text())
    changed["sketch"]["png"] = drawing(line=False).split(",", 1)[1]  # another drawing, the old hash
    with pytest.raises(ConfigError, match="sha256"):
        render_recipe(Recipe.from_dict(changed))
    one_line(page.post("/api/sketch/keep", json={**body, "model": site[3]}), 400, "not a translation model")
    assert len(list((tmp_path / "out").glob("keep-*.png"))) == 1  # the refused keep wrote nothing


def test_the_drawing_is_projected_into_a_generator_in_the_background(site, tmp_path) -> None:
    page, _, p2p, tiny = site
    started = page.post("/api/sketch/project", json={"model": tiny, "picture": drawing(), "steps": 20})
    assert started.status_code == 200, started.text
    job = started.json()
    for _ in range(600):
        job = page.get(f"/api/jobs/{job['id']}").json()
        if job["state"] != "running":
            break
        time.sleep(0.05)
    assert job["state"] == "done", job
    result = job["result"]
    assert (tmp_path / "out" / result["file"]).is_file() and result["steps"] == 20
    state = result["state"]
    assert state["model"] == tiny and len(state["latent"]["z"]) == load(tiny).latent.dim
    opened = page.post("/api/render", json=state)  # the explorer opens the projected latent
    assert opened.status_code == 200, opened.text
    one_line(page.post("/api/sketch/project", json={"model": p2p, "picture": drawing()}), 400, "no latent")
    junk = "data:image/png;base64," + base64.b64encode(b"not a png").decode()
    one_line(page.post("/api/sketch/project", json={"model": tiny, "picture": junk}), 400, "not a picture")
    assert (
        page.post("/api/sketch/project", json={"model": tiny, "picture": drawing(), "steps": 0}).status_code
        == 422
    )

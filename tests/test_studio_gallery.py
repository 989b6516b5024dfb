"""The studio's gallery and rating routes: everything kept is listed across restarts, compared, re-opened,
deleted with undo; a blind rating session resumes where it stopped; every route wants the page's token."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the studio extra is not installed: pip install 'swerve[studio]'")
pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx")

from fastapi.testclient import TestClient  # noqa: E402

from swerve.studio.app import TOKEN_HEADER, create_app  # noqa: E402
from swerve.studio.engine import Studio  # noqa: E402
from swerve.studio.models import Models  # noqa: E402
from tests.conftest import tiny_image_bundle  # noqa: E402


def open_studio(allowed: Path, out: Path) -> tuple[TestClient, TestClient]:
    app = create_app(Studio(Models([allowed]), out))
    page = TestClient(app, base_url="http://127.0.0.1", headers={TOKEN_HEADER: app.state.token})
    return page, TestClient(app, base_url="http://127.0.0.1")


@pytest.fixture
def site(tmp_path: Path):
    allowed = tmp_path / "allowed"
    tiny = str(tiny_image_bundle().save(allowed / "tiny").resolve())
    page, other = open_studio(allowed, tmp_path / "out")
    return page, other, tiny, allowed, tmp_path / "out"


def state(model: str, seed: int = 3, **changes) -> dict:
    return {"model": model, "latent": {"seed": seed}, "label": 1, **changes}


def one_line_error(response, status: int) -> str:
    assert response.status_code == status, (response.status_code, response.text)
    message = response.json()["error"]
    assert message and "\n" not in message
    return message


def test_the_gallery_lists_compares_reopens_and_deletes_with_undo_across_a_restart(site):
    page, _, tiny, allowed, out = site
    assert page.get("/api/gallery").json()["pictures"] == []
    assert not (out / "swerve.db").exists()  # looking writes nothing
    first = page.post("/api/keep", json=state(tiny, 3)).json()
    bend = {"layer": "conv:0", "transform": "multiply", "params": {"factor": 2.0}}
    second = page.post("/api/keep", json=state(tiny, 5, bends=[bend])).json()
    assert (out / first["png"]).is_file() and (out / first["json"]).is_file()  # the recipe files stay

    listing = page.get("/api/gallery").json()
    assert [p["id"] for p in listing["pictures"]] == [second["gallery_id"], first["gallery_id"]]
    assert listing["facets"]["method"] == ["bend", "sample"]
    assert [p["id"] for p in page.get("/api/gallery", params={"method": "bend"}).json()["pictures"]] == [
        second["gallery_id"]
    ]
    thumb = page.get(listing["pictures"][0]["thumb"].replace(f"token={page.headers[TOKEN_HEADER]}", ""))
    assert thumb.status_code == 200 and thumb.content[:4] == b"\x89PNG"

    compared = page.get("/api/gallery/compare", params={"a": first["gallery_id"], "b": second["gallery_id"]})
    paths = {d["path"] for d in compared.json()["differences"]}
    assert {"bends", "seed", "z"} <= paths

    opened = page.get(f"/api/gallery/{second['gallery_id']}/open").json()
    assert opened["state"]["latent"]["seed"] == 5 and opened["state"]["bends"][0]["params"]["factor"] == 2.0

    assert page.post(f"/api/gallery/{first['gallery_id']}/delete", json={}).json()["deleted"] is True
    assert [p["id"] for p in page.get("/api/gallery").json()["pictures"]] == [second["gallery_id"]]
    page.post(f"/api/gallery/{first['gallery_id']}/undo", json={})

    restarted, _ = open_studio(allowed, out)  # a new server over the same folder
    assert [p["name"] for p in restarted.get("/api/gallery").json()["pictures"]] == [
        second["png"],
        first["png"],
    ]
    one_line_error(restarted.get("/api/gallery/999/open"), 404)


def test_a_picture_measured_before_keeping_keeps_its_measures(site):
    page, _, tiny, _, _ = site
    measured = page.post("/api/measure", json=state(tiny, 7))
    assert measured.status_code == 200, measured.text
    page.post("/api/keep", json=state(tiny, 7))
    page.post("/api/keep", json=state(tiny, 8))
    unmeasured, kept = page.get("/api/gallery").json()["pictures"]
    expected = {k for k, v in measured.json()["values"].items() if isinstance(v, (int, float))}
    assert expected and set(kept["measures"]) == expected
    assert unmeasured["measures"] == {} and "not measured" in unmeasured["missing"]["*"]


def test_a_rating_session_is_blind_and_resumes_where_the_rater_stopped(site):
    page, _, tiny, allowed, out = site
    one_line_error(page.post("/api/rate/sessions", json={"kind": "scores"}), 404)  # nothing kept yet
    assert not (out / "swerve.db").exists()
    for seed in range(4):
        page.post("/api/keep", json=state(tiny, seed))
    session = page.post("/api/rate/sessions", json={"kind": "scores", "name": "pilot", "seed": 1}).json()
    assert session["items"] == 4
    first = page.get(f"/api/rate/{session['id']}/next", params={"rater": "ana"}).json()
    assert first["progress"] == {"total": 4, "rated": 0, "skipped": 0, "next": 0}
    assert "model" not in str(first["item"]) and "keep-" not in str(first["item"])  # blind
    image = page.get(first["item"]["images"][0].split("?")[0])
    assert image.status_code == 200 and image.content[:4] == b"\x89PNG"
    after = page.post(
        f"/api/rate/{session['id']}/rate", json={"rater": "ana", "position": 0, "novelty": 4, "value": 2}
    )
    assert after.json()["item"]["position"] == 1
    page.post(f"/api/rate/{session['id']}/rate", json={"rater": "ana", "position": 1, "skip": True})
    one_line_error(
        page.post(f"/api/rate/{session['id']}/rate", json={"rater": "ana", "position": 2, "novelty": 7}), 422
    )
    one_line_error(
        page.post(f"/api/rate/{session['id']}/rate", json={"rater": "ana", "position": 2, "novelty": 3}), 400
    )
    one_line_error(page.post("/api/rate/999/rate", json={"rater": "ana", "position": 0, "skip": True}), 404)

    restarted, _ = open_studio(allowed, out)
    resumed = restarted.get(f"/api/rate/{session['id']}/next", params={"rater": "ana"}).json()
    assert resumed["progress"] == {"total": 4, "rated": 1, "skipped": 1, "next": 2}
    fresh = restarted.get(f"/api/rate/{session['id']}/next", params={"rater": "ben"}).json()
    assert fresh["progress"]["next"] == 0
    assert [s["name"] for s in restarted.get("/api/rate/sessions").json()["sessions"]] == ["pilot"]


def test_the_gallery_and_rating_routes_want_the_pages_token(site):
    page, other, tiny, _, _ = site
    page.post("/api/keep", json=state(tiny))
    for response in (
        other.get("/api/gallery"),
        other.get("/api/gallery/1/thumb"),
        other.get("/api/gallery/1/open"),
        other.get("/api/gallery/compare", params={"a": 1, "b": 1}),
        other.post("/api/gallery/1/delete", json={}),
        other.post("/api/gallery/1/undo", json={}),
        other.get("/api/rate/sessions"),
        other.post("/api/rate/sessions", json={}),
        other.get("/api/rate/1/next", params={"rater": "x"}),
        other.get("/api/rate/1/image/0/left"),
        other.post("/api/rate/1/rate", json={"rater": "x", "position": 0, "skip": True}),
    ):
        assert TOKEN_HEADER in one_line_error(response, 403)
    form = page.post("/api/gallery/1/delete", content="x", headers={"content-type": "text/plain"})
    one_line_error(form, 415)
    stranger = page.post("/api/gallery/1/delete", json={}, headers={"origin": "http://evil.example"})
    one_line_error(stranger, 403)
    assert page.get("/api/gallery").json()["total"] == 1  # nothing was deleted


@pytest.mark.parametrize(
    "path, status",
    [
        ("/api/gallery?page=-1", 422),
        ("/api/gallery?per_page=100000", 422),
        ("/api/gallery/compare?a=1", 422),
        ("/api/gallery/abc/open", 422),
        ("/api/gallery/77/thumb", 404),
        ("/api/rate/1/image/0/middle", 422),
        ("/api/rate/1/next", 422),
    ],
)
def test_bad_gallery_requests_are_one_line_4xx(site, path, status):
    page, _, tiny, _, _ = site
    page.post("/api/keep", json=state(tiny))
    one_line_error(page.get(path), status)


def test_a_pairwise_session_shows_two_pictures_and_takes_a_choice(site):
    page, _, tiny, _, _ = site
    for seed in range(3):
        page.post("/api/keep", json=state(tiny, seed))
    session = page.post("/api/rate/sessions", json={"kind": "pairwise", "pairs": 3}).json()
    assert session["kind"] == "pairwise" and session["items"] == 3
    shown = page.get(f"/api/rate/{session['id']}/next", params={"rater": "ana"}).json()
    assert len(shown["item"]["images"]) == 2
    assert page.get(shown["item"]["images"][1].split("?")[0]).content[:4] == b"\x89PNG"
    scored = page.post(f"/api/rate/{session['id']}/rate", json={"rater": "ana", "position": 0, "novelty": 3})
    one_line_error(scored, 400)  # a pair takes a choice
    chosen = page.post(f"/api/rate/{session['id']}/rate", json={"rater": "ana", "position": 0, "choice": 1})
    assert chosen.json()["progress"]["rated"] == 1

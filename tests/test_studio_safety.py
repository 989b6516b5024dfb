"""The studio as a web page on another site and as a hostile user would use it: nothing loads or acts without
the page's token, every number is finite and bounded, and every bad request is a one-line 4xx."""

from __future__ import annotations

import inspect
import json
import os
import re
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

pytest.importorskip("fastapi", reason="the studio extra is not installed: pip install 'swerve[studio]'")
pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx")

from fastapi.testclient import TestClient  # noqa: E402

import swerve.bundle  # noqa: E402
from swerve.errors import BundleError  # noqa: E402
from swerve.studio import models as studio_models  # noqa: E402
from swerve.studio import schema  # noqa: E402
from swerve.studio.app import TOKEN_HEADER, create_app  # noqa: E402
from swerve.studio.engine import Studio  # noqa: E402
from swerve.studio.models import Models  # noqa: E402
from tests.conftest import tiny_image_bundle  # noqa: E402


@pytest.fixture
def site(tmp_path: Path, monkeypatch):
    """A studio over tmp/allowed (one tiny bundle), a client with its page's token, one without any, and the
    list of model ids the studio has loaded (so a test can say nothing was loaded)."""
    allowed = tmp_path / "allowed"
    tiny = str(tiny_image_bundle().save(allowed / "tiny").resolve())
    loaded: list[str] = []
    real_load = studio_models.load

    def spy(path, *args, **kwargs):  # noqa: ANN001, ANN202
        loaded.append(str(path))
        return real_load(path, *args, **kwargs)

    monkeypatch.setattr(studio_models, "load", spy)
    studio = Studio(Models([allowed]), tmp_path / "out")
    app = create_app(studio)
    page = TestClient(app, base_url="http://127.0.0.1", headers={TOKEN_HEADER: app.state.token})
    other = TestClient(app, base_url="http://127.0.0.1")
    return page, other, studio, tiny, loaded, app.state.token


AS_JSON = {"content-type": "application/json"}


def refused(response, status: int | None = None, *words: str) -> str:
    if status is None:
        assert 400 <= response.status_code < 500, (response.status_code, response.text)
    else:
        assert response.status_code == status, (response.status_code, response.text)
    message = response.json()["error"]
    assert message and "\n" not in message and "Traceback" not in message
    for word in words:
        assert word in message, message
    return message


def state(model: str, **changes) -> dict:
    return {"model": model, "latent": {"seed": 3}, "label": 1, **changes}


# --- another site -------------------------------------------------------------------------------------------
def test_the_page_carries_its_servers_token_and_no_other_site_may_frame_it(site):
    page, other, studio, _, _, token = site
    served = other.get("/")  # the page itself needs no token: it is where the token comes from
    assert served.status_code == 200
    assert re.search(r'<meta name="swerve-token" content="([^"]+)">', served.text).group(1) == token
    assert len(token) >= 40 and create_app(studio).state.token != token  # random per server
    assert served.headers["x-frame-options"] == "DENY" and served.headers["referrer-policy"] == "no-referrer"


def test_a_page_reached_under_another_host_name_gets_no_token(site):
    """DNS rebinding: a site whose name now points at this machine may not read the page (and its token)."""
    page, other, _, tiny, loaded, token = site
    rebound = other.get("/", headers={"host": "attacker.example:8765"})
    assert rebound.status_code == 400 and token not in rebound.text
    rebound = page.get("/api/model", params={"id": tiny}, headers={"host": "attacker.example"})
    assert rebound.status_code == 400
    assert loaded == []


@pytest.mark.parametrize("token", [None, "", "wrong", "x" * 43])
def test_nothing_loads_without_the_pages_token(site, token):
    _, other, _, tiny, loaded, _ = site
    headers = {} if token is None else {TOKEN_HEADER: token}
    for response in (
        other.get("/api/models", headers=headers),
        other.get("/api/model", params={"id": tiny}, headers=headers),
        other.get("/api/model", params={"id": tiny, "token": token or ""}),
        other.post("/api/render", json=state(tiny), headers=headers),
        other.post("/api/keep", json=state(tiny), headers=headers),
        other.get("/api/jobs", headers=headers),
        other.get("/api/files/keep-0001.png", headers=headers),
        other.get("/api/nothing-here", headers=headers),
    ):
        refused(response, 403, TOKEN_HEADER)
    assert loaded == []


@pytest.mark.parametrize(
    "kind, body",
    [
        ("text/plain", json.dumps(state("fashion-gan"))),
        ("application/x-www-form-urlencoded", "model=fashion-gan"),
        (
            "multipart/form-data; boundary=x",
            '--x\r\nContent-Disposition: form-data; name="model"\r\n\r\na\r\n--x--',
        ),
        (None, json.dumps(state("fashion-gan"))),
    ],
)
def test_the_forms_another_site_can_send_are_refused(site, kind, body):
    """A page on another site can POST these content types without asking first; with or without the token,
    they are refused before anything is parsed or loaded."""
    page, other, _, _, loaded, token = site
    headers = {} if kind is None else {"content-type": kind}
    refused(other.post("/api/render", content=body, headers=headers), 403)
    if kind is not None:
        refused(page.post("/api/render", content=body, headers=headers), 415)
    refused(page.post("/api/load", content=body, headers=headers), 415)
    assert loaded == []


def test_an_origin_of_another_site_is_refused_even_with_the_token(site):
    page, _, _, tiny, loaded, _ = site
    evil = {"origin": "http://attacker.example"}
    refused(page.post("/api/render", json=state(tiny), headers=evil), 403, "attacker.example")
    refused(page.get("/api/model", params={"id": tiny}, headers={"origin": "null"}), 403)
    assert (
        page.post("/api/render", json=state(tiny), headers={"origin": "http://127.0.0.1"}).status_code == 200
    )
    assert loaded == [tiny]


def test_the_token_may_ride_in_the_url_of_a_get_only(site):
    """Links, pictures and event streams cannot set headers: a GET may carry ``?token=``, a POST may not."""
    page, other, _, tiny, _, token = site
    assert other.get("/api/model", params={"id": tiny, "token": token}).status_code == 200
    refused(other.post(f"/api/render?token={token}", json=state(tiny)), 403)
    kept = page.post("/api/keep", json=state(tiny)).json()
    assert other.get(f"/api/files/{kept['png']}", params={"token": token}).status_code == 200


def test_a_job_cannot_be_cancelled_from_another_site_or_by_guessing(site):
    page, other, studio, tiny, _, token = site
    body = {"state": state(tiny), "kind": "walk", "frames": 20}
    with studio.lock(tiny):  # the job waits for the model, so it is still running while we try
        job = page.post("/api/jobs", json=body).json()
        cancel = f"/api/jobs/{job['id']}/cancel"
        refused(other.post(cancel, json={}), 403)  # the id alone is not enough
        refused(other.post(cancel, content="{}", headers={"content-type": "text/plain"}), 403)
        refused(page.post(cancel, content="{}", headers={"content-type": "text/plain"}), 415)
        refused(page.post(cancel), 415)
        refused(other.get(f"/api/jobs/{job['id']}/events"), 403)
        guess = "0" * 32
        refused(page.post(f"/api/jobs/{guess}/cancel", json={}), 404)
        assert (
            studio.jobs.get(job["id"]).state == "running" and not studio.jobs.get(job["id"])._cancel.is_set()
        )
    studio.jobs.get(job["id"]).join(30)
    assert studio.jobs.get(job["id"]).state == "done"


def test_job_ids_are_long_random_hex(site):
    page, _, studio, tiny, _, _ = site
    first = page.post("/api/jobs", json={"state": state(tiny), "kind": "walk", "frames": 2}).json()["id"]
    studio.jobs.get(first).join(30)
    second = page.post("/api/jobs", json={"state": state(tiny), "kind": "walk", "frames": 2}).json()["id"]
    studio.jobs.get(second).join(30)
    assert first != second
    assert re.fullmatch(r"[0-9a-f]{32}", first) and re.fullmatch(r"[0-9a-f]{32}", second)


def test_the_event_stream_takes_the_token_in_its_url(site):
    page, other, studio, tiny, _, token = site
    job = page.post("/api/jobs", json={"state": state(tiny), "kind": "walk", "frames": 2}).json()
    with other.stream("GET", f"/api/jobs/{job['id']}/events", params={"token": token}) as stream:
        assert stream.status_code == 200
        data = [json.loads(line[6:]) for line in stream.iter_lines() if line.startswith("data: ")]
    assert data[-1]["state"] == "done"


# --- models the studio may not open ------------------------------------------------------------------------
def test_a_model_whose_class_is_not_trusted_is_a_one_line_4xx(site, monkeypatch):
    page, _, _, tiny, _, _ = site
    why = "network class 'payload:Gen' is not trusted; trust its module with --trust payload"

    def untrusted(path, *args, **kwargs):  # noqa: ANN001, ANN202
        raise BundleError(why)

    monkeypatch.setattr(studio_models, "load", untrusted)
    assert refused(page.get("/api/model", params={"id": tiny}), 400) == why
    assert refused(page.post("/api/render", json=state(tiny)), 400) == why


def test_a_bundle_naming_code_in_its_own_folder_runs_nothing(site, tmp_path):
    """A bundle that ships ``payload.py`` and names ``payload:Gen``: the studio refuses it in one line and
    the payload never runs (it would write a file)."""
    page, _, _, _, _, _ = site
    evil = tmp_path / "allowed" / "evil"
    tiny_image_bundle().save(evil)
    marker = tmp_path / "ran"
    (evil / "payload.py").write_text(
        f"open({str(marker)!r}, 'w').write('x')\nimport torch\nGen = torch.nn.Linear\n"
    )
    config = json.loads((evil / "config.json").read_text())
    config["networks"]["generator"]["class"] = "payload:Gen"
    (evil / "config.json").write_text(json.dumps(config))
    refused(page.get("/api/model", params={"id": str(evil.resolve())}))
    assert not marker.exists()


@pytest.mark.skipif(
    "trust" not in inspect.signature(swerve.bundle.load).parameters,
    reason="this build's bundle loading has no allow-list of network classes yet",
)
def test_a_bundle_of_an_untrusted_class_is_refused_by_the_studio(site, tmp_path):
    """A real bundle whose generator class lives outside swerve (a module nobody trusted): one line, 4xx."""
    from tests.odd_generator import odd_bundle

    page, _, _, _, _, _ = site
    odd = odd_bundle().save(tmp_path / "allowed" / "odd").resolve()
    message = refused(page.get("/api/model", params={"id": str(odd)}))
    assert "tests.odd_generator" in message and "trust" in message
    refused(page.post("/api/render", json=state(str(odd), label=None)))


def test_studio_trust_option_trusts_each_module(cli, monkeypatch, tmp_path):
    import uvicorn

    import swerve.bundle

    trusted: list[tuple[str, ...]] = []
    monkeypatch.setattr(swerve.bundle, "trust", lambda *modules: trusted.append(modules))
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: None)  # start, do not serve
    code, _, err = cli(
        "studio", "--port", "0", "--trust", "mypkg.models", "--trust", "other", "--out", tmp_path
    )
    assert code == 0, err
    assert trusted == [("mypkg.models", "other")]


# --- finite, bounded numbers --------------------------------------------------------------------------------
ROUTES = {
    "/api/render": schema.StateIn,
    "/api/grid": schema.GridIn,
    "/api/directions": schema.DirectionsIn,
    "/api/refine": schema.RefineIn,
    "/api/jobs": schema.ExportIn,
    "/api/novelty": schema.NoveltyIn,
    "/api/train": schema.TrainIn,
    "/api/rewrite": schema.RewriteIn,
    "/api/finetune": schema.FinetuneIn,
}
# what a nested object needs before one of its numbers can be tried
REQUIRED = {
    "pca": {"layer": "stem"},
    "blend": {"with": "fashion-gan"},
    "glitch": {"kind": "zero"},
    "sweep": {"target": "pca"},
}
BASES = {
    "/api/render": lambda m: state(m),
    "/api/grid": lambda m: {"state": state(m)},
    "/api/directions": lambda m: {"model": m, "layer": "stem"},
    "/api/refine": lambda m: {"state": state(m)},
    "/api/jobs": lambda m: {"state": state(m)},
    "/api/novelty": lambda m: {"state": state(m)},
    "/api/train": lambda m: {"recipe": "digits-gan", "steps": 1},
    "/api/rewrite": lambda m: {"state": state(m), "layer": "blocks.0", "source": 1},
    "/api/finetune": lambda m: {"state": state(m)},
}


def numeric_paths(model: type[BaseModel], prefix: tuple = ()) -> list[tuple[tuple, type]]:
    """Every int or float field of ``model`` and the models inside it (a list's first item for a list),
    as (path, int or float); a route's ``state`` is left to /api/render."""
    found = []
    for name, field in model.model_fields.items():
        key = field.alias or name
        if prefix == () and key == "state" and model is not schema.StateIn:
            continue
        stack = [field.annotation]
        while stack:
            kind = stack.pop()
            if kind in (int, float):
                found.append(((*prefix, key), kind))
            elif isinstance(kind, type) and issubclass(kind, BaseModel):
                found.extend(numeric_paths(kind, (*prefix, key)))
            elif typing.get_origin(kind) is list:
                (item,) = typing.get_args(kind)
                item = typing.get_args(item)[0] if typing.get_origin(item) is typing.Annotated else item
                if item in (int, float):
                    found.append(((*prefix, key, 0), item))
            else:
                stack.extend(a for a in typing.get_args(kind) if a is not type(None))
    return found


CASES = [(route, path, kind) for route, model in ROUTES.items() for path, kind in numeric_paths(model)]
BAD_NUMBERS = ["NaN", "Infinity", "-Infinity", "1e999", "1e300", "-1e300", "123456789012345678901234567890"]


def test_every_numeric_field_is_found():
    paths = {(route, path) for route, path, _ in CASES}
    assert ("/api/render", ("latent", "z", 0)) in paths and (
        "/api/render",
        ("blend", "schedule", "pivot"),
    ) in paths
    assert ("/api/jobs", ("sweep", "low")) in paths and ("/api/finetune", ("classes", 0)) in paths
    assert ("/api/rewrite", ("region", "top")) in paths and len(CASES) > 45


def with_value(body: dict, path: tuple, marker: str) -> dict:
    here = body
    for step, following in zip(path[:-1], path[1:], strict=True):
        if here.get(step) is None:
            here[step] = [] if isinstance(following, int) else dict(REQUIRED.get(step, {}))
        here = here[step]
    if isinstance(path[-1], int):
        here.append(marker)
    else:
        here[path[-1]] = marker
    return body


@pytest.mark.parametrize(
    "route, path, kind", CASES, ids=[f"{r}:{'.'.join(map(str, p))}" for r, p, _ in CASES]
)
def test_no_numeric_field_takes_a_non_finite_or_huge_number(site, route, path, kind):
    page, _, _, tiny, loaded, _ = site
    for bad in BAD_NUMBERS:
        body = json.dumps(with_value(BASES[route](tiny), path, "@@")).replace('"@@"', bad)
        response = page.post(route, content=body, headers=AS_JSON)
        refused(response, 422, ".".join(map(str, path)))
    for wrong in ('"5"', "true", "[]", "{}"):  # numbers sent as text, a boolean, a list or an object
        body = json.dumps(with_value(BASES[route](tiny), path, "@@")).replace('"@@"', wrong)
        refused(page.post(route, content=body, headers=AS_JSON), 422)
    assert loaded == []  # refused before any model was opened


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "1e999", "1e300", "12345678901234567890123"])
def test_bends_take_only_finite_bounded_numbers(site, bad):
    page, _, _, tiny, loaded, _ = site
    bends = [
        {"layer": "conv:0", "transform": "multiply", "params": {"factor": "@@"}},
        {"layer": "conv:0", "transform": "multiply", "channels": {"fraction": 0.5, "seed": "@@"}},
    ]
    for bend in bends:
        body = json.dumps(state(tiny, bends=[bend])).replace('"@@"', bad)
        refused(page.post("/api/render", content=body, headers=AS_JSON), 422, "bends")
    assert loaded == []


def test_answers_never_hold_nan(site, monkeypatch):
    """A measurement or a job result that is not finite is sent as null with a word why (strict JSON, which
    a browser can parse), never as NaN, and never as a 500."""
    page, _, studio, tiny, _, _ = site
    monkeypatch.setattr(
        studio.gauge,
        "scan",
        lambda acts, background: {"scan": float("nan"), "scan_share": 0.5, "scan_alpha": float("inf")},
    )
    studio.gauge.scan_n = 16
    answer = page.post("/api/measure", json=state(tiny))
    assert answer.status_code == 200, answer.text
    measured = json.loads(answer.text, parse_constant=pytest.fail)
    assert measured["values"]["scan"] is None and measured["values"]["scan_alpha"] is None
    assert any("scan could not be measured" in note for note in measured["notes"])
    job = studio.jobs.start(
        "m", "test", lambda progress: {"residual": float("nan"), "scores": [1.0, float("-inf")]}
    )
    job.join(10)
    status = page.get(f"/api/jobs/{job.id}")
    assert status.status_code == 200, status.text
    result = json.loads(status.text, parse_constant=pytest.fail)
    assert result["result"] == {"residual": None, "scores": [1.0, None]}
    assert result["not_finite"]["fields"] == ["result/residual", "result/scores/1"]
    with page.stream("GET", f"/api/jobs/{job.id}/events") as stream:
        events = [line[6:] for line in stream.iter_lines() if line.startswith("data: ")]
    assert json.loads(events[-1], parse_constant=pytest.fail)["result"]["residual"] is None


def test_principal_directions_that_are_not_finite_are_named_and_never_drawn(site, monkeypatch):
    """A layer whose activations never vary has no principal directions: 0/0 explained variance and latent
    directions. /api/directions says so with nulls, and a slider along them is refused, not drawn."""
    import torch

    from swerve.studio import explore

    page, _, studio, tiny, _, _ = site
    nan = float("nan")
    flat = explore.Directions(
        layer="stem",
        shape=(4,),
        components=torch.zeros(2, 4),
        sigma=torch.zeros(2),
        latent=torch.full((2, 8), nan),
        explained=torch.tensor([nan, nan]),
    )
    monkeypatch.setattr(studio, "directions", lambda *args, **kwargs: flat)
    found = page.post("/api/directions", json={"model": tiny, "layer": "stem", "k": 2})
    assert found.status_code == 200, found.text
    answer = json.loads(found.text, parse_constant=pytest.fail)
    assert answer["explained"] == [None, None] and answer["not_finite"]["count"] == 2
    pushed = state(tiny, pca={"layer": "stem", "amounts": [1.0]})
    refused(page.post("/api/render", json=pushed), 400, "not finite")
    refused(page.post("/api/keep", json=pushed), 400, "not finite")
    assert not (studio.out_dir).exists() or list(studio.out_dir.iterdir()) == []


@pytest.mark.parametrize("bad", ["NaN", "-Infinity", "1e999"])
def test_a_recipe_with_a_non_finite_number_is_refused(site, bad):
    page, _, _, tiny, _, _ = site
    recipe = {
        "format": "swerve-recipe",
        "bundle": tiny,
        "z": [0.0] * 8,
        "studio": state(tiny),
        "glitch": {"kind": "zero", "amount": "@@"},
    }
    raw = json.dumps(recipe).replace('"@@"', bad).encode()
    refused(
        page.post("/api/load", content=raw, headers={"content-type": "application/octet-stream"}),
        400,
        "finite",
    )


@pytest.mark.parametrize("side", [5000, 20000])
def test_a_huge_png_is_refused_before_it_is_decoded(site, side):
    """A PNG that declares a huge picture (a few kilobytes of zeros) would be decoded to reach the recipe
    after it: 400 at once, never a 500 from the decoder's bomb check."""
    import io

    from PIL import Image, PngImagePlugin

    page, _, _, _, _, _ = site
    info = PngImagePlugin.PngInfo()
    info.add_itxt("swerve-recipe", "{}", zip=True)
    buffer = io.BytesIO()
    Image.new("1", (side, side)).save(buffer, format="PNG", pnginfo=info)
    raw = buffer.getvalue()
    assert len(raw) < 100_000
    response = page.post("/api/load", content=raw, headers={"content-type": "image/png"})
    refused(response, 400, "PNG")


# --- a hostile user ----------------------------------------------------------------------------------------
def hostile_requests(tiny: str, root: Path) -> list[tuple[str, str, object, int]]:
    """(method, path, JSON body or raw text, expected status)."""
    bend = {"layer": "conv:0", "transform": "multiply"}
    octet = "/api/load"
    recipe = {"format": "swerve-recipe", "bundle": tiny, "z": [0.0] * 8}
    return [
        ("GET", "/api/model?id=../../etc", None, 400),
        ("GET", "/api/model?id=/etc/../etc", None, 403),
        ("GET", "/api/model?id=" + "a" * 5000, None, 400),
        ("GET", "/api/model?id=/" + "a" * 300, None, 403),
        ("GET", "/api/model?id=%00", None, 400),
        ("GET", "/api/model?id=%ff%fe", None, 400),
        ("GET", f"/api/model?id={root}/loop", None, 400),
        ("GET", "/api/model", None, 422),
        ("GET", "/api/files/..%2F..%2Fetc%2Fpasswd", None, 404),
        ("GET", "/api/files/keep-0001.png%00", None, 400),
        ("GET", "/api/jobs/..%2F..%2Fetc", None, 404),
        ("GET", "/api/jobs/nope/events", None, 404),
        ("PUT", "/api/render", state(tiny), 405),
        ("DELETE", "/api/jobs", None, 405),
        ("POST", "/api/render", "null", 422),
        ("POST", "/api/render", "[]", 422),
        ("POST", "/api/render", "", 422),
        ("POST", "/api/render", "[" * 100_000, 422),
        ("POST", "/api/render", {"model": 5}, 422),
        ("POST", "/api/render", {"latent": {"seed": 1}}, 422),
        ("POST", "/api/render", state(tiny, latent="x"), 422),
        ("POST", "/api/render", state(tiny, label=True), 422),
        ("POST", "/api/render", state("../../etc"), 400),
        ("POST", "/api/render", state(tiny, blend={"with": "../../etc"}), 400),
        ("POST", "/api/render", state(tiny, bends=[{**bend, "layer": "../../etc"}]), 400),
        ("POST", "/api/render", state(tiny, bends=[{**bend, "channels": [10**12]}]), 422),
        ("POST", "/api/render", state(tiny, bends=[{**bend, "channels": [-1]}]), 400),
        ("POST", "/api/render", state(tiny, bends=[{**bend, "params": [1]}]), 400),
        ("POST", "/api/render", state(tiny, bends=[{"x": [[[[[[1]]]]]]}]), 422),
        ("POST", "/api/render", state(tiny, bends=[bend] * 33), 422),
        ("POST", "/api/render", state(tiny, glitch={"kind": "zero", "layers": ["../../etc"]}), 400),
        ("POST", "/api/render", state(tiny, creative={"layer": "../../etc"}), 400),
        ("POST", "/api/render", state(tiny, pca={"layer": "../../etc", "amounts": [1]}), 400),
        ("POST", "/api/render", state(tiny, latent={"z": [0.0] * 5000}), 422),
        ("POST", "/api/grid", {"state": state(tiny), "n": 10**9}, 422),
        ("POST", "/api/directions", {"model": tiny, "layer": "../../etc"}, 400),
        ("POST", "/api/measure?layer=../../etc", state(tiny), 400),
        ("POST", "/api/measure?layer=" + "a" * 300, state(tiny), 422),
        ("POST", "/api/keep", state("../../etc"), 400),
        ("POST", "/api/rewrite", {"state": state(tiny), "layer": "../../etc", "source": 1}, 400),
        ("POST", "/api/rewrite", {"state": state(tiny), "layer": "blocks.0", "source": 1, "n": 10**9}, 422),
        ("POST", "/api/train", {"recipe": "../../etc", "steps": 1}, 422),
        ("POST", "/api/train", {"recipe": "digits-gan", "steps": 10**9}, 422),
        ("POST", "/api/finetune", {"state": state(tiny), "dataset": "../../etc"}, 422),
        ("POST", "/api/finetune", {"state": state(tiny), "steps": 10**9}, 422),
        ("POST", "/api/novelty", {"state": state(tiny), "budget": 10**9}, 422),
        ("POST", "/api/jobs", {"state": state(tiny), "frames": 10**9}, 422),
        (
            "POST",
            "/api/jobs",
            {
                "state": state(tiny, bends=[bend]),
                "kind": "sweep",
                "sweep": {"target": "bend", "param": "../../etc"},
            },
            400,
        ),
        ("POST", octet, {**recipe, "bundle": "../../etc"}, 400),
        ("POST", octet, {**recipe, "z": [True] * 8}, 400),
        ("POST", octet, {**recipe, "label": True}, 400),
        ("POST", octet, {**recipe, "studio": "x"}, 422),
        ("POST", octet, "[" * 100_000, 400),
    ]


def test_a_hostile_pass_over_every_route_gets_one_line_4xx_and_writes_nothing(site, tmp_path):
    page, _, studio, tiny, _, _ = site
    root = tmp_path / "allowed"
    os.symlink(root / "loop", root / "loop")  # a symlink loop inside an allowed folder
    before = sorted(p for p in tmp_path.rglob("*"))
    for method, path, body, status in hostile_requests(tiny, root):
        kind = "application/octet-stream" if path == "/api/load" else "application/json"
        raw = None if body is None else body if isinstance(body, str) else json.dumps(body)
        response = page.request(
            method, path, content=raw, headers={"content-type": kind} if raw is not None else {}
        )
        assert response.status_code == status, (method, path[:80], response.status_code, response.text[:300])
        refused(response, status)
    after = sorted(p for p in tmp_path.rglob("*"))
    assert after == before  # nothing written anywhere, the output folder included
    assert studio.jobs.all() == []


# --- anything at all in a page state ------------------------------------------------------------------------
hypothesis = pytest.importorskip("hypothesis", reason="property tests need hypothesis (the dev extra)")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

ANYTHING = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(["", "../../etc", "conv:0", "stem", "blocks.9", "multiply", "zero", "/etc/passwd"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
PLACES = [
    ("model",), ("label",), ("latent",), ("latent", "seed"), ("latent", "z"), ("latent", "toward"),
    ("latent", "t"), ("pca",), ("pca", "amounts"), ("pca", "layer"), ("bends",), ("bends", 0),
    ("bends", 0, "params"), ("bends", 0, "channels"), ("bends", 0, "layer"), ("blend",), ("blend", "alpha"),
    ("blend", "schedule"), ("glitch",), ("glitch", "layers"), ("glitch", "amount"), ("creative",),
    ("creative", "layer"), ("creative", "fraction"),
]  # fmt: skip
START = {
    "pca": {"layer": "stem", "amounts": [1.0]},
    "bends": [{"layer": "conv:0", "transform": "multiply", "params": {"factor": 2.0}}],
    "blend": {"with": "fashion-gan", "alpha": 0.5},
    "glitch": {"kind": "zero", "amount": 0.1},
    "creative": {"layer": "conv:0"},
}


@settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(place=st.sampled_from(PLACES), value=ANYTHING)
def test_whatever_a_page_state_holds_the_answer_is_a_picture_or_one_line_4xx(site, place, value):
    page, _, studio, tiny, _, _ = site
    body = {**state(tiny), **json.loads(json.dumps({k: v for k, v in START.items() if k == place[0]}))}
    here = body
    for step in place[:-1]:
        here = here[step]
    here[place[-1]] = value
    response = page.post("/api/render", content=json.dumps(body), headers=AS_JSON)
    if response.status_code == 200:
        assert response.content.startswith(b"\x89PNG")
    else:
        refused(response)


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(key=st.sampled_from(["target", "index", "bend", "param", "low", "high"]), value=ANYTHING)
def test_whatever_a_sweep_holds_it_starts_or_is_one_line_4xx(site, key, value):
    """A sweep makes one page state per frame from what it was sent: each is checked before the job starts."""
    page, _, studio, tiny, _, _ = site
    sweep = {"target": "bend", "bend": 0, "param": "factor", "low": -1.0, "high": 1.0, key: value}
    body = {"state": {**state(tiny), "bends": START["bends"]}, "kind": "sweep", "frames": 2, "sweep": sweep}
    response = page.post("/api/jobs", content=json.dumps(body), headers=AS_JSON)
    if response.status_code == 200:
        studio.jobs.get(response.json()["id"]).join(30)
    else:
        refused(response)


# --- what the studio writes --------------------------------------------------------------------------------
def test_a_new_session_never_replaces_the_models_an_earlier_one_made(site, tmp_path):
    """Rewritten, fine-tuned and trained models go to out/bundles/<kind>-NNNN: a studio started again on the
    same output folder numbers on from what is there instead of saving over it."""
    page, _, studio, tiny, _, _ = site
    earlier = tiny_image_bundle().save(studio.bundles_dir / "rewrite-0001")
    (studio.out_dir / "runs" / "finetune-0001").mkdir(parents=True)
    (studio.out_dir / "runs" / "finetune-0001" / "notes.txt").write_text("mine")
    before = {p: p.read_bytes() for p in earlier.rglob("*") if p.is_file()}
    body = {"state": state(tiny), "layer": "blocks.0", "source": 9, "n": 16}
    job = page.post("/api/rewrite", json=body).json()
    studio.jobs.get(job["id"]).join(60)
    done = page.get(f"/api/jobs/{job['id']}").json()
    assert done["state"] == "done", done
    assert Path(done["result"]["bundle"]).name == "rewrite-0002"
    assert {p: p.read_bytes() for p in earlier.rglob("*") if p.is_file()} == before
    assert studio.stem("finetune") == "finetune-0002"
    assert (studio.out_dir / "runs" / "finetune-0001" / "notes.txt").read_text() == "mine"


def test_studio_refuses_an_output_folder_that_is_a_file(cli, tmp_path, monkeypatch):
    import uvicorn

    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: None)  # start, do not serve
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    code, _, err = cli("studio", "--port", "0", "--out", notes)
    assert code == 2 and "is a file" in err and "Traceback" not in err
    assert notes.read_text() == "mine"


@pytest.mark.parametrize(
    "change",
    [
        {"data": "x"},
        {"networks": "abc"},
        {"networks": {"generator": [1]}},
        {"data": {"shape": 5, "classes": "abc"}},
        {"name": 7},
        {"networks": {"generator": {"class": "x:Y", "kwargs": [1]}}},
    ],
)
def test_a_malformed_bundle_config_does_not_break_the_model_list(site, tmp_path, change):
    page, _, _, tiny, _, _ = site
    broken = tiny_image_bundle().save(tmp_path / "allowed" / "broken")
    config = json.loads((broken / "config.json").read_text())
    (broken / "config.json").write_text(json.dumps({**config, **change}))
    listing = page.get("/api/models")
    assert listing.status_code == 200, listing.text
    ids = {m["id"]: m for m in listing.json()["models"]}
    assert ids[tiny]["usable"] and str(broken.resolve()) in ids

"""The studio's HTTP API: every endpoint, and every refusal a page (or anything else) could provoke."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("fastapi", reason="the studio extra is not installed: pip install 'swerve[studio]'")
pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx")

from fastapi.testclient import TestClient  # noqa: E402

from swerve import taps  # noqa: E402
from swerve.bundle import DataSpec, LatentSpec  # noqa: E402
from swerve.bundle import load as swerve_load  # noqa: E402
from swerve.studio import explore  # noqa: E402
from swerve.studio.app import MAX_JSON, MAX_UPLOAD, TOKEN_HEADER, create_app  # noqa: E402
from swerve.studio.engine import Studio  # noqa: E402
from swerve.studio.gauge import Gauge  # noqa: E402
from swerve.studio.models import Models  # noqa: E402
from swerve.studio.recipe import read_recipe, render_recipe, to_picture  # noqa: E402
from tests.conftest import tiny_image_bundle  # noqa: E402
from tests.marks import needs_fashion  # noqa: E402


@pytest.fixture
def setup(tmp_path: Path):
    """A studio allowed to read tmp/allowed (which holds a tiny bundle); tmp/secret holds one it may not."""
    allowed, secret = tmp_path / "allowed", tmp_path / "secret"
    bundle_dir = tiny_image_bundle().save(allowed / "models" / "tiny")
    tiny_image_bundle().save(secret / "hidden")
    studio = Studio(Models([allowed]), tmp_path / "out")
    return page_client(studio), studio, str(bundle_dir.resolve()), tmp_path


def page_client(studio: Studio) -> TestClient:
    """A client that sends what the studio's own page sends: the server's token on every request."""
    app = create_app(studio)
    return TestClient(app, base_url="http://127.0.0.1", headers={TOKEN_HEADER: app.state.token})


def state(model: str, **changes) -> dict:
    return {"model": model, "latent": {"seed": 3}, "label": 1, **changes}


def pixels(content: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(content)))


def refused(response, status: int, *words: str) -> str:
    assert response.status_code == status, (response.status_code, response.text)
    message = response.json()["error"]
    assert "Traceback" not in message and "\n" not in message
    for word in words:
        assert word in message, message
    return message


# --- the page ----------------------------------------------------------------------------------------------
def test_the_page_and_its_assets_are_served(setup):
    client, _, _, _ = setup
    page = client.get("/")
    assert page.status_code == 200 and "studio.js" in page.text
    for asset, kind in (("studio.js", "javascript"), ("studio.css", "text/css")):
        response = client.get(f"/static/{asset}")
        assert response.status_code == 200 and kind in response.headers["content-type"]
    assert client.get("/static/../app.py").status_code == 404


# --- models ------------------------------------------------------------------------------------------------
def test_models_lists_the_zoo_and_allowed_bundles_only(setup):
    client, _, tiny, _ = setup
    listing = client.get("/api/models").json()["models"]
    ids = {m["id"]: m for m in listing}
    assert "fashion-gan" in ids and tiny in ids
    assert not any("secret" in i for i in ids)
    assert ids["fashion-gan"]["usable"] and not ids["gaussians25-wgangp"]["usable"]  # 2-D points, no picture
    assert ids[tiny]["classes"] == ["a", "b", "c"]


def test_model_info_gives_layers_classes_and_partners(setup):
    client, _, tiny, _ = setup
    info = client.get("/api/model", params={"id": tiny}).json()
    names = [layer["name"] for layer in info["layers"]]
    assert "stem" in names and "blocks.0" in names
    shapes = {lay["name"]: lay["shape"] for lay in info["layers"]}
    assert shapes["to_image"] == [1, 8, 8]
    assert info["classes"] == ["a", "b", "c"] and info["latent_dim"] == 8
    gan = client.get("/api/model", params={"id": "fashion-gan"}).json()
    assert gan["classes"][0] == "T-shirt/top" and tiny not in [p["id"] for p in gan["blend_partners"]]


@pytest.mark.parametrize(
    "model, status, words",
    [
        ("no-such-model", 400, ["unknown model", "fashion-gan"]),
        ("../secret/hidden", 400, ["unknown model"]),
        ("{tmp}/secret/hidden", 403, ["outside"]),
        ("{tmp}/allowed/../secret/hidden", 403, ["outside"]),
        ("{tmp}/allowed/link", 403, ["outside"]),  # a symlink inside the root that points out of it
        ("/etc", 403, ["outside"]),
        ("{tmp}/allowed/models", 400, ["not a bundle"]),
        ("gaussians25-wgangp", 400, ["image generator"]),
    ],
)
def test_models_outside_the_allowed_roots_are_refused(setup, model, status, words):
    client, _, _, tmp = setup
    os.symlink(tmp / "secret" / "hidden", tmp / "allowed" / "link")
    model = model.replace("{tmp}", str(tmp))
    refused(client.get("/api/model", params={"id": model}), status, *words)
    refused(client.post("/api/render", json=state(model)), status, *words)


# --- pictures ----------------------------------------------------------------------------------------------
def test_render_is_the_seeded_sample(setup):
    client, studio, tiny, _ = setup
    response = client.post("/api/render", json=state(tiny))
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    bundle = studio.models.get(tiny)
    expected = to_picture(bundle.sample(1, seed=3, labels=1).x, bundle)
    assert np.array_equal(pixels(response.content), np.asarray(expected))
    other = client.post("/api/render", json=state(tiny, latent={"seed": 4})).content
    assert not np.array_equal(pixels(other), pixels(response.content))


def test_interpolation_ends_at_both_seeds(setup):
    client, _, tiny, _ = setup
    a = pixels(client.post("/api/render", json=state(tiny, latent={"seed": 3})).content)
    b = pixels(client.post("/api/render", json=state(tiny, latent={"seed": 8})).content)
    at = [
        pixels(client.post("/api/render", json=state(tiny, latent={"seed": 3, "toward": 8, "t": t})).content)
        for t in (0.0, 0.5, 1.0)
    ]
    assert np.array_equal(at[0], a) and np.array_equal(at[2], b)
    assert not np.array_equal(at[1], a) and not np.array_equal(at[1], b)


def test_grid_tiles_are_consecutive_seeds(setup):
    client, studio, tiny, _ = setup
    grid = pixels(client.post("/api/grid", json={"state": state(tiny), "n": 4}).content)
    assert grid.shape == (2 * 9 + 1, 2 * 9 + 1)  # 2 x 2 tiles of 8 px, 1 px apart
    single = pixels(client.post("/api/render", json=state(tiny, latent={"seed": 4})).content)
    assert np.array_equal(grid[1:9, 10:18], single)  # tile 1 is seed 3 + 1


def test_principal_direction_sliders_move_the_picture(setup):
    client, _, tiny, _ = setup
    found = client.post("/api/directions", json={"model": tiny, "layer": "stem", "k": 4}).json()
    assert found["k"] == 4 and found["explained"] == sorted(found["explained"], reverse=True)
    assert 0 < sum(found["explained"]) <= 1
    base = pixels(client.post("/api/render", json=state(tiny)).content)
    for apply in ("latent", "layer"):
        pca = {"layer": "stem", "apply": apply, "amounts": [3.0], "k": 4}
        moved = pixels(client.post("/api/render", json=state(tiny, pca=pca)).content)
        assert not np.array_equal(moved, base), apply
    still = {"layer": "stem", "amounts": [0.0, 0.0], "k": 4}
    assert np.array_equal(pixels(client.post("/api/render", json=state(tiny, pca=still)).content), base)


def test_ganspace_latent_directions_move_the_layer_along_their_component():
    """Härkönen et al. 2020: a latent direction found by regression moves the layer along its component."""
    bundle = tiny_image_bundle(conditional=False)
    found = explore.principal_directions(bundle, "stem", k=3, n=256)
    assert torch.allclose(found.components @ found.components.T, torch.eye(3), atol=1e-4)
    z = bundle.latent.sample(64, torch.Generator().manual_seed(1))
    with taps.record(bundle.generator, ["stem"]) as before:
        bundle.sample(64, z=z)
    with taps.record(bundle.generator, ["stem"]) as after:
        bundle.sample(64, z=z + explore.latent_offset(found, [1.0]))
    moved = (after["stem"] - before["stem"]).flatten(1) @ found.components.T  # 64 x 3 coefficients
    assert moved[:, 0].mean() > 0.5 * found.sigma[0]
    assert moved[:, 0].abs().mean() > 2 * moved[:, 1:].abs().mean()


# --- refusals ----------------------------------------------------------------------------------------------
def test_bad_requests_get_a_clear_4xx(setup):
    client, _, tiny, _ = setup
    render = "/api/render"
    refused(
        client.post(render, content=b"{not json", headers={"content-type": "application/json"}),
        422,
        "malformed JSON",
    )
    refused(client.post(render, json={**state(tiny), "colour": "red"}), 422, "colour")
    refused(client.post(render, json=state(tiny, latent={"seed": -1})), 422, "latent.seed")
    refused(client.post(render, json=state(tiny, latent={"seed": 1, "toward": 2, "t": 1.5})), 422, "latent.t")
    refused(client.post(render, json=state(tiny, latent={"z": [0.0] * 3})), 400, "8")
    refused(client.post(render, json=state(tiny, label=7)), 400, "label 7")
    refused(client.post(render, json=state(tiny, pca={"layer": "stem", "amounts": [11]})), 422, "pca.amounts")
    nope = {"layer": "nope", "amounts": [1]}
    refused(client.post(render, json=state(tiny, pca=nope)), 400, "no layer 'nope'")
    refused(
        client.post(render, content=json.dumps(state(tiny)), headers={"content-type": "text/plain"}),
        415,
        "application/json",
    )
    refused(client.post(render, json=[1, 2]), 422)
    refused(client.post("/api/grid", json={"state": state(tiny), "n": 1000}), 422, "n")
    refused(client.get("/api/model"), 422, "id")
    refused(client.get("/api/nothing-here"), 404)


def test_request_bodies_are_bounded(setup):
    client, _, tiny, _ = setup
    huge = json.dumps({**state(tiny), "pad": "x" * MAX_JSON}).encode()
    as_json = {"content-type": "application/json"}
    refused(client.post("/api/render", content=huge, headers=as_json), 413, "limit")

    def chunks():  # no Content-Length: the size is counted as the body streams in
        for _ in range(MAX_JSON // 1024 + 2):
            yield b" " * 1024

    refused(
        client.post("/api/render", content=chunks(), headers={"content-type": "application/json"}),
        413,
        "limit",
    )
    big = b"\x89PNG" + b"0" * MAX_UPLOAD
    refused(client.post("/api/load", content=big, headers={"content-type": "application/octet-stream"}), 413)


def test_requests_naming_another_host_are_refused(setup):
    client, _, _, _ = setup
    response = client.get("/api/models", headers={"host": "attacker.example"})
    assert response.status_code == 400


# --- keep and load -----------------------------------------------------------------------------------------
def test_kept_recipe_reproduces_the_picture_bit_exactly(setup):
    client, studio, tiny, tmp = setup
    page = state(
        tiny,
        latent={"seed": 5, "toward": 9, "t": 0.3},
        pca={"layer": "blocks.0", "apply": "layer", "amounts": [1.5, -2.0], "k": 4},
    )
    shown = pixels(client.post("/api/render", json=page).content)
    kept = client.post("/api/keep", json=page).json()
    png, js = tmp / "out" / kept["png"], tmp / "out" / kept["json"]
    assert png.is_file() and js.is_file()
    recipe = read_recipe(js)
    assert read_recipe(png) == recipe and recipe.offsets and recipe.offsets[0]["layer"] == "blocks.0"
    remade = render_recipe(recipe)  # from scratch: loads the bundle again
    assert np.array_equal(np.asarray(to_picture(remade, studio.models.get(tiny))), shown)
    big = np.asarray(Image.open(png))
    assert np.array_equal(big[:: big.shape[0] // 8, :: big.shape[1] // 8], shown)  # nearest-neighbour upscale
    assert client.get(f"/api/files/{kept['png']}").content == png.read_bytes()


def test_files_are_served_by_bare_name_only(setup):
    client, _, _, tmp = setup
    (tmp / "out").mkdir(exist_ok=True)
    for sneaky in ("..%2Fallowed%2Fmodels%2Ftiny%2Fconfig.json", "..%5Cconfig.json", "%2E%2E", "config.json"):
        response = client.get(f"/api/files/{sneaky}")
        assert response.status_code in (400, 404) and "format" not in response.text
    refused(client.get("/api/files/.hidden.png"), 400, "not a file name")
    (tmp / "out" / "notes.json").write_text("{}")  # the user's own file in the output directory
    refused(client.get("/api/files/notes.json"), 400, "not a file name")
    refused(client.get("/api/files/keep-9999.png"), 404)
    assert client.get("/api/files/../../etc/passwd").status_code == 404  # no route for a path


def test_load_a_recipe_from_png_or_json(setup):
    client, _, tiny, tmp = setup
    page = state(tiny, latent={"seed": 11}, pca={"layer": "stem", "amounts": [2.0], "k": 4})
    kept = client.post("/api/keep", json=page).json()
    for name in (kept["png"], kept["json"]):
        raw = (tmp / "out" / name).read_bytes()
        loaded = client.post("/api/load", content=raw, headers={"content-type": "application/octet-stream"})
        assert loaded.status_code == 200, loaded.text
        restored = loaded.json()["state"]
        assert restored["latent"]["seed"] == 11 and restored["pca"]["amounts"] == [2.0]
        again = client.post("/api/render", json=restored).content
        assert np.array_equal(pixels(again), pixels(client.post("/api/render", json=page).content))
    octet = {"content-type": "application/octet-stream"}
    refused(client.post("/api/load", content=b"garbage", headers=octet), 400, "not valid JSON")
    plain = io.BytesIO()
    Image.new("L", (4, 4)).save(plain, format="PNG")
    refused(client.post("/api/load", content=plain.getvalue(), headers=octet), 400, "no swerve recipe")
    recipe = json.loads((tmp / "out" / kept["json"]).read_text())
    broken_recipes = (
        ({**recipe, "format_version": "x"}, "format"),
        ({**recipe, "extra": 1}, "extra"),
        ({**recipe, "z": "abc"}, "'z'"),
        ({**recipe, "format": "other"}, "not a swerve recipe"),
    )
    for broken, word in broken_recipes:
        refused(client.post("/api/load", content=json.dumps(broken).encode(), headers=octet), 400, word)
    recipe["studio"]["model"] = str(tmp / "secret" / "hidden")
    refused(client.post("/api/load", content=json.dumps(recipe).encode(), headers=octet), 403, "outside")
    recipe["studio"]["pca"]["amounts"] = [99]
    refused(client.post("/api/load", content=json.dumps(recipe).encode(), headers=octet), 422, "amounts")


# --- background jobs ---------------------------------------------------------------------------------------
def events(client: TestClient, job_id: str) -> list[dict]:
    found = []
    with client.stream("GET", f"/api/jobs/{job_id}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        for line in stream.iter_lines():
            if line.startswith("data: "):
                found.append(json.loads(line[6:]))
    return found


def test_export_walk_streams_progress_and_writes_the_video(setup):
    client, _, tiny, tmp = setup
    started = client.post("/api/jobs", json={"state": state(tiny), "kind": "walk", "frames": 6, "points": 3})
    assert started.status_code == 200, started.text
    progress = events(client, started.json()["id"])
    assert progress[-1]["state"] == "done" and progress[-1]["done"] == 6
    assert [p["done"] for p in progress] == sorted(p["done"] for p in progress)
    name = progress[-1]["result"]["file"]
    gif = Image.open(tmp / "out" / name)
    assert gif.n_frames == 6
    record = json.loads((tmp / "out" / f"{name}.json").read_text())
    assert record["recipe"]["bundle"] == tiny and record["export"]["frames"] == 6
    status = client.get(f"/api/jobs/{started.json()['id']}").json()
    assert status["state"] == "done" and status["result"]["file"] == name


def test_export_sweep_varies_the_principal_slider(setup):
    client, _, tiny, tmp = setup
    page = state(tiny, pca={"layer": "stem", "amounts": [0.0], "k": 4})
    sweep = {"target": "pca", "index": 0, "low": -3, "high": 3}
    body = {"state": page, "kind": "sweep", "frames": 3, "sweep": sweep}
    job = client.post("/api/jobs", json=body).json()
    done = events(client, job["id"])[-1]
    frames = Image.open(tmp / "out" / done["result"]["file"])
    first, last = np.asarray(frames.convert("L")), None
    frames.seek(2)
    last = np.asarray(frames.convert("L"))
    assert not np.array_equal(first, last)
    refused(client.post("/api/jobs", json={**body, "state": state(tiny)}), 400, "PCA")
    refused(client.post("/api/jobs", json={**body, "frames": 10_000}), 422, "frames")


def test_a_stream_ends_on_the_jobs_final_state(setup, monkeypatch):
    # a job that finishes just after the stream reads it once ended the stream on a "running" event
    from swerve.studio import jobs

    class FinishesJustAfterBeingRead(jobs.Job):
        reads = 0

        def snapshot(self, *args, **kwargs) -> dict:
            found = super().snapshot(*args, **kwargs)
            self.reads += 1
            if self.reads == 2 and found["state"] == "running":  # the stream's first read (the POST made one)
                self._update(state="done", result={"file": "early"}, message="done")
            return found

    monkeypatch.setattr(jobs, "Job", FinishesJustAfterBeingRead)
    client, studio, tiny, _ = setup
    with studio.lock(tiny):  # the job waits for the model, so the stream's first read finds it running
        body = {"state": state(tiny), "kind": "walk", "frames": 2, "points": 2}
        job = client.post("/api/jobs", json=body).json()
        seen = events(client, job["id"])
    assert seen[-1]["state"] != "running"
    assert [e["state"] for e in seen].count("running") == len(seen) - 1


def test_one_job_per_model_and_cancel(setup):
    client, studio, tiny, _ = setup
    body = {"state": state(tiny), "kind": "walk", "frames": 50}
    with studio.lock(tiny):  # the job waits for the model: it cannot finish before we look at it
        first = client.post("/api/jobs", json=body).json()
        assert first["state"] == "running"
        refused(client.post("/api/jobs", json=body), 409, "already has a walk job")
        other = client.post("/api/jobs", json={**body, "state": state("fashion-gan"), "frames": 2}).json()
        assert other["model"] == "fashion-gan"  # another model may run at the same time
        assert client.post(f"/api/jobs/{first['id']}/cancel", json={}).status_code == 200
    final = events(client, first["id"])[-1]
    assert final["state"] == "cancelled" and final["done"] < 50
    assert events(client, other["id"])[-1]["state"] == "done"
    assert client.post("/api/jobs", json={**body, "frames": 2}).status_code == 200  # free again
    refused(client.get("/api/jobs/nope"), 404, "no job")
    refused(client.post("/api/jobs/nope/cancel", json={}), 404)
    assert {j["id"] for j in client.get("/api/jobs").json()["jobs"]} >= {first["id"], other["id"]}


# --- the command -------------------------------------------------------------------------------------------
def test_cli_refuses_bad_arguments_in_one_line(cli, tmp_path):
    code, _, err = cli("studio", "--allow", tmp_path / "missing")
    assert code == 2 and "does not exist" in err and "Traceback" not in err
    code, _, err = cli("studio", "no-such-model")
    assert code == 2 and "unknown model" in err


def test_models_without_pictures_are_listed_but_not_usable(tmp_path):
    from swerve.models.mlp import MLPConfig, MLPGenerator

    net = MLPGenerator(MLPConfig())
    from swerve.bundle import Bundle

    Bundle({"generator": net}, DataSpec(shape=[2]), LatentSpec(2), name="points").save(tmp_path / "points")
    listing = Models([tmp_path]).listing()
    entry = next(m for m in listing if m["name"] == "points")
    assert not entry["usable"] and "image" in entry["why_not"]


# --- measurement -------------------------------------------------------------------------------------------
@needs_fashion
def test_measure_says_a_pushed_picture_is_more_novel_and_less_like_the_data(setup):
    client, studio, _, _ = setup
    studio.gauge = Gauge(reference_n=500)
    plain = client.post("/api/measure", json=state("fashion-gan", label=1))
    assert plain.status_code == 200, plain.text
    pushed = {"layer": "blocks.0", "apply": "layer", "amounts": [10, 10, 10]}
    far = client.post("/api/measure", json=state("fashion-gan", label=1, pca=pushed)).json()
    plain = plain.json()
    assert plain["values"]["class"] == "Trouser" and plain["values"]["agrees"] is True
    assert far["values"]["novelty"] > 1.5 * plain["values"]["novelty"]
    assert far["values"]["density"] < plain["values"]["density"]
    assert plain["features"] == {"extractor": "fashion-classifier", "layer": "features", "normalise": "l2"}
    assert plain["reference"]["n"] == 500 and "critic" in plain["values"]
    digits = client.post("/api/measure", json=state("digits-gan", label=0)).json()
    assert "novelty" not in digits["values"] and "domain classifier" in digits["notes"][0]
    assert "scan" in digits["values"] and "critic" in digits["values"]


def test_cli_serves_the_page_on_loopback(tmp_path):
    """`swerve studio` in its own process: prints its address, serves page and API, stops on SIGINT."""
    import signal
    import subprocess
    import sys
    import urllib.error
    import urllib.request

    root = Path(__file__).resolve().parents[1]
    command = [
        sys.executable,
        "-m",
        "swerve",
        "studio",
        "digits-gan",
        "--port",
        "0",
        "--json",
        "--allow",
        str(tmp_path),
        "--out",
        str(tmp_path / "out"),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(root)}
    process = subprocess.Popen(
        command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("}"):
                break
        started = json.loads("".join(lines))
        assert started["url"].startswith("http://127.0.0.1:") and started["model"] == "digits-gan"
        with urllib.request.urlopen(started["url"], timeout=10) as page:
            html = page.read().decode()
        assert "swerve studio" in html
        token = re.search(r'name="swerve-token" content="([^"]+)"', html).group(1)
        asked = urllib.request.Request(started["url"] + "api/models", headers={TOKEN_HEADER: token})
        with urllib.request.urlopen(asked, timeout=10) as answer:
            assert json.loads(answer.read())["start"] == "digits-gan"
        with pytest.raises(urllib.error.HTTPError) as no_token:
            urllib.request.urlopen(started["url"] + "api/models", timeout=10)
        assert no_token.value.code == 403
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) in (0, 130)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


# --- bending and blending ----------------------------------------------------------------------------------
def bend(layer: str = "conv:0", transform: str = "multiply", channels="all", **params) -> dict:
    return {"layer": layer, "transform": transform, "params": params, "channels": channels}


def test_bends_change_the_picture_in_order(setup):
    client, _, tiny, _ = setup
    draw = lambda bends: pixels(client.post("/api/render", json=state(tiny, bends=bends)).content)  # noqa: E731
    plain = draw([])
    assert np.array_equal(draw([bend(factor=1.0)]), plain)  # multiplying by one is no bend at all
    assert not np.array_equal(draw([bend(factor=3.0)]), plain)
    half = bend("blocks.0", "multiply", {"fraction": 0.5, "seed": 0}, factor=-2.0)
    assert not np.array_equal(draw([half]), draw([bend("blocks.0", factor=-2.0)]))
    add, times = bend(transform="add", value=1.0), bend(factor=2.0)
    assert not np.array_equal(draw([add, times]), draw([times, add]))  # reordering bends matters
    info = client.get("/api/model", params={"id": tiny}).json()
    rotate = next(t for t in info["transforms"] if t["name"] == "rotate")
    assert rotate["params"]["degrees"]["low"] == -360 and rotate["params"]["degrees"]["kind"] == "float"
    assert next(lay for lay in info["layers"] if lay["name"] == "blocks.0")["shortcut"] == "conv:0"


def test_bad_bends_are_refused(setup):
    client, _, tiny, _ = setup
    render = lambda bends: client.post("/api/render", json=state(tiny, bends=bends))  # noqa: E731
    refused(render([bend(layer="blocks.9")]), 400, "no layer 'blocks.9'")
    refused(render([bend(layer="conv:7")]), 400, "conv:7")
    refused(render([bend(transform="melt")]), 400, "unknown transform 'melt'")
    refused(render([bend(factor=99.0)]), 400, "factor", "outside")
    refused(render([bend(speed=1.0)]), 400, "no parameter 'speed'")
    refused(render([bend(channels={"fraction": 2.0})]), 400)
    refused(render([bend()] * 33), 422, "bends")
    refused(client.post("/api/render", json=state(tiny, bends={"layer": "stem"})), 422, "bends")


def test_kept_bends_reproduce_bit_exactly(setup):
    client, studio, tiny, tmp = setup
    bends = [bend("blocks.0", "rotate", {"fraction": 0.5, "seed": 2}, degrees=30.0), bend(factor=1.5)]
    page = state(tiny, bends=bends, pca={"layer": "stem", "amounts": [1.0], "k": 4})
    shown = pixels(client.post("/api/render", json=page).content)
    recipe = read_recipe(tmp / "out" / client.post("/api/keep", json=page).json()["json"])
    assert [b["transform"] for b in recipe.bends] == ["rotate", "multiply"]
    assert np.array_equal(np.asarray(to_picture(render_recipe(recipe), studio.models.get(tiny))), shown)


@pytest.fixture
def partner(setup) -> str:
    """A second tiny bundle with the same architecture and different generator weights."""
    _, _, _, tmp = setup
    other = tiny_image_bundle()
    with torch.no_grad():
        for p in other.generator.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    other.name = "tiny-b"
    return str(other.save(tmp / "allowed" / "models" / "tiny-b").resolve())


def test_blending_moves_from_one_model_to_the_other(setup, partner):
    client, studio, tiny, tmp = setup
    info = client.get("/api/model", params={"id": tiny}).json()
    assert info["blend_partners"] == [{"id": partner, "name": "tiny-b"}]
    assert info["blend_layers"][0] == "stem.0"  # the layer linear:0 names
    draw = lambda blend: pixels(client.post("/api/render", json=state(tiny, blend=blend)).content)  # noqa: E731
    a = draw(None)
    b = pixels(client.post("/api/render", json=state(partner)).content)
    assert np.array_equal(draw({"with": partner, "alpha": 0.0}), a)
    assert np.array_equal(draw({"with": partner, "alpha": 1.0}), b)
    half = draw({"with": partner, "alpha": 0.5})
    assert not np.array_equal(half, a) and not np.array_equal(half, b)
    coarse = draw({"with": partner, "alpha": 0.5, "schedule": {"pivot": 1, "width": 0.5}})
    assert not np.array_equal(coarse, half) and not np.array_equal(coarse, a)
    page = state(
        tiny,
        blend={"with": partner, "alpha": 0.3, "schedule": {"pivot": 2, "hard": True}},
        bends=[bend(factor=1.2)],
    )
    shown = pixels(client.post("/api/render", json=page).content)
    recipe = read_recipe(tmp / "out" / client.post("/api/keep", json=page).json()["json"])
    assert recipe.blend["with"] == partner
    assert np.array_equal(np.asarray(to_picture(render_recipe(recipe), studio.models.get(tiny))), shown)


def test_bad_blends_are_refused(setup, partner):
    client, _, tiny, tmp = setup
    refused(client.post("/api/render", json=state(tiny, blend={"with": "digits-gan"})), 400, "cannot blend")
    refused(client.post("/api/render", json=state(tiny, blend={"with": partner, "alpha": 1.5})), 422, "alpha")
    outside = str(tmp / "secret" / "hidden")
    refused(client.post("/api/render", json=state(tiny, blend={"with": outside})), 403, "outside")
    wide = {"with": partner, "schedule": {"pivot": 1, "width": 0}}
    refused(client.post("/api/render", json=state(tiny, blend=wide)), 422, "width")


def test_export_sweep_of_a_bend_parameter(setup):
    client, _, tiny, tmp = setup
    page = state(tiny, bends=[bend("blocks.0", "erode", radius=0)])
    sweep = {"target": "bend", "bend": 0, "param": "radius", "low": 0, "high": 3}
    job = client.post("/api/jobs", json={"state": page, "kind": "sweep", "frames": 4, "sweep": sweep}).json()
    done = events(client, job["id"])[-1]
    assert done["state"] == "done", done
    frames = Image.open(tmp / "out" / done["result"]["file"])
    assert frames.n_frames >= 2  # identical neighbours may merge in a GIF, but radius 0 and 3 differ
    refused(
        client.post(
            "/api/jobs", json={"state": page, "kind": "sweep", "frames": 4, "sweep": {**sweep, "high": 50}}
        ),
        400,
        "radius",
    )


def test_sweeps_out_of_range_are_refused_before_the_job_starts(setup, partner):
    client, studio, tiny, _ = setup
    page = state(tiny, blend={"with": partner, "alpha": 0.5}, pca={"layer": "stem", "amounts": [0.0], "k": 4})
    for sweep, word in (
        ({"target": "blend", "low": 0, "high": 2}, "alpha"),
        ({"target": "pca", "index": 0, "low": 0, "high": 50}, "amounts"),
    ):
        body = {"state": page, "kind": "sweep", "frames": 3, "sweep": sweep}
        refused(client.post("/api/jobs", json=body), 400, "sweep value", word)
    assert studio.jobs.all() == []


# --- glitching ---------------------------------------------------------------------------------------------
def test_glitch_changes_the_picture_and_leaves_the_model_alone(setup):
    client, studio, tiny, tmp = setup
    generator = studio.models.get(tiny).generator
    before = {k: v.clone() for k, v in generator.state_dict().items()}
    draw = lambda glitch: pixels(client.post("/api/render", json=state(tiny, glitch=glitch)).content)  # noqa: E731
    plain = draw(None)
    assert np.array_equal(draw({"kind": "gaussian", "amount": 0.0}), plain)
    noisy = draw({"kind": "gaussian", "amount": 1.0, "seed": 3})
    assert not np.array_equal(noisy, plain)
    assert np.array_equal(draw({"kind": "gaussian", "amount": 1.0, "seed": 3}), noisy)  # seeded
    assert not np.array_equal(draw({"kind": "gaussian", "amount": 1.0, "seed": 4}), noisy)
    assert not np.array_equal(draw({"kind": "reconnect", "amount": 1.0, "layers": ["blocks.0"]}), plain)
    assert all(torch.equal(v, before[k]) for k, v in generator.state_dict().items())  # restored exactly
    page = state(
        tiny,
        glitch={"kind": "zero", "amount": 0.3, "layers": ["conv:0"], "seed": 1},
        bends=[bend(factor=1.3)],
    )
    shown = pixels(client.post("/api/render", json=page).content)
    recipe = read_recipe(tmp / "out" / client.post("/api/keep", json=page).json()["json"])
    assert recipe.glitch["kind"] == "zero"
    assert np.array_equal(np.asarray(to_picture(render_recipe(recipe), studio.models.get(tiny))), shown)
    render = lambda glitch: client.post("/api/render", json=state(tiny, glitch=glitch))  # noqa: E731
    refused(render({"kind": "melt"}), 422, "glitch.kind")
    refused(render({"kind": "zero", "amount": 2.0}), 400, "fraction")
    refused(render({"kind": "gaussian", "layers": ["blocks.9"]}), 400, "blocks.9")
    assert all(torch.equal(v, before[k]) for k, v in generator.state_dict().items())


# --- rewriting ---------------------------------------------------------------------------------------------
def test_rewrite_pastes_a_region_into_a_new_model(setup):
    """Bau et al. 2020: the rewritten layer maps the target's keys to the source's values (small residual),
    the new bundle is listed, opens, blends with the original, and the original model is untouched."""
    client, studio, tiny, tmp = setup
    original = {k: v.clone() for k, v in studio.models.get(tiny).generator.state_dict().items()}
    page = state(tiny, latent={"seed": 3})
    # A corner small enough that rank 8 covers all its keys: the constraint then holds (almost) exactly.
    body = {
        "state": page,
        "layer": "blocks.0",
        "source": 9,
        "rank": 8,
        "n": 64,
        "region": {"top": 0.0, "left": 0.0, "bottom": 0.25, "right": 0.25},
    }
    job = client.post("/api/rewrite", json=body)
    assert job.status_code == 200, job.text
    done = events(client, job.json()["id"])[-1]
    assert done["state"] == "done", done
    result = done["result"]
    assert result["residual"] < 0.05 and Path(result["bundle"]).is_relative_to((tmp / "out").resolve())
    assert result["bundle"] in [m["id"] for m in client.get("/api/models").json()["models"]]
    info = client.get("/api/model", params={"id": tiny}).json()
    assert result["bundle"] in [p["id"] for p in info["blend_partners"]]
    before = pixels(client.post("/api/render", json=page).content)
    after = pixels(client.post("/api/render", json={**page, "model": result["bundle"]}).content)
    assert not np.array_equal(before, after)
    assert all(torch.equal(v, original[k]) for k, v in studio.models.get(tiny).generator.state_dict().items())
    history = swerve_load(result["bundle"]).history[-1]
    assert history["op"] == "rewrite" and history["params"]["source_seed"] == 9


def test_bad_rewrites_are_refused(setup):
    client, _, tiny, _ = setup
    body = {"state": state(tiny), "layer": "blocks.0", "source": 9}
    refused(client.post("/api/rewrite", json={**body, "layer": "embed"}), 400, "rewriting needs")
    refused(client.post("/api/rewrite", json={**body, "layer": "nope"}), 400, "nope")
    empty = {"top": 0.5, "left": 0.0, "bottom": 0.5, "right": 1.0}
    refused(client.post("/api/rewrite", json={**body, "region": empty}), 422, "empty")
    refused(client.post("/api/rewrite", json={**body, "rank": 0}), 422, "rank")


def test_recipe_endpoint_and_a_recipe_written_by_hand(setup):
    """/api/recipe answers the recipe of the page's state; a recipe with no page state (written by hand or
    by a script) loads as an explicit latent and draws the same picture."""
    client, _, tiny, _ = setup
    page = state(tiny, latent={"seed": 6}, bends=[bend(factor=-1.0)])
    recipe = client.post("/api/recipe", json=page).json()
    assert recipe["format"] == "swerve-recipe" and len(recipe["z"]) == 8 and recipe["seed"] == 6
    assert recipe["bends"][0]["transform"] == "multiply" and recipe["studio"]["latent"]["seed"] == 6
    by_hand = {k: v for k, v in recipe.items() if k != "studio"}
    octet = {"content-type": "application/octet-stream"}
    loaded = client.post("/api/load", content=json.dumps(by_hand).encode(), headers=octet).json()
    assert loaded["state"]["latent"]["z"] == recipe["z"]
    shown = pixels(client.post("/api/render", json=page).content)
    assert np.array_equal(pixels(client.post("/api/render", json=loaded["state"]).content), shown)
    refused(client.post("/api/recipe", json=state(tiny, bends=[bend(transform="melt")])), 400, "melt")


def test_cluster_bends_on_a_clustered_bundle(tmp_path):
    """A bundle with channel clusters (Broad et al. 2021) offers them per layer; a bend of one cluster moves
    the picture differently from a bend of another."""
    from swerve.diverge.clusters import cluster_bundle

    allowed = tmp_path / "allowed"
    clustered = cluster_bundle(tiny_image_bundle(), ["blocks.0"], k=2, n=64)
    model = str(clustered.save(allowed / "clustered").resolve())
    client = page_client(Studio(Models([allowed]), tmp_path / "out"))
    assert client.get("/api/model", params={"id": model}).json()["has_clusters"] == ["blocks.0"]
    render = lambda channels: client.post(  # noqa: E731
        "/api/render", json=state(model, bends=[bend("blocks.0", channels=channels, factor=-3.0)])
    )
    plain = pixels(client.post("/api/render", json=state(model)).content)
    first, second = pixels(render({"cluster": 0}).content), pixels(render({"cluster": 1}).content)
    assert not np.array_equal(first, plain) and not np.array_equal(first, second)
    refused(render({"cluster": 7}), 400)


# --- refinement --------------------------------------------------------------------------------------------
def test_dgflow_refinement_raises_the_critic_and_is_kept_exactly(setup):
    """DGflow (Ansari et al. 2021) moves the latent up the critic's gradient: the model's discriminator rates
    the refined picture higher (and lower with reverse); a class critic raises that class's probability."""
    client, studio, _, tmp = setup
    gan = studio.models.get("fashion-gan")

    def critic_and_probs(page: dict) -> tuple[float, torch.Tensor]:
        recipe = client.post("/api/recipe", json=page).json()
        x = gan.sample(1, z=torch.tensor([recipe["z"]]), labels=page["label"]).x
        classifier = swerve_load("fashion-classifier").classifier.eval()
        with torch.no_grad():
            return float(gan.discriminator(x, torch.tensor([page["label"]]))), classifier(x).softmax(1)[0]

    page = state("fashion-gan", latent={"seed": 4}, label=2)
    before, probs_before = critic_and_probs(page)
    up = client.post("/api/refine", json={"state": page, "steps": 10, "gamma": 0.0})
    assert up.status_code == 200, up.text
    assert up.json()["refined"]["method"] == "dgflow" and up.json()["refined"]["critic"] == "discriminator"
    refined_page = up.json()["state"]
    assert critic_and_probs(refined_page)[0] > before
    down = client.post("/api/refine", json={"state": page, "steps": 10, "gamma": 0.0, "reverse": True}).json()
    assert critic_and_probs(down["state"])[0] < before
    to_sneaker = {"state": page, "critic": "class", "target": 7, "steps": 10}
    toward = client.post("/api/refine", json=to_sneaker).json()
    assert critic_and_probs(toward["state"])[1][7] > probs_before[7]
    shown = pixels(client.post("/api/render", json=refined_page).content)
    recipe = read_recipe(tmp / "out" / client.post("/api/keep", json=refined_page).json()["json"])
    assert np.array_equal(np.asarray(to_picture(render_recipe(recipe), gan)), shown)
    refused(client.post("/api/refine", json={"state": page, "steps": 0}), 422, "steps")
    refused(client.post("/api/refine", json={"state": page, "divergence": "tv"}), 422, "divergence")
    refused(client.post("/api/refine", json={"state": state("digits-gan", label=0), "critic": "class"}), 400)


def test_novelty_search_finds_pictures_unlike_each_other_and_opens_them(setup):
    """Latent novelty search (Lehman & Stanley 2011) from the page: the pictures it keeps lie farther apart in
    the domain classifier's feature space than as many seeded ones, each opens as a page state, and the grid
    is written with its settings and seed beside it."""
    client, studio, tiny, tmp = setup
    gan = studio.models.get("fashion-gan")
    features = swerve_load("fashion-classifier").classifier.eval()
    page = state("fashion-gan", latent={"seed": 5}, label=0)
    body = {"state": page, "budget": 300, "population": 30, "keep": 9, "seed": 1}
    job = client.post("/api/novelty", json=body)
    assert job.status_code == 200, job.text
    done = events(client, job.json()["id"])[-1]
    assert done["state"] == "done", done
    found = done["result"]["states"]
    assert len(found) == 9 and len({s["label"] for s in found}) > 1  # labels are searched too

    def spread(pages: list[dict]) -> float:
        z = torch.tensor([client.post("/api/recipe", json=p).json()["z"] for p in pages])
        with torch.no_grad():
            f = features.features(gan.sample(len(z), z=z, labels=torch.tensor([p["label"] for p in pages])).x)
        return float(torch.pdist(f).mean())

    seeded = [state("fashion-gan", latent={"seed": 100 + i}, label=i) for i in range(9)]
    assert spread(found) > 1.2 * spread(seeded)
    assert client.post("/api/render", json=found[0]).status_code == 200
    grid = client.get(f"/api/files/{done['result']['file']}")
    assert grid.status_code == 200 and grid.headers["content-type"] == "image/png"
    record = json.loads((tmp / "out" / done["result"]["file"]).with_suffix(".json").read_text())
    assert record["novelty_search"]["seed"] == 1 and record["novelty_search"]["evaluations"] == 300
    assert record["recipe"]["bundle"] == "fashion-gan" and record["states"] == found
    refused(client.post("/api/novelty", json={**body, "state": state(tiny)}), 400, "domain classifier")
    refused(client.post("/api/novelty", json={**body, "budget": 20}), 400, "budget")
    refused(client.post("/api/novelty", json={**body, "keep": 0}), 422, "keep")


def test_the_novelty_grid_keeps_the_most_novel_first_and_no_twins():
    from swerve.studio.background import _spread

    behaviour = torch.tensor([[0.0, 0.0], [0.0, 0.0], [0.0, 0.1], [5.0, 5.0], [9.0, 0.0]])
    novelty = torch.tensor([1.0, 3.0, 2.9, 2.0, 0.5])
    picked = _spread(novelty, behaviour, 3).tolist()
    assert picked[0] == 1 and len(set(picked)) == 3  # the most novel, then the farthest from it
    assert picked[1:] == [4, 3]  # not entry 2 or 0, the near and exact twins of entry 1
    assert sorted(_spread(novelty, torch.zeros(5, 2), 5).tolist()) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("method", ["ddls", "dot"])
def test_refinement_baselines_raise_the_critic_too(setup, method):
    """DDLS (Che et al. 2020) and DOT (Tanaka 2019) run from the page's latent like DGflow: the picture they
    leave is rated higher by the model's discriminator, and a kept recipe remakes it."""
    client, studio, _, tmp = setup
    gan = studio.models.get("fashion-gan")
    page = state("fashion-gan", latent={"seed": 4}, label=2)

    def critic(page: dict) -> float:
        z = torch.tensor([client.post("/api/recipe", json=page).json()["z"]])
        with torch.no_grad():
            return float(gan.discriminator(gan.sample(1, z=z, labels=2).x, torch.tensor([2])))

    answer = client.post("/api/refine", json={"state": page, "method": method, "steps": 10})
    assert answer.status_code == 200, answer.text
    refined = answer.json()
    assert refined["refined"]["method"] == method and refined["refined"]["params"]["steps"] == 10
    assert critic(refined["state"]) > critic(page)
    shown = pixels(client.post("/api/render", json=refined["state"]).content)
    recipe = read_recipe(tmp / "out" / client.post("/api/keep", json=refined["state"]).json()["json"])
    assert np.array_equal(np.asarray(to_picture(render_recipe(recipe), gan)), shown)
    backwards = {"state": page, "method": method, "reverse": True}
    refused(client.post("/api/refine", json=backwards), 400, "DGflow")
    refused(client.post("/api/refine", json={"state": page, "method": "drs"}), 422, "method")


def test_scan_score_is_higher_for_a_bent_picture(setup):
    """Subset scanning (Berk-Jones): an ordinary picture's activations look like the background's, a bent
    picture's do not, at the scanned layer."""
    client, studio, tiny, _ = setup
    studio.gauge.scan_n = 128
    plain = client.post("/api/measure", json=state(tiny)).json()
    assert plain["scan"] == {"layer": "blocks.0", "background_n": 128, "statistic": "berk-jones"}
    assert plain["values"]["scan"] == plain["values"]["scan_unedited"]
    for factor in (6.0, -6.0):  # two-tailed: pushed up or down, the layer is out of its usual range
        bent = client.post("/api/measure", json=state(tiny, bends=[bend("blocks.0", factor=factor)])).json()
        assert bent["values"]["scan"] > 3 * bent["values"]["scan_unedited"]
        assert bent["values"]["scan_unedited"] == plain["values"]["scan"]
        assert 0 < bent["values"]["scan_share"] <= 1
    deeper = client.post("/api/measure?layer=conv:1", json=state(tiny))
    assert deeper.status_code == 200 and deeper.json()["scan"]["layer"] == "to_image"
    refused(client.post("/api/measure?layer=blocks.9", json=state(tiny)), 400, "blocks.9")


# --- the creative decoder ----------------------------------------------------------------------------------
def test_creative_decoder_changes_the_picture_reproducibly(setup):
    client, studio, tiny, tmp = setup
    draw = lambda creative: pixels(client.post("/api/render", json=state(tiny, creative=creative)).content)  # noqa: E731
    plain = draw(None)
    assert np.array_equal(draw({"strength": 0.0}), plain)
    creative = {"layer": "conv:0", "fraction": 1.0, "strength": 3.0, "seed": 1}
    assert not np.array_equal(draw(creative), plain)
    page = state(tiny, creative=creative)
    shown = pixels(client.post("/api/render", json=page).content)
    recipe = read_recipe(tmp / "out" / client.post("/api/keep", json=page).json()["json"])
    assert recipe.creative["layer"] == "blocks.0"
    assert np.array_equal(np.asarray(to_picture(render_recipe(recipe), studio.models.get(tiny))), shown)
    render = lambda creative: client.post("/api/render", json=state(tiny, creative=creative))  # noqa: E731
    refused(render({"fraction": 1.5}), 422, "creative.fraction")
    refused(render({"layer": "blocks.9"}), 400, "blocks.9")
    sweep = {"target": "creative", "low": 0, "high": 3}
    job = client.post("/api/jobs", json={"state": page, "kind": "sweep", "frames": 3, "sweep": sweep}).json()
    assert events(client, job["id"])[-1]["state"] == "done"


# --- fine-tuning -------------------------------------------------------------------------------------------
def test_finetune_makes_a_new_model_and_can_be_cancelled(setup):
    client, studio, tiny, _ = setup
    original = {k: v.clone() for k, v in studio.models.get(tiny).generator.state_dict().items()}
    job = client.post("/api/finetune", json={"state": state(tiny), "steps": 6})
    assert job.status_code == 200, job.text
    progress = events(client, job.json()["id"])
    done = progress[-1]
    assert done["state"] == "done" and done["result"]["steps"] == 6, done
    assert any(0 < p["done"] < 6 for p in progress)  # steps reported on the way
    tuned = done["result"]["bundle"]
    assert tuned in [m["id"] for m in client.get("/api/models").json()["models"]]
    assert swerve_load(tuned).history[-1]["op"] in ("finetune", "uncanny")
    before = pixels(client.post("/api/render", json=state(tiny)).content)
    assert not np.array_equal(pixels(client.post("/api/render", json=state(tuned)).content), before)
    assert all(torch.equal(v, original[k]) for k, v in studio.models.get(tiny).generator.state_dict().items())
    long = client.post("/api/finetune", json={"state": state(tiny), "steps": 5000}).json()
    client.post(f"/api/jobs/{long['id']}/cancel", json={})
    final = events(client, long["id"])[-1]
    assert final["state"] == "cancelled" and final["done"] < 5000
    refused(client.post("/api/finetune", json={"state": state(tiny), "method": "guided"}), 400, "classifier")
    refused(client.post("/api/finetune", json={"state": state(tiny), "steps": 0}), 422, "steps")


def test_training_from_a_recipe_makes_a_new_model(setup):
    """A zoo recipe trains in the background with the page's steps, seed and inspiring set of classes; the
    model it makes is listed and drawn; a long run can be cancelled."""
    client, _, _, _ = setup
    body = {"recipe": "digits-gan", "steps": 3, "classes": [0, 1], "seed": 2}
    job = client.post("/api/train", json=body)
    assert job.status_code == 200, job.text
    progress = events(client, job.json()["id"])
    done = progress[-1]
    assert done["state"] == "done" and done["result"]["steps"] == 3, done
    made = done["result"]["bundle"]
    assert made in [m["id"] for m in client.get("/api/models").json()["models"]]
    bundle = swerve_load(made)
    config = bundle.training["config"]
    assert (config["classes"], config["steps"], config["seed"]) == ([0, 1], 3, 2)
    assert bundle.history[-1]["op"] == "train" and bundle.training["dataset_size"] < 400  # two digits of ten
    assert client.post("/api/render", json=state(made, label=0)).status_code == 200
    long = client.post("/api/train", json={"recipe": "digits-gan", "steps": 20_000}).json()
    again = {"recipe": "digits-gan", "steps": 5}
    refused(client.post("/api/train", json=again), 409, "already has a train job")
    client.post(f"/api/jobs/{long['id']}/cancel", json={})
    final = events(client, long["id"])[-1]
    assert final["state"] == "cancelled" and final["done"] < 20_000
    no_data = {"recipe": "nodata-gan", "steps": 5, "classes": [1]}
    refused(client.post("/api/train", json=no_data), 400, "without data")
    refused(client.post("/api/train", json={"recipe": "../../etc", "steps": 5}), 422, "recipe")
    refused(client.post("/api/train", json={**body, "classes": [10]}), 422, "classes")
    refused(client.post("/api/train", json={**body, "steps": 0}), 422, "steps")


@pytest.mark.parametrize("method", ["cross-domain", "domain-shift"])
def test_finetune_towards_another_dataset(setup, method):
    """Cross-domain and domain-shift fine-tunes reach the page's model on to a data set swerve ships."""
    client, _, tiny, _ = setup
    body = {"state": state(tiny), "method": method, "steps": 4, "dataset": "digits", "classes": [0, 1, 2]}
    job = client.post("/api/finetune", json=body)
    assert job.status_code == 200, job.text
    done = events(client, job.json()["id"])[-1]
    assert done["state"] == "done", done
    tuned = swerve_load(done["result"]["bundle"])
    record = tuned.history[-1]
    assert record["params"]["method"] == method and record["params"]["dataset"] == "digits", record
    assert record["params"]["classes"] == [0, 1, 2]
    before = pixels(client.post("/api/render", json=state(tiny)).content)
    after = pixels(client.post("/api/render", json=state(done["result"]["bundle"])).content)
    assert not np.array_equal(after, before)
    refused(client.post("/api/finetune", json={**body, "dataset": None}), 400, "data set")
    refused(client.post("/api/finetune", json={**body, "dataset": "folder:/etc"}), 422, "dataset")
    refused(client.post("/api/finetune", json={**body, "classes": [-1]}), 422, "classes")


def test_finetune_with_clip_text_says_what_it_needs(setup):
    client, _, tiny, _ = setup
    body = {"state": state(tiny), "method": "nada", "steps": 2}
    refused(client.post("/api/finetune", json=body), 400, "text")
    if importlib.util.find_spec("open_clip") is None:
        refused(client.post("/api/finetune", json={**body, "text": "a sketch"}), 400, "swerve[clip]")

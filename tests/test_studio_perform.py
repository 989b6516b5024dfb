"""Live control of the studio and its performance view: OSC over loopback UDP, MIDI through a stand-in for
mido's input port (only the library boundary replaced), learn mode, the WebSocket frame stream, and every
bad mapping or message answered with a 4xx, never a crash."""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi", reason="the studio extra is not installed: pip install 'swerve[studio]'")
pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx")

from fastapi.testclient import TestClient  # noqa: E402
from starlette.websockets import WebSocketDisconnect  # noqa: E402

from swerve.errors import ConfigError  # noqa: E402
from swerve.studio import live_control  # noqa: E402
from swerve.studio.app import TOKEN_HEADER, create_app  # noqa: E402
from swerve.studio.engine import Studio  # noqa: E402
from swerve.studio.models import Models  # noqa: E402

MODEL = "fashion-gan"
BEND = "blocks.0.rotate.degrees"
STATE = {"model": MODEL, "latent": {"seed": 3}, "label": 1}


@pytest.fixture
def live(tmp_path: Path):
    """A studio with the page's state sent: (client with the token, app, performance)."""
    app = create_app(Studio(Models([]), tmp_path / "out", start_model=MODEL))
    client = TestClient(app, base_url="http://127.0.0.1", headers={TOKEN_HEADER: app.state.token})
    assert client.post("/api/perform/state", json=STATE).status_code == 200
    return client, app, app.state.performance


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)), dtype=np.int16)


def until(condition, seconds: float = 5.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def bend_degrees(performance) -> float | None:  # noqa: ANN001
    for bend in performance.state()["bends"]:
        if bend["layer"] == "blocks.0" and bend["transform"] == "rotate":
            return bend["params"]["degrees"]
    return None


def test_osc_over_loopback_moves_a_bend_and_the_picture(live) -> None:
    udp = pytest.importorskip("pythonosc.udp_client", reason="pip install 'swerve[live]'")
    client, _, performance = live
    mapping = {"bindings": [{"source": "osc:/knob", "target": BEND, "range": [0, 180]}]}
    assert client.post("/api/perform/mapping", json=mapping).status_code == 200
    before = performance.render()
    server = live_control.OscInput(performance, 0).start()
    try:
        assert server.server.server_address[0] == "127.0.0.1"
        udp.SimpleUDPClient("127.0.0.1", server.port).send_message("/knob", 0.5)
        until(lambda: performance.sources.get("osc:/knob") == 0.5)
    finally:
        server.close()
    assert bend_degrees(performance) == pytest.approx(90.0)
    after = performance.render()
    assert after.number > before.number
    assert np.abs(pixels(after.png) - pixels(before.png)).max() > 0


def test_osc_messages_become_sources() -> None:
    found = live_control.osc_sources("/xy", (0.25, "label", 0.75, float("nan"), True))
    assert found == [("osc:/xy", 0.25), ("osc:/xy.0", 0.25), ("osc:/xy.2", 0.75)]
    assert live_control.osc_sources("/text", ("only words",)) == []


class FakeMidiPort:
    """Stands in for the port ``mido.open_input`` opens: keeps the callback, as mido's port does."""

    def __init__(self, name: str, callback) -> None:  # noqa: ANN001
        self.name, self.callback, self.closed = name, callback, False

    def close(self) -> None:
        self.closed = True


def test_midi_learn_binds_the_next_control_that_moves(live, monkeypatch) -> None:
    mido = pytest.importorskip("mido", reason="pip install 'swerve[live]'")
    opened: list[FakeMidiPort] = []

    def open_input(name, callback=None):  # noqa: ANN001, ANN202
        opened.append(FakeMidiPort(name, callback))
        return opened[-1]

    monkeypatch.setattr(mido, "open_input", open_input)
    client, _, performance = live
    inputs = live_control.start_inputs(performance, None, "nanoKONTROL2")
    assert [port.name for port in opened] == ["nanoKONTROL2"] and performance.inputs["midi"] == "nanoKONTROL2"
    answer = client.post("/api/perform/learn", json={"target": BEND, "range": [0.0, 127.0]}).json()
    assert answer["learning"]["target"] == BEND
    send = opened[0].callback
    send(mido.Message("program_change", program=3))  # no control: nothing bound
    assert performance.learning is not None
    send(mido.Message("control_change", channel=1, control=74, value=127))
    status = client.get("/api/perform/status").json()
    assert status["learning"] is None
    assert status["mapping"]["bindings"][0]["source"] == "midi:cc:2:74"
    assert bend_degrees(performance) == pytest.approx(127.0)
    send(mido.Message("control_change", channel=1, control=74, value=0))
    assert bend_degrees(performance) == pytest.approx(0.0)
    send(mido.Message("note_on", channel=0, note=60, velocity=64))  # learn is over: no new binding
    assert len(client.get("/api/perform/status").json()["mapping"]["bindings"]) == 1
    for source in inputs:
        source.close()
    assert opened[0].closed


def test_midi_messages_become_sources() -> None:
    mido = pytest.importorskip("mido", reason="pip install 'swerve[live]'")
    assert live_control.midi_sources(mido.Message("note_on", channel=15, note=60, velocity=127)) == [
        ("midi:note:16:60", 1.0)
    ]
    assert live_control.midi_sources(mido.Message("note_off", channel=0, note=60)) == [
        ("midi:note:1:60", 0.0)
    ]
    assert live_control.midi_sources(mido.Message("clock")) == []


def test_a_missing_live_extra_is_one_line_naming_it(monkeypatch) -> None:
    import importlib

    real = importlib.import_module

    def without_osc(name: str, *args):  # noqa: ANN002, ANN202
        if name.startswith("pythonosc"):
            raise ImportError(name)
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", without_osc)
    with pytest.raises(ConfigError, match=r"pip install 'swerve\[live\]' \(pythonosc is missing\)"):
        live_control.OscInput(object(), 0)


def test_the_stream_sends_a_new_frame_after_a_control_change(live) -> None:
    client, app, _ = live
    with client.websocket_connect(f"ws://127.0.0.1/api/perform/stream?token={app.state.token}") as socket:
        first = socket.receive_json()
        picture = socket.receive_bytes()
        assert first["frame"] >= 1 and (first["width"], first["height"]) == (28, 28)
        assert client.post("/api/perform/controls", json={"controls": {BEND: 90.0}}).status_code == 200
        header = socket.receive_json()
        while "frame" not in header:  # a quiet stream says it is waiting
            header = socket.receive_json()
        assert header["frame"] > first["frame"] and header["version"] > first["version"]
        assert np.abs(pixels(socket.receive_bytes()) - pixels(picture)).max() > 0
    status = client.get("/api/perform/status").json()
    assert status["latency_ms"]["n"] >= 1 and status["latency_ms"]["median"] >= 0


def test_latent_pulse_over_the_api_moves_the_latent(live) -> None:
    client, _, performance = live
    before = performance.render()
    for amount in (0.0, 2.0):
        assert (
            client.post("/api/perform/controls", json={"controls": {"latent.pulse": amount}}).status_code
            == 200
        )
    assert len(performance.state()["latent"]["z"]) == 64  # the latent made explicit, pushed
    assert np.abs(pixels(performance.render().png) - pixels(before.png)).max() > 0


def test_changes_made_while_drawing_are_merged_not_queued(live) -> None:
    client, _, performance = live
    frame, handled = performance.next_frame(-1)
    for degrees in (10.0, 20.0, 30.0, 40.0):
        performance.set_controls({BEND: degrees})
    newer, handled_now = performance.next_frame(handled)
    assert newer.number == frame.number + 1 and handled_now == performance.version
    assert bend_degrees(performance) == 40.0
    assert performance.next_frame(handled_now, timeout=0.05) == (None, handled_now)


def test_an_envelope_keeps_frames_coming_until_it_settles(live) -> None:
    client, _, performance = live
    mapping = {"bindings": [{"source": "mic:rms", "target": BEND, "range": [0, 90], "attack": 0.05}]}
    assert client.post("/api/perform/mapping", json=mapping).status_code == 200
    client.post("/api/perform/sources", json={"values": {"mic:rms": 0.0}})
    _, handled = performance.next_frame(-1)
    client.post("/api/perform/sources", json={"values": {"mic:rms": 1.0}})
    seen = []
    for _ in range(200):
        frame, handled = performance.next_frame(handled, timeout=0.05)
        if frame is None:
            break
        seen.append(bend_degrees(performance))
    assert len(seen) >= 2 and seen == sorted(seen)  # rising over several frames, with no new change
    assert seen[-1] == pytest.approx(90.0, abs=0.01)


def test_the_stream_refuses_other_sites_and_missing_tokens(live) -> None:
    _, app, _ = live
    other = TestClient(app, base_url="http://127.0.0.1")  # no token in its headers
    url = "ws://127.0.0.1/api/perform/stream"
    for path, headers in [
        (url, {}),
        (f"{url}?token=wrong", {}),
        (f"{url}?token={app.state.token}", {"origin": "http://evil.example"}),
    ]:
        with pytest.raises(WebSocketDisconnect) as refused, other.websocket_connect(path, headers=headers):
            pass
        assert refused.value.code == 1008
    assert other.post("/api/perform/controls", json={"controls": {BEND: 1.0}}).status_code == 403
    assert other.get("/perform").status_code == 200  # the page itself, with the token written in
    assert app.state.token in other.get("/perform").text


@pytest.mark.parametrize(
    ("route", "body", "status", "words"),
    [
        ("/api/perform/mapping", {"bindings": [{"source": "osc:/x", "target": "latent.zz"}]}, 422, "unknown"),
        (
            "/api/perform/mapping",
            {"bindings": [{"source": "osc:/x", "target": "nope.rotate.degrees"}]},
            400,
            "nope",
        ),
        (
            "/api/perform/mapping",
            {"bindings": [{"source": "osc:/x", "target": BEND, "attack": "NaN"}]},
            422,
            "",
        ),
        ("/api/perform/mapping", {"fps": 24}, 422, "bindings or presets"),
        ("/api/perform/controls", {"controls": {"blocks.0.rotate.nope": 1.0}}, 400, "no parameter"),
        ("/api/perform/controls", {"controls": {BEND: "90"}}, 422, ""),
        ("/api/perform/controls", {"controls": {"blend.alpha": 0.5}}, 400, "needs a blend partner"),
        ("/api/perform/sources", {"values": {"mic:rms": 2.0}}, 422, "less than or equal"),
        ("/api/perform/sources", {"values": {"rm -rf": 0.5}}, 422, ""),
        ("/api/perform/learn", {"target": "blocks.9.rotate.degrees"}, 400, "no layer"),
        ("/api/perform/learn", {"target": BEND, "range": [0, 1e5]}, 400, "must lie within"),
        ("/api/perform/learn", {"target": BEND, "range": [0, "1"]}, 422, ""),
        ("/api/perform/state", {"model": MODEL, "bends": [{"layer": "x", "transform": "rotate"}]}, 400, ""),
    ],
)
def test_bad_mappings_and_messages_are_4xx(live, route, body, status, words) -> None:
    client, _, performance = live
    version = performance.version
    answer = client.post(route, json=body)
    assert answer.status_code == status, answer.text
    assert words.lower() in answer.json()["error"].lower() and "\n" not in answer.json()["error"]
    assert performance.version == version  # nothing changed
    assert client.get("/api/perform/status").status_code == 200


# --- the command -------------------------------------------------------------------------------------------
@pytest.fixture
def never_serve(monkeypatch):
    """``swerve studio`` must refuse before serving: serving fails the test instead of blocking it."""
    uvicorn = pytest.importorskip("uvicorn")

    def served(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("the studio started serving")

    monkeypatch.setattr(uvicorn.Server, "run", served)


def test_cli_refuses_a_bad_mapping_or_input_in_one_line(cli, never_serve, tmp_path, monkeypatch) -> None:
    import json

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"bindings": [{"source": "osc:/k", "target": "latent.zz"}]}))
    code, _, err = cli("studio", MODEL, "--mapping", bad, "--port", "0", "--out", tmp_path / "out")
    assert code == 2 and "bad.json" in err and "unknown target" in err and "Traceback" not in err
    wrong_layer = tmp_path / "layer.yaml"
    wrong_layer.write_text("bindings:\n  - {source: 'midi:cc:1:7', target: nope.rotate.degrees}\n")
    code, _, err = cli("studio", MODEL, "--mapping", wrong_layer, "--port", "0", "--out", tmp_path / "out")
    assert code == 2 and "no layer 'nope'" in err

    mido = pytest.importorskip("mido", reason="pip install 'swerve[live]'")

    def no_port(name, callback=None):  # noqa: ANN001, ANN202
        raise OSError(f"unknown port {name!r}")

    monkeypatch.setattr(mido, "open_input", no_port)
    monkeypatch.setattr(mido, "get_input_names", lambda: ["Midi Through:0"])
    code, _, err = cli("studio", MODEL, "--midi", "nanoKONTROL2", "--port", "0", "--out", tmp_path / "out")
    assert code == 2 and "cannot open MIDI input 'nanoKONTROL2'" in err and "Midi Through:0" in err


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999", "1e300"])
@pytest.mark.parametrize(
    ("route", "template"),
    [
        ("/api/perform/controls", '{"controls": {"BEND": X}}'),
        ("/api/perform/sources", '{"values": {"mic:rms": X}}'),
        ("/api/perform/learn", '{"target": "BEND", "range": [0, X]}'),
        ("/api/perform/mapping", '{"bindings": [{"source": "mic:rms", "target": "BEND", "decay": X}]}'),
    ],
)
def test_no_number_that_is_not_finite_or_huge_gets_in(live, route, template, number) -> None:
    client, _, performance = live
    version = performance.version
    answer = client.post(
        route,
        content=template.replace("BEND", BEND).replace("X", number),
        headers={"content-type": "application/json"},
    )
    assert 400 <= answer.status_code < 500, answer.text
    assert performance.version == version and performance.mapping is None and performance.direct == {}


def test_the_status_gives_every_control_as_it_is_now(live) -> None:
    client, _, _ = live
    mapping = {"bindings": [{"source": "osc:/knob", "target": BEND, "range": [-30, 30]}]}
    assert client.post("/api/perform/mapping", json=mapping).status_code == 200
    assert client.post("/api/perform/controls", json={"controls": {"latent.t": 0.25}}).status_code == 200
    client.post("/api/perform/sources", json={"values": {"osc:/knob": 0.75}})
    live_now = client.get("/api/perform/status").json()["live"]
    assert live_now == {"latent.t": 0.25, BEND: pytest.approx(15.0)}  # set directly, and through the knob


def test_a_midi_port_that_will_not_open_is_one_line_even_from_the_c_library(tmp_path) -> None:
    """The real MIDI backend (no stand-in): a missing port ends in one line and exit 2. Where no MIDI
    system is present the ALSA library prints lines of its own on standard error; they must not show."""
    import os
    import subprocess
    import sys

    pytest.importorskip("rtmidi", reason="python-rtmidi is an optional extra (pip install 'swerve[live]')")
    done = subprocess.run(
        [sys.executable, "-m", "swerve", "studio", "--midi", "No Such Port swerve", "fashion-gan"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith("error:"), done.stderr
    assert "No Such Port swerve" in lines[0]

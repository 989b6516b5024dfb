"""Performance-view latency: from a control change to the new frame arriving on the view's WebSocket.

Starts the studio on a loopback port (uvicorn, as `swerve studio` does), sends the page's state, connects to
the frame stream as the performance view does, then changes one control at a time and times from the change
being sent to the PNG of a frame that includes it being received. Two ways in: the HTTP API
(``POST /api/perform/controls``, the control page's path) and an OSC message over loopback UDP, mapped onto a
bend parameter (a knob). Each change waits for its frame before the next, so the numbers are the latency of
one move, not the throughput. The bar: median <= 50 ms for the zoo GAN on 2 CPU cores. Run:

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/perform_latency.py [--changes 100] [--rounds 3]
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from pythonosc.udp_client import SimpleUDPClient
from studio_latency import serve_app
from websockets.sync.client import connect

from swerve.studio.app import TOKEN_HEADER, create_app
from swerve.studio.engine import Studio
from swerve.studio.live_control import OscInput
from swerve.studio.models import Models

MODEL = "fashion-gan"
BAR_MS = 50.0
BEND = "blocks.0.rotate.degrees"


def post(connection: http.client.HTTPConnection, token: str, path: str, body: dict) -> dict:
    headers = {"Content-Type": "application/json", TOKEN_HEADER: token}
    connection.request("POST", path, body=json.dumps(body), headers=headers)
    response = connection.getresponse()
    answer = json.loads(response.read())
    if response.status != 200:
        raise SystemExit(f"{path} refused ({response.status}): {answer}")
    return answer


def frame_after(stream, sent_ms: float) -> None:  # noqa: ANN001
    """Read the stream until a frame that includes a change made at or after ``sent_ms`` has arrived."""
    while True:
        message = stream.recv(timeout=30)
        if isinstance(message, bytes):
            continue
        header = json.loads(message)
        if "error" in header:
            raise SystemExit(f"the view refused the state: {header['error']}")
        if header.get("frame") and header["changed_at"] >= sent_ms:
            picture = stream.recv(timeout=30)
            if not picture.startswith(b"\x89PNG"):
                raise SystemExit("the frame is not a PNG")
            return


def time_changes(stream, change: Callable[[int], None], n: int) -> list[float]:  # noqa: ANN001
    times = []
    for i in range(n):
        sent_ms = time.time() * 1000.0
        start = time.perf_counter()
        change(i)
        frame_after(stream, sent_ms)
        times.append((time.perf_counter() - start) * 1000.0)
    return times


def summary(times: list[float]) -> tuple[float, float, float]:
    ordered = sorted(times)
    return statistics.median(ordered), ordered[max(0, -(-9 * len(ordered) // 10) - 1)], ordered[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--changes", type=int, default=100, help="control changes per round and way in")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as out:
        app = create_app(Studio(Models([]), Path(out) / "kept", start_model=MODEL))
        port, server = serve_app(app)
        token = app.state.token
        connection = http.client.HTTPConnection("127.0.0.1", port)
        post(connection, token, "/api/perform/state", {"model": MODEL, "latent": {"seed": 7}, "label": 3})
        knob = {"bindings": [{"source": "osc:/knob", "target": BEND, "range": [-180, 180]}]}
        post(connection, token, "/api/perform/mapping", knob)
        osc = OscInput(app.state.performance, 0).start()
        client = SimpleUDPClient("127.0.0.1", osc.port)
        ways: dict[str, Callable[[int], None]] = {
            "HTTP API, bend": lambda i: post(
                connection, token, "/api/perform/controls", {"controls": {"blocks.1.rotate.degrees": i % 90}}
            ),
            "HTTP API, latent.t": lambda i: post(
                connection, token, "/api/perform/controls", {"controls": {"latent.t": (i % 50) / 50}}
            ),
            "OSC knob, bend": lambda i: client.send_message("/knob", (i % 100) / 100),
        }
        print(
            f"torch {torch.__version__}, {torch.get_num_threads()} threads; {MODEL}; "
            f"{args.changes} changes x {args.rounds} rounds per way in; WebSocket on loopback"
        )
        print()
        head = f"{'way in':<22}{'median ms':>10}{'p90 ms':>9}{'max ms':>9}"
        print(f"{head}  medians by round   bar <= {BAR_MS:.0f}")
        url = f"ws://127.0.0.1:{port}/api/perform/stream?token={token}"
        with connect(url, max_size=2**24) as stream:
            frame_after(stream, 0.0)
            for name, change in ways.items():
                time_changes(stream, change, 5)  # warm-up
                rounds = [time_changes(stream, change, args.changes) for _ in range(args.rounds)]
                median, p90, worst = summary([t for r in rounds for t in r])
                spread = " ".join(f"{statistics.median(r):.1f}" for r in rounds)
                verdict = "ok" if median <= BAR_MS else "OVER"
                print(f"{name:<22}{median:>10.1f}{p90:>9.1f}{worst:>9.1f}  {spread:<17} {verdict}")
        osc.close()
        connection.close()
        server.should_exit = True


if __name__ == "__main__":
    main()

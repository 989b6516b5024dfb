"""Sketch pad latency: from a stroke's end to the rendered picture, through the HTTP API, for the zoo's
translation models.

Starts the studio on a loopback port (as benchmarks/studio_latency.py does), then draws ``--repeats`` strokes
one after another on a 128 x 128 white canvas (the page's), and after each sends the whole drawing as the page
does at a stroke's end (a PNG data URL) and times the full round trip (JSON in, PNG bytes out) over one
kept-alive connection. The bar: median <= 100 ms per stroke end at 64 px on CPU. Run:

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/sketch_latency.py [--repeats 50]
"""

from __future__ import annotations

import argparse
import base64
import http.client
import io
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image, ImageDraw
from studio_latency import serve

from swerve.studio.app import TOKEN_HEADER
from swerve.studio.engine import Studio
from swerve.studio.models import Models
from swerve.zoo import zoo_path

BAR_MS = 100.0
CASES = {
    "emoji-lineart2colour (64 px)": ("emoji-lineart2colour", []),
    "emoji-lineart2colour, a bend": (
        "emoji-lineart2colour",
        [{"layer": "down2", "transform": "rotate", "params": {"degrees": 30.0}}],
    ),
    "fashion-edges2grey (32 px)": ("fashion-edges2grey", []),
}


def drawings(repeats: int, seed: int = 0) -> list[str]:
    """The canvas after each of ``repeats`` strokes, as the page sends it."""
    rng = random.Random(seed)
    canvas = Image.new("RGB", (128, 128), "white")
    pen = ImageDraw.Draw(canvas)
    out = []
    for _ in range(repeats):
        points = [(rng.uniform(10, 118), rng.uniform(10, 118)) for _ in range(4)]
        pen.line(points, fill="black", width=4, joint="curve")
        buffer = io.BytesIO()
        canvas.save(buffer, format="PNG")
        out.append("data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode())
    return out


def time_case(port: int, token: str, model: str, bends: list, pictures: list[str]) -> list[float]:
    connection = http.client.HTTPConnection("127.0.0.1", port)
    headers = {"Content-Type": "application/json", TOKEN_HEADER: token}
    times = []
    for picture in pictures:
        body = json.dumps({"model": model, "picture": picture, "bends": bends})
        start = time.perf_counter()
        connection.request("POST", "/api/sketch", body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        times.append((time.perf_counter() - start) * 1000)
        if response.status != 200 or not data.startswith(b"\x89PNG"):
            raise SystemExit(f"sketch failed ({response.status}): {data[:200]!r}")
    connection.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    pictures = drawings(args.repeats)
    with tempfile.TemporaryDirectory() as out:
        studio = Studio(Models([]), Path(out) / "kept")
        port, server, token = serve(studio)
        threads = torch.get_num_threads()
        print(f"torch {torch.__version__}, {threads} threads; {args.repeats} strokes per case")
        print(f"\n{'model':<32}{'median ms':>10}{'p90 ms':>9}{'max ms':>9}   bar <= {BAR_MS:.0f} ms")
        for name, (model, bends) in CASES.items():
            if zoo_path(model) is None:
                print(f"{name:<32}not built (swerve zoo build {model})")
                continue
            time_case(port, token, model, bends, pictures[:2])  # warm-up: loads the model
            times = sorted(time_case(port, token, model, bends, pictures))
            median, p90 = statistics.median(times), times[int(0.9 * (len(times) - 1))]
            verdict = "ok" if median <= BAR_MS else "OVER"
            print(f"{name:<32}{median:>10.1f}{p90:>9.1f}{times[-1]:>9.1f}   {verdict}")
        server.should_exit = True


if __name__ == "__main__":
    main()

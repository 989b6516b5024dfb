"""Studio latency: from a parameter change to a new picture, through the HTTP API, for the zoo GAN.

Starts the studio on a loopback port (uvicorn, as `swerve studio` does), then for each kind of control sends
the page's render request with that control moved to a new value each time, over one kept-alive connection as
a browser would, and times the full round trip (JSON in, PNG bytes out). The bar: median <= 100 ms on 2 CPU
cores. Then the frame time of an imported StyleGAN2-256 (config F, 30M parameters, random weights, saved
as a bundle the way ``swerve import`` saves one): reported, no bar. Run:

    .venv/bin/python benchmarks/studio_latency.py [--repeats 50] [--stylegan2-repeats 5]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

import torch
import uvicorn

from swerve.bundle import Bundle, DataSpec, LatentSpec, load
from swerve.models.stylegan2 import StyleGAN2Config, StyleGAN2Generator
from swerve.studio.app import TOKEN_HEADER, create_app
from swerve.studio.engine import Studio, transforms_table
from swerve.studio.models import Models

MODEL = "fashion-gan"
BAR_MS = 100.0


def cases(repeats: int, partner: str | None) -> dict[str, list[dict]]:
    """For each control, ``repeats`` page states that differ from the one before only in that control;
    ``partner`` is a model to blend with."""
    base = {"model": MODEL, "latent": {"seed": 7}, "label": 3}
    steps = [i / max(1, repeats - 1) for i in range(repeats)]
    found = {
        "seed": [{**base, "latent": {"seed": 100 + i}} for i in range(repeats)],
        "interpolation t": [{**base, "latent": {"seed": 7, "toward": 8, "t": t}} for t in steps],
        "PCA slider (latent)": [
            {**base, "pca": {"layer": "stem", "apply": "latent", "amounts": [6 * t - 3]}} for t in steps
        ],
        "PCA slider (layer)": [
            {**base, "pca": {"layer": "blocks.0", "apply": "layer", "amounts": [6 * t - 3]}} for t in steps
        ],
    }
    table = {t["name"]: t for t in transforms_table()}
    if "multiply" in table:  # the bending API is there
        spec = table["multiply"]["params"]
        name = next(iter(spec))
        low, high = spec[name]["low"], spec[name]["high"]
        found["bend slider (multiply)"] = [
            {
                **base,
                "bends": [
                    {
                        "layer": "blocks.0",
                        "transform": "multiply",
                        "params": {name: low + (high - low) * t},
                        "channels": "all",
                    }
                ],
            }
            for t in steps
        ]
        found["2 bends, one moving"] = [
            {
                **base,
                "bends": [
                    {
                        "layer": "stem",
                        "transform": "multiply",
                        "params": {name: low + (high - low) * 0.7},
                        "channels": {"fraction": 0.5, "seed": 0},
                    },
                    {
                        "layer": "blocks.0",
                        "transform": "multiply",
                        "params": {name: low + (high - low) * t},
                        "channels": "all",
                    },
                ],
            }
            for t in steps
        ]
    if partner is not None:
        found["blend alpha"] = [{**base, "blend": {"with": partner, "alpha": t}} for t in steps]
        found["blend, bend moving"] = [
            {**base, "blend": {"with": partner, "alpha": 0.5}, "bends": move["bends"]}
            for move in found.get("bend slider (multiply)", [])
        ]
    return found


def make_partner(directory: Path) -> str:
    """A copy of the zoo GAN with its generator weights nudged: the same architecture, so it blends."""
    bundle = load(MODEL, device="cpu")
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in bundle.generator.parameters():
            p.add_(0.1 * p.std(correction=0) * torch.randn(p.shape, generator=gen))
    bundle.name = f"{MODEL}-nudged"
    return str(bundle.save(directory / bundle.name).resolve())


def make_stylegan2(directory: Path) -> str:
    """A StyleGAN2-256 bundle as importing an NVIDIA or rosinality checkpoint makes it (random weights)."""
    torch.manual_seed(0)
    config = StyleGAN2Config(resolution=256)
    data = DataSpec(shape=[3, 256, 256], classes=[], dataset="imported:stylegan2-256")
    bundle = Bundle({"generator": StyleGAN2Generator(config).eval()}, data, LatentSpec(config.z_dim))
    bundle.name = "stylegan2-256"
    return str(bundle.save(directory / bundle.name).resolve())


def stylegan2_cases(model: str, repeats: int) -> dict[str, list[dict]]:
    steps = [i / max(1, repeats - 1) for i in range(repeats)]
    return {
        "StyleGAN2-256: seed": [{"model": model, "latent": {"seed": 100 + i}} for i in range(repeats)],
        "StyleGAN2-256: interp. t": [
            {"model": model, "latent": {"seed": 7, "toward": 8, "t": t}} for t in steps
        ],
    }


def serve_app(app) -> tuple[int, uvicorn.Server]:
    """``app`` on a free loopback port, in a thread: its port and server."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # asyncio sets TCP_NODELAY
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    return sock.getsockname()[1], server


def serve(studio: Studio) -> tuple[int, uvicorn.Server, str]:
    """The studio on a free loopback port, in a thread: its port, server, and the token its page carries."""
    app = create_app(studio)
    port, server = serve_app(app)
    return port, server, app.state.token


def time_case(port: int, token: str, states: list[dict]) -> list[float]:
    connection = http.client.HTTPConnection("127.0.0.1", port)
    headers = {"Content-Type": "application/json", TOKEN_HEADER: token}
    times = []
    for state in states:
        body = json.dumps(state)
        start = time.perf_counter()
        connection.request("POST", "/api/render", body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        times.append((time.perf_counter() - start) * 1000)
        if response.status != 200 or not data.startswith(b"\x89PNG"):
            raise SystemExit(f"render failed ({response.status}): {data[:200]!r}")
    connection.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--stylegan2-repeats", type=int, default=5, help="0 leaves the StyleGAN2 rows out")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as out:
        partner = make_partner(Path(out) / "models")
        found = cases(args.repeats, partner)
        if args.stylegan2_repeats:
            found |= stylegan2_cases(make_stylegan2(Path(out) / "models"), args.stylegan2_repeats)
        studio = Studio(Models([Path(out) / "models"]), Path(out) / "kept")
        port, server, token = serve(studio)
        print(
            f"torch {torch.__version__}, {torch.get_num_threads()} threads; {MODEL}; "
            f"{args.repeats} changes per control, each a full HTTP round trip; "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        print()
        print(f"{'control moved':<26}{'median ms':>10}{'p90 ms':>9}{'max ms':>9}   bar <= {BAR_MS:.0f} ms")
        for name, states in found.items():
            time_case(port, token, states[:2])  # warm-up: loads the model, computes PCA directions, caches
            times = sorted(time_case(port, token, states))
            median = statistics.median(times)
            p90 = times[int(0.9 * (len(times) - 1))]
            verdict = "ok" if median <= BAR_MS else "OVER"
            verdict = "(no bar)" if name.startswith("StyleGAN2") else verdict
            print(f"{name:<26}{median:>10.1f}{p90:>9.1f}{times[-1]:>9.1f}   {verdict}")
        server.should_exit = True


if __name__ == "__main__":
    main()

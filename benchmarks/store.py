"""The project store under the studio's concurrency, and the gallery of a large store.

1. **Parallel writes through the API.** The studio on a loopback port (uvicorn, as ``swerve studio`` runs it);
   20 keeps (each draws the zoo GAN's picture, writes its files and its gallery row) and 20 ratings sent at
   once from 40 threads, each over its own connection. Checks that every keep and rating is there exactly
   once, and reports each kind's median and p90 round trip. Repeated ``--rounds`` times for the spread.
2. **A store of 10,000 pictures.** Filled directly (a real 128-pixel PNG thumbnail each), then the gallery's
   first page (48 pictures, newest first) fetched through the API ``--repeats`` times, beside the same for a
   store of 100 pictures, a filtered first page and the last page.

Run (one thread per library, as on a shared machine)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/store.py [--rounds 3] [--repeats 50] [--pictures 10000]
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch
import uvicorn
from PIL import Image

from swerve.look.rating import thumbnail_png
from swerve.look.store import Store, default_path
from swerve.studio.app import TOKEN_HEADER, create_app
from swerve.studio.engine import Studio
from swerve.studio.models import Models

MODEL = "fashion-gan"
PARALLEL = 20


def serve(out: Path) -> tuple[int, str, uvicorn.Server, threading.Thread]:
    app = create_app(Studio(Models([]), out, start_model=MODEL))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    return sock.getsockname()[1], app.state.token, server, thread


def request(
    port: int, token: str, method: str, path: str, body: dict | None = None
) -> tuple[int, dict, float]:
    """One request on a fresh connection: status, JSON answer, seconds."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    headers = {TOKEN_HEADER: token}
    raw = None
    if body is not None:
        raw = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    start = time.perf_counter()
    connection.request(method, path, body=raw, headers=headers)
    response = connection.getresponse()
    data = response.read()
    seconds = time.perf_counter() - start
    connection.close()
    return response.status, json.loads(data), seconds


def quantiles(seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p90 = ms[min(len(ms) - 1, int(round(0.9 * (len(ms) - 1))))]
    return f"median {statistics.median(ms):7.1f} ms  p90 {p90:7.1f} ms  (n={len(ms)})"


def parallel_round(port: int, token: str, round_no: int) -> dict[str, list[float]]:
    """20 keeps and 20 ratings at once; checks none is lost or doubled."""
    seeds = [1000 * round_no + i for i in range(PARALLEL)]
    for seed in seeds[:PARALLEL]:  # pictures to rate, kept before the burst
        request(port, token, "POST", "/api/keep", {"model": MODEL, "latent": {"seed": seed}, "label": 0})
    made = request(
        port, token, "POST", "/api/rate/sessions", {"kind": "scores", "name": f"round-{round_no}"}
    )[1]
    before = request(port, token, "GET", "/api/gallery?per_page=1")[1]["total"]
    times: dict[str, list[float]] = {"keep": [], "rate": []}
    failures: list[str] = []
    lock = threading.Lock()

    def keep(seed: int) -> None:
        body = {"model": MODEL, "latent": {"seed": seed + 500}, "label": 1}
        status, answer, seconds = request(port, token, "POST", "/api/keep", body)
        with lock:
            times["keep"].append(seconds)
            if status != 200:
                failures.append(f"keep {status}: {answer}")

    def rate(position: int) -> None:
        body = {
            "rater": f"rater-{position % 5}",
            "position": position,
            "novelty": 1 + position % 5,
            "value": 3,
        }
        status, answer, seconds = request(port, token, "POST", f"/api/rate/{made['id']}/rate", body)
        with lock:
            times["rate"].append(seconds)
            if status != 200:
                failures.append(f"rate {status}: {answer}")

    threads = [threading.Thread(target=keep, args=(s,)) for s in seeds]
    threads += [threading.Thread(target=rate, args=(p,)) for p in range(PARALLEL)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise SystemExit(f"round {round_no}: {len(failures)} failed, e.g. {failures[0]}")
    after = request(port, token, "GET", "/api/gallery?per_page=500")[1]
    names = [p["name"] for p in after["pictures"]]
    assert after["total"] == before + PARALLEL, (before, after["total"])
    assert len(names) == len(set(names)), "a kept picture listed twice"
    return times


def check_ratings(out: Path, sessions_expected: int) -> int:
    store = Store(default_path(out))
    total = 0
    for session in store.sessions():
        rows = store.ratings(session["id"])
        keys = [(r["rater"], r["position"]) for r in rows]
        assert len(keys) == len(set(keys)) == PARALLEL, (session["name"], len(keys))
        total += len(rows)
    assert total == sessions_expected * PARALLEL
    return total


def fill(store: Store, n: int) -> None:
    rng = np.random.default_rng(0)
    thumbs = [
        thumbnail_png(Image.fromarray(rng.integers(0, 255, (28, 28), dtype=np.uint8))) for _ in range(16)
    ]
    methods = ["sample", "bend", "blend", "bend+glitch"]
    conn = store.connection()
    conn.execute("BEGIN IMMEDIATE")  # one transaction for the fill; the timed reads are what matters
    now = time.time()
    conn.executemany(
        "INSERT INTO pictures (kind, name, model, method, recipe, thumbnail, measures, created)"
        " VALUES ('keep', ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                f"keep-{i:05d}.png",
                MODEL,
                methods[i % 4],
                json.dumps({"format": "swerve-recipe", "bundle": MODEL, "z": [0.0] * 64, "seed": i}),
                thumbs[i % 16],
                json.dumps({"novelty": float(rng.random()), "critic": float(rng.normal())}),
                now + i * 1e-3,
            )
            for i in range(n)
        ],
    )
    conn.execute("COMMIT")


def gallery_times(out: Path, repeats: int, query: str) -> list[float]:
    port, token, server, thread = serve(out)
    try:
        request(port, token, "GET", f"/api/gallery?{query}")  # warm: the store opens on first use
        return [request(port, token, "GET", f"/api/gallery?{query}")[2] for _ in range(repeats)]
    finally:
        server.should_exit = True
        thread.join(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--pictures", type=int, default=10_000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "parallel"
        port, token, server, thread = serve(out)
        try:
            times: dict[str, list[float]] = {"keep": [], "rate": []}
            for round_no in range(args.rounds):
                found = parallel_round(port, token, round_no)
                for kind in times:
                    times[kind] += found[kind]
                    print(f"round {round_no}  {kind:5s} {quantiles(found[kind])}")
            # the same 20 ratings with no keeps drawing pictures beside them, for comparison
            made = request(port, token, "POST", "/api/rate/sessions", {"kind": "scores", "name": "alone"})[1]
            alone: list[float] = []

            def rate_alone(position: int) -> None:
                body = {"rater": f"rater-{position % 5}", "position": position, "novelty": 2, "value": 3}
                alone.append(request(port, token, "POST", f"/api/rate/{made['id']}/rate", body)[2])

            burst = [threading.Thread(target=rate_alone, args=(p,)) for p in range(PARALLEL)]
            for t in burst:
                t.start()
            for t in burst:
                t.join()
        finally:
            server.should_exit = True
            thread.join(10)
        rated = check_ratings(out, args.rounds + 1)
        kept = Store(default_path(out)).gallery(per_page=1)["total"]
        print(
            f"{args.rounds} rounds of {PARALLEL} keeps + {PARALLEL} ratings at once, then {PARALLEL} ratings"
            f" alone: {kept} pictures kept, {rated} ratings, none lost or doubled"
        )
        for kind in times:
            print(f"all    {kind:5s} {quantiles(times[kind])}  (keeps and ratings at once)")
        print(f"alone  rate  {quantiles(alone)}  (20 ratings at once, no keeps)")

        rows = []
        for n in (100, args.pictures):
            folder = Path(tmp) / f"store-{n}"
            store = Store(default_path(folder))
            fill(store, n)
            store.close()
            size = default_path(folder).stat().st_size / 2**20
            for label, query in (
                ("first page", "per_page=48"),
                ("first page, method=bend", "per_page=48&method=bend"),
                ("last page", f"per_page=48&page={(n - 1) // 48}"),
            ):
                found = gallery_times(folder, args.repeats, query)
                rows.append((n, label, statistics.median(found)))
                print(f"{n:6d} pictures ({size:6.1f} MiB)  {label:24s} {quantiles(found)}")
        small = {label: t for n, label, t in rows if n == 100}
        for n, label, t in rows:
            if n != 100:
                print(f"{n} vs 100 pictures, {label}: median x{t / small[label]:.2f}")


if __name__ == "__main__":
    main()

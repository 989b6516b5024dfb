"""swerve react: frames per second, where the time goes, and rendering against plain sampling.

For each model -- the zoo's fashion-gan (28 px), the colour zoo model emoji-gan when it is installed, and a
StyleGAN2 at 256 px imported from a rosinality-format checkpoint with random weights (config-F widths
unless ``--cap`` narrows them) -- a synthetic track (kick clicks at 120 bpm over chords) is rendered with
the ``pulse`` and ``motion`` presets, and the same latents (and classes) are then drawn by plain
``Bundle.sample`` in the same batches. fashion-gan is also rendered with a bend driven by onsets (every
frame its own bend parameter, drawn in the same batches, each sample bent its own way).

Per model, side by side in each repeat: react's whole run as frames per second (audio analysis, planning,
drawing and writing frames, encoding); the share of that time in audio analysis; and the render (plan +
append frames) against plain sampling of the same frames in the same batch size, as a ratio of CPU times
measured one right after the other, with min / median / max over repeats. The bar: render <= 1.2x plain
sampling. fps and shares are wall-clock (ffmpeg's encoding runs in its own process); one thread:

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/react.py [--seconds 4] [--repeats 3] [--skip-stylegan]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile
import torch

from swerve.look.audio import track_features
from swerve.look.mapping import parse_mapping
from swerve.look.react import (
    control_track,
    frame_shape,
    open_run,
    plan_frames,
    react,
    render_frames,
    studio_for,
)

SR = 22050
FPS = 24
ROOT = Path(__file__).resolve().parent.parent


def synth_track(seconds: float, seed: int = 0) -> np.ndarray:
    """Kick-like clicks on every beat at 120 bpm over a chord that changes every two seconds, plus hiss."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(SR * seconds)) / SR
    y = 0.01 * rng.standard_normal(len(t))
    for start in np.arange(0, seconds, 2.0):
        part = (t >= start) & (t < start + 2.0)
        root = 220.0 * 2 ** (rng.integers(0, 12) / 12)
        for ratio in (1.0, 1.26, 1.5):
            y[part] += 0.08 * np.sin(2 * np.pi * root * ratio * t[part])
    hit = np.arange(int(0.08 * SR)) / SR
    kick = np.sin(2 * np.pi * 60 * hit * (1 + 3 * np.exp(-hit * 40))) * np.exp(-hit * 30)
    for beat in np.arange(0, seconds, 0.5):
        i = int(beat * SR)
        y[i : i + len(kick)] += 0.8 * kick[: len(y) - i]
    return (y / np.abs(y).max() * 0.9).astype(np.float32)


def stylegan_bundle(folder: Path, cap: int) -> str:
    """A 256 px StyleGAN2 (512-d style, 8 mapping layers) imported from a random rosinality checkpoint."""
    sys.path.insert(0, str(ROOT))
    try:
        from tests.stylegan_fixtures import rosinality_state_dicts
    finally:
        sys.path.remove(str(ROOT))
    from swerve.models.importers import import_model

    g_sd, d_sd = rosinality_state_dicts(resolution=256, style_dim=512, n_mlp=8, base=32768, cap=cap)
    torch.save({"g_ema": g_sd, "d": d_sd}, folder / "sg2.pt")
    return str(import_model(folder / "sg2.pt").save(folder / "stylegan2-256"))


def cpu_seconds(fn) -> float:
    """This process's CPU seconds for ``fn()`` (one thread: less inflated by other load than wall time)."""
    start = time.process_time()
    fn()
    return time.process_time() - start


@torch.no_grad()
def side_by_side(bundle_name: str, mapping, track: Path, batch: int) -> tuple[float, float]:
    """CPU seconds of react's render (plan, draw, append frames) and of plain ``Bundle.sample`` of the same
    latents and classes in the same batch size, one right after the other."""
    studio, model_id = studio_for(bundle_name)
    bundle = studio.models.get(model_id)
    controls = control_track(mapping, track_features(track, FPS))
    base = {"model": model_id, "latent": {"seed": 0}}
    plan = plan_frames(studio, model_id, base, controls, batch)
    z = torch.tensor([r.z for r in plan.recipes], dtype=torch.float32)
    labels = [r.label or 0 for r in plan.recipes] if bundle.num_classes else None

    def plain() -> None:
        for first in range(0, len(z), batch):
            part = slice(first, first + batch)
            bundle.sample(len(z[part]), z=z[part], labels=None if labels is None else labels[part])

    with tempfile.TemporaryDirectory() as tmp:
        run = open_run(Path(tmp) / "run", {"shape": list(frame_shape(bundle))}, resume=False)

        def render() -> None:
            render_frames(studio, model_id, plan_frames(studio, model_id, base, controls, batch), run, False)

        return cpu_seconds(render), cpu_seconds(plain)


def measure(name: str, bundle_name: str, mapping, track: Path, repeats: int, batch: int) -> dict:
    runs = []
    for _ in range(repeats):
        render, plain = side_by_side(bundle_name, mapping, track, batch)
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            result = react(
                bundle_name, track, mapping, Path(tmp) / "v.mp4", batch=batch, progress=False, size=256
            )
            total = time.perf_counter() - start
        s = result["seconds"]
        runs.append(
            {
                "fps": result["frames"] / total,
                "audio_share": s["audio"] / total,
                "render_share": (s["plan"] + s["render"]) / total,
                "ratio": render / plain,
                "frames": result["frames"],
                "batches": result["batches"],
            }
        )
    return {"name": name, "runs": runs}


def spread(values: list[float], fmt: str) -> str:
    return "/".join(format(v, fmt) for v in (min(values), statistics.median(values), max(values)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="length of the synthetic track")
    parser.add_argument("--stylegan-seconds", type=float, default=1.0, help="track length for StyleGAN2")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--cap", type=int, default=512, help="StyleGAN2 channel cap (512: config F)")
    parser.add_argument("--skip-stylegan", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    presets = parse_mapping({"presets": ["pulse", "motion"]})
    bend = parse_mapping(
        {
            "bindings": [
                {"source": "onset", "target": "blocks.1.rotate.degrees", "range": [0, 45], "decay": 0.2}
            ]
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        track, short = tmp / "track.wav", tmp / "short.wav"
        soundfile.write(track, synth_track(args.seconds), SR)
        soundfile.write(short, synth_track(args.stylegan_seconds), SR)
        track_features(short, FPS)  # librosa's first call compiles and loads; not part of any render
        models = [
            ("fashion-gan", "fashion-gan", presets, track),
            ("fashion-gan + bend", "fashion-gan", bend, track),
        ]
        from swerve import zoo

        if zoo.zoo_path("emoji-gan") is not None:
            models.append(("emoji-gan (colour)", "emoji-gan", presets, track))
        else:
            print("emoji-gan is not installed: its row is left out")
        if not args.skip_stylegan:
            models.append(("stylegan2 256 px", stylegan_bundle(tmp, args.cap), presets, short))
        print(f"{args.repeats} repeats, batch {args.batch}, {FPS} fps; min/median/max over repeats")
        head = ["react fps", "audio share", "render share", "render/plain"]
        print(f"{'model':<22} {'frames':>6} {'batches':>7} " + " ".join(f"{h:>17}" for h in head))
        for name, bundle_name, mapping, audio in models:
            r = measure(name, bundle_name, mapping, audio, args.repeats, args.batch)
            runs = r["runs"]
            print(
                f"{name:<22} {runs[0]['frames']:>6} {runs[0]['batches']:>7} "
                f"{spread([x['fps'] for x in runs], '.1f'):>18} "
                f"{spread([x['audio_share'] * 100 for x in runs], '.0f') + ' %':>17} "
                f"{spread([x['render_share'] * 100 for x in runs], '.0f') + ' %':>17} "
                f"{spread([x['ratio'] for x in runs], '.2f') + 'x':>17}",
                flush=True,
            )


if __name__ == "__main__":
    main()

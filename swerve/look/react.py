"""Audio-reactive rendering: a music video whose pictures move with a track (``swerve react``).

The track's features (:mod:`swerve.look.audio`) drive the controls a mapping file binds them to
(:mod:`swerve.look.mapping`); every frame is a studio state, made into a recipe and drawn exactly as the
studio draws it (:mod:`swerve.studio.engine`, :func:`swerve.studio.recipe.draw`), frames that differ only in
their latent, class and bend parameters going through the generator in one batch (each frame bent with its
own parameters). The effects follow Lucid Sonic Dreams
(Alafriz 2021): a pulse toward a direction on percussive hits, motion along a latent path with the harmony,
the class from the strongest pitch class, and here any bend parameter too.

The render is a pure function of (bundle, track, mapping, seed, state): frames go to a run folder as PNGs
(with a manifest of those inputs), so a render that stopped resumes where it stopped and gives the same
frames; the video is encoded from them by ffmpeg with the track muxed in, and a recipe JSON beside it records
everything that made it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from swerve.bundle import Bundle
from swerve.diverge.bend import parse_bends
from swerve.errors import ConfigError, SwerveError
from swerve.look.audio import Features, analyse, decode
from swerve.look.grid import to_uint8
from swerve.look.mapping import (
    Controller,
    Mapping,
    apply_controls,
    check_targets,
    describe,
    path_latents,
    source_kind,
)
from swerve.outputs import check_folder, check_output, claim_folder, output_kind
from swerve.studio.schema import Z_MAX
from swerve.utils import atomic_path, json_text, sha256_file, write_text_atomic

FORMAT = "swerve-react"
RUN_KIND = "react-run"
MANIFEST = "react.json"
FRAMES = "frames.u8"  # every frame's pixels (H x W x C bytes), one after the other
LATENT_CONTROLS = ("latent.position", "latent.pulse", "latent.motion")
DEFAULT_FPS = 24
MAX_FRAMES = 500_000


@dataclass
class Plan:
    """Every frame's recipe, and the batches they are drawn in."""

    recipes: list[Any]
    batches: list[list[int]]
    controls: list[dict[str, float]] = field(default_factory=list)


def default_run_dir(out: str | os.PathLike) -> Path:
    """Where the frames of a render to ``out`` go unless told: ``NAME.frames`` beside it."""
    out = Path(out)
    return out.with_name(out.name + ".frames")


def recipe_path(out: str | os.PathLike) -> Path:
    """The recipe JSON written beside the video."""
    out = Path(out)
    return out.with_name(out.name + ".json")


def check_sources(mapping: Mapping, features: Features | None = None) -> None:
    """A ConfigError unless every source is a track feature (OSC, MIDI and microphone are live-only)."""
    for source in mapping.sources():
        kind = source_kind(source)
        if kind != "audio":
            raise ConfigError(f"source {source!r} is a live {kind} source; swerve react reads track features")
        if features is not None and source not in features.values:
            raise ConfigError(f"source {source!r} is not among the track's features")


def studio_for(bundle_name: str, device: str | None = None) -> tuple[Any, str]:
    """A studio engine that may open ``bundle_name`` (a zoo name or a bundle directory), and its model id."""
    from swerve import zoo
    from swerve.studio.engine import Studio
    from swerve.studio.models import Models

    roots = [] if zoo.zoo_path(bundle_name) is not None else [Path(bundle_name).resolve().parent]
    models = Models(roots=roots, device=device or "cpu")
    model_id = bundle_name if not roots else str(Path(bundle_name).resolve())
    return Studio(models, out_dir=roots[0] if roots else Path.cwd()), models.resolve(model_id)


def checked_state(state: dict[str, Any], where: str = "the start state") -> Any:
    """``state`` as the studio's :class:`~swerve.studio.schema.StateIn`; a one-line ConfigError naming
    ``where`` when the studio would refuse it."""
    from pydantic import ValidationError

    from swerve.studio.schema import StateIn

    try:
        return StateIn.model_validate(state)
    except ValidationError as exc:
        raise ConfigError(describe(exc, f"{where}: the studio refuses the state")) from None


def control_track(mapping: Mapping, features: Features) -> list[dict[str, float]]:
    """The controls of every frame: the mapping's envelopes stepped through the features at 1 / fps."""
    controller = Controller(mapping)
    dt = 1.0 / features.fps
    return [controller.step(features.frame(i), dt) for i in range(features.frames)]


def plan_frames(
    studio: Any, model_id: str, base: dict[str, Any], controls: list[dict[str, float]], batch: int
) -> Plan:
    """Checked recipes and batches for ``controls``: consecutive frames whose recipes differ only in latent,
    class and bend parameters share a batch of at most ``batch`` frames (the partition depends on the
    inputs alone, so a resumed render draws the same batches). Each frame's state is
    :func:`apply_controls` of its controls; the latents of latent motion and pulse are worked out for all
    frames at once, and a state is checked and made into a recipe by the studio only when more than its
    latent, class and bend parameters changed (bend parameters alone are checked as bends)."""
    from swerve.studio import explore

    bundle = studio.models.get(model_id)
    moving = bool(controls) and any(k in controls[0] for k in LATENT_CONTROLS)
    states = [
        apply_controls(
            base, {k: v for k, v in c.items() if k not in LATENT_CONTROLS}, num_classes=bundle.num_classes
        )
        for c in controls
    ]
    z = None
    if moving:
        latents: dict[int, torch.Tensor] = {}

        def seed_latent(seed: int) -> torch.Tensor:
            if seed not in latents:
                latents[seed] = explore.seed_latent(bundle, seed)
            return latents[seed]

        z = path_latents(
            base.get("latent", {}),
            [c.get("latent.position", 0.0) for c in controls],
            [c.get("latent.pulse", 0.0) for c in controls],
            seed_latent,
            ts=[float(s["latent"].get("t") or 0.0) for s in states],
        ).float()
        if not torch.isfinite(z).all() or z.abs().max() > Z_MAX:
            raise ConfigError(
                f"latent motion and pulse move the latent beyond ±{Z_MAX:g}; lower their ranges"
            )
    recipes, batches = [], []
    last_state = last_edit = None
    first: Any = None
    shift: torch.Tensor | None = None
    for i, state in enumerate(states):
        key = {
            k: v for k, v in state.items() if k not in ("label", "bends") and not (moving and k == "latent")
        }
        key["bends"] = [{k: v for k, v in b.items() if k != "params"} for b in state.get("bends") or []]
        if key != last_state:
            if moving:
                state = {**state, "latent": {**state["latent"], "z": z[i].tolist()}}
            first = studio.recipe(checked_state(state, f"frame {i}"))
            first_bends = state.get("bends")
            edit = _edit_key(first)
            shift = torch.tensor(first.z) - z[i] if moving else None  # the sliders' latent offset
            last_state = key
        label = state.get("label") if bundle.num_classes else None
        frame_z = (z[i] + shift).tolist() if moving else first.z
        bends = first.bends
        if state.get("bends") != first_bends:  # only bend parameters moved: checked, not made again
            try:
                bends = [bend.to_dict() for bend in parse_bends(state["bends"])]
            except ConfigError as exc:
                raise ConfigError(f"frame {i}: {exc}") from None
        recipe = dataclasses.replace(first, z=frame_z, label=label, studio=state, bends=bends)
        if edit == last_edit and len(batches[-1]) < batch:
            batches[-1].append(i)
        else:
            batches.append([i])
        last_edit = edit
        recipes.append(recipe)
    return Plan(recipes, batches, controls)


def _edit_key(recipe: Any) -> str:
    """What a recipe does besides its latent, class and bend parameters: frames with equal keys can share
    a batch (each frame bent with its own parameters)."""
    doc = {k: v for k, v in recipe.__dict__.items() if k not in ("z", "label", "studio", "bends")}
    doc["bends"] = [{k: v for k, v in b.items() if k != "params"} for b in recipe.bends]
    return json.dumps(doc, sort_keys=True)


def draw_batch(studio: Any, plan: Plan, frames: list[int]) -> torch.Tensor:
    """The pictures of ``frames`` (one batch of :func:`plan_frames`), drawn as the studio draws them."""
    from swerve.studio.recipe import draw

    first = plan.recipes[frames[0]]
    bundle = studio.bundle_for(first)
    z = torch.tensor([plan.recipes[i].z for i in frames], dtype=torch.float32)
    labels = None
    if bundle.num_classes:
        labels = [0 if plan.recipes[i].label is None else plan.recipes[i].label for i in frames]
    own = [plan.recipes[i].bends for i in frames]
    samples = own if any(bends != first.bends for bends in own) else None
    with studio.lock(first.bundle):
        return draw(bundle, first, z=z, labels=labels, samples=samples)


def inputs_record(
    bundle_name: str, track: Path, mapping: Mapping, seed: int, fps: float, state: dict[str, Any], batch: int
) -> dict[str, Any]:
    """What a render is a function of, with content hashes: a run folder resumes only for the same."""
    from swerve.scale.sweep import bundle_digest

    return {
        "bundle": bundle_name,
        "bundle_sha256": bundle_digest(bundle_name),
        "track": str(track),
        "track_sha256": sha256_file(track),
        "mapping": mapping.model_dump(mode="json"),
        "seed": seed,
        "fps": fps,
        "state": state,
        "batch": batch,
    }


def _changed_inputs(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The inputs that differ between two records (paths may differ when the content is the same)."""
    return [k for k in new if k not in ("bundle", "track") and old.get(k) != new[k]]


def open_run(run_dir: Path, record: dict[str, Any], resume: bool, overwrite: bool = False) -> Path:
    """The run folder for ``record``: a new one, or one holding frames of the same inputs (``resume`` or
    ``overwrite``: they are the same frames), or, with ``overwrite``, one of other inputs, emptied."""
    run_dir = Path(run_dir)
    manifest = run_dir / MANIFEST
    check_folder(run_dir, RUN_KIND)
    if manifest.exists():
        try:
            old = json.loads(manifest.read_text())
        except (OSError, ValueError):
            old = {}
        changed = _changed_inputs(old if isinstance(old, dict) else {}, record)
        if changed and overwrite:
            (run_dir / FRAMES).unlink(missing_ok=True)
            manifest.unlink()
        elif changed:
            raise SwerveError(
                f"{run_dir} holds a render of other inputs ({', '.join(changed)} differ); choose another "
                "--run-dir, or pass --overwrite to start it again"
            )
        elif not (resume or overwrite):
            raise SwerveError(f"{run_dir} holds frames of this render; pass --resume to continue it")
    claim_folder(run_dir, RUN_KIND)
    if not manifest.exists():
        write_text_atomic(manifest, json_text(record, indent=2) + "\n")
    return run_dir


def frame_shape(bundle: Bundle) -> tuple[int, int, int]:
    """A frame's pixels as stored: height, width, channels (1 for grey, 3 for colour)."""
    c, h, w = bundle.data.shape
    return h, w, 1 if c == 1 else 3


def render_frames(
    studio: Any,
    model_id: str,
    plan: Plan,
    run_dir: Path,
    progress: bool = True,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Draw every batch with a frame not yet in ``run_dir`` and append its frames; returns how many frames
    were there already (a frame cut off half-written by a crash is dropped and drawn again).
    ``on_batch(frames_done)`` is called after each batch written."""
    from tqdm.auto import tqdm

    bundle = studio.models.get(model_id)
    size = int(np.prod(frame_shape(bundle)))
    path = run_dir / FRAMES
    path.touch()
    done = min(path.stat().st_size // size, len(plan.recipes))
    bar = tqdm(total=len(plan.recipes), initial=done, disable=not progress, desc="rendering", unit="frame")
    try:
        with open(path, "r+b") as fh:
            fh.truncate(done * size)
            fh.seek(done * size)
            for frames in plan.batches:
                if frames[-1] < done:
                    continue
                pixels = to_uint8(draw_batch(studio, plan, frames), tuple(bundle.data.range))
                new = [k for k, i in enumerate(frames) if i >= bar.n]
                fh.write(np.ascontiguousarray(pixels[new[0] :]).tobytes())
                fh.flush()
                bar.update(len(new))
                if on_batch is not None:
                    on_batch(bar.n)
    finally:
        bar.close()
    return done


def encode(run_dir: Path, shape: tuple[int, int, int], fps: float, track: Path, out: Path, size: int) -> None:
    """The frames in ``run_dir`` (each ``shape``) as an H.264 MP4 at ``out`` with the track's audio (AAC)
    muxed in; the shorter side enlarged (nearest neighbour) or reduced to ``size`` pixels, both even."""
    import imageio_ffmpeg

    h, w, c = shape
    scale = size / min(w, h)
    width, height = (max(2, round(v * scale / 2) * 2) for v in (w, h))
    flags = "neighbor" if scale >= 1 else "area"
    with atomic_path(out, suffix=".mp4") as tmp:
        work = tmp.with_name(tmp.name + ".mp4")
        command = [
            imageio_ffmpeg.get_ffmpeg_exe(),
            *("-nostdin", "-loglevel", "error"),
            *("-f", "rawvideo", "-pix_fmt", "gray" if c == 1 else "rgb24", "-s", f"{w}x{h}"),
            *("-framerate", f"{fps:g}", "-i", str(run_dir / FRAMES)),
            *("-i", str(track), "-map", "0:v:0", "-map", "1:a:0"),
            *("-vf", f"scale={width}:{height}:flags={flags},format=yuv420p"),
            *("-c:v", "libx264", "-c:a", "aac", "-shortest", "-y", str(work)),
        ]
        try:
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                message = " ".join(done.stderr.split())[-300:]
                raise SwerveError(f"ffmpeg could not write {out}: {message}")
            work.replace(tmp)
        finally:
            work.unlink(missing_ok=True)


def react(
    bundle_name: str,
    track: str | os.PathLike,
    mapping: Mapping,
    out: str | os.PathLike,
    *,
    fps: float | None = None,
    seed: int | None = None,
    state: dict[str, Any] | None = None,
    run_dir: str | os.PathLike | None = None,
    resume: bool = False,
    size: int = 512,
    batch: int = 32,
    device: str | None = None,
    overwrite: bool = False,
    keep_frames: bool = False,
    progress: bool = True,
    on_batch: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Render ``track`` through ``bundle_name`` as the MP4 ``out`` with the track as its sound, the mapping
    binding the track's features to controls; ``state`` (a studio state, without ``model``) is where
    every frame starts from (its bends, blend, sliders). Returns the recipe written beside the video, with
    timings (``seconds``: audio analysis, planning, rendering, encoding). The run folder is removed once
    the video is written, unless ``keep_frames``."""
    out, track = Path(out), Path(track)
    if out.suffix.lower() != ".mp4":
        raise ConfigError(f"--out must end in .mp4 (the video carries the track's sound), got {out}")
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ConfigError(f"batch must be a positive integer, got {batch!r}")
    if isinstance(size, bool) or not isinstance(size, int) or not 16 <= size <= 4096:
        raise ConfigError(f"size must be an integer in [16, 4096], got {size!r}")
    check_output(out, "file", overwrite)
    check_output(recipe_path(out), "file", overwrite)
    check_sources(mapping)
    fps = float(fps or mapping.fps or DEFAULT_FPS)
    base = {k: v for k, v in (state or {}).items() if k != "model"}
    latent = base.get("latent") if isinstance(base.get("latent"), dict) else {}
    for given in (seed, mapping.seed, latent.get("seed"), 0):
        if given is not None:
            seed = given
            break
    base["latent"] = {**latent, "seed": seed}
    run_dir = Path(run_dir) if run_dir is not None else default_run_dir(out)
    check_folder(run_dir, RUN_KIND)
    seconds: dict[str, float] = {}

    start = time.perf_counter()
    studio, model_id = studio_for(bundle_name, device)
    bundle = studio.models.get(model_id)
    if bundle.latent is None or not bundle.data.is_image:
        raise ConfigError(f"{bundle.name} is not an image generator; swerve react draws image generators")
    check_targets(mapping, bundle)
    studio.recipe(checked_state({"model": model_id, **base}))  # every reference checked before the work
    seconds["load"] = time.perf_counter() - start

    start = time.perf_counter()
    signal = decode(track)
    if progress:
        print(f"analysing the audio of {track} ...", file=sys.stderr, flush=True)
    features = analyse(signal, fps)
    check_sources(mapping, features)
    if features.frames > MAX_FRAMES:
        raise ConfigError(f"{features.frames:,} frames is more than {MAX_FRAMES:,}; lower --fps")
    seconds["audio"] = time.perf_counter() - start

    start = time.perf_counter()
    controls = control_track(mapping, features)
    plan = plan_frames(studio, model_id, {"model": model_id, **base}, controls, batch)
    seconds["plan"] = time.perf_counter() - start

    record = {
        **inputs_record(bundle_name, track, mapping, seed, fps, base, batch),
        "shape": list(frame_shape(bundle)),
        "device": str(bundle.device),
    }
    run_dir = open_run(run_dir, record, resume, overwrite)
    start = time.perf_counter()
    resumed_from = render_frames(studio, model_id, plan, run_dir, progress, on_batch)
    seconds["render"] = time.perf_counter() - start

    start = time.perf_counter()
    encode(run_dir, frame_shape(bundle), fps, track, out, size)
    seconds["encode"] = time.perf_counter() - start
    recipe = {
        "format": FORMAT,
        **record,
        "frames": features.frames,
        "duration": features.duration,
        "size": size,
        "run_dir": str(run_dir) if keep_frames else None,
        "out": str(out),
        "resumed_from": resumed_from,
        "batches": len(plan.batches),
    }
    write_text_atomic(recipe_path(out), json_text(recipe, mark=True, indent=2) + "\n")
    if not keep_frames and output_kind(run_dir) == RUN_KIND:
        shutil.rmtree(run_dir)
    return {**recipe, "recipe": str(recipe_path(out)), "seconds": seconds}


def frames_array(run_dir: str | os.PathLike) -> np.ndarray:
    """The frames of a run folder as one uint8 array (frames x H x W x C), in order."""
    run_dir = Path(run_dir)
    shape = json.loads((run_dir / MANIFEST).read_text())["shape"]
    raw = np.fromfile(run_dir / FRAMES, dtype=np.uint8)
    size = int(np.prod(shape))
    return raw[: len(raw) // size * size].reshape(-1, *shape)

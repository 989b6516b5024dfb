"""``swerve react``: a music video whose pictures move with a track."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from swerve.cli.main import OVERWRITE, app, emit, finite
from swerve.errors import ConfigError


def _read_state(path: Path | None) -> dict[str, Any] | None:
    """A studio state from a JSON file: the page's state, or a kept picture's recipe (its ``studio``)."""
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"state file {path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"state file {path} is not readable JSON: {' '.join(str(exc).split())}") from None
    if isinstance(data, dict) and data.get("format") == "swerve-recipe":
        data = data.get("studio") or {}
    if not isinstance(data, dict):
        raise ConfigError(f"state file {path} must hold a studio state (a JSON object)")
    return data


@app.command()
def react(
    bundle_name: str = typer.Argument(..., metavar="BUNDLE", help="Bundle directory or zoo name."),
    track: Path = typer.Argument(..., metavar="TRACK", help="The music: wav, flac, ogg or mp3."),
    mapping: Path = typer.Option(
        None, "--map", help="Mapping file (YAML or JSON): which features drive which controls."
    ),
    preset: list[str] = typer.Option(
        [], "--preset", help="pulse, motion or class (Lucid Sonic Dreams' effects); repeatable."
    ),
    out: Path = typer.Option(Path("react.mp4"), help="The video (.mp4), the track as its sound."),
    fps: float = typer.Option(
        None, min=1, max=120, callback=finite, help="Frames per second (default: the map's, else 24)."
    ),
    seed: int = typer.Option(None, min=0, max=2**31 - 1, help="Latent seed (default: the map's, else 0)."),
    state: Path = typer.Option(
        None, help="Start from a studio state or kept recipe (.json): its bends, blend, sliders."
    ),
    size: int = typer.Option(512, min=16, max=4096, help="Shorter side of the video in pixels."),
    batch: int = typer.Option(32, min=1, max=1024, help="Frames per generator batch."),
    run_dir: Path = typer.Option(None, help="Folder for the frames (default: OUT.frames)."),
    resume: bool = typer.Option(False, "--resume", help="Continue a render that stopped, in --run-dir."),
    keep_frames: bool = typer.Option(
        False, "--keep-frames", help="Keep the run folder's frames once the video is written."
    ),
    device: str = typer.Option(None, help="cpu, cuda, mps or auto."),
    overwrite: bool = OVERWRITE,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Render a music video: the track's features (loudness, onsets, percussive and harmonic parts,
    chroma, bands) drive latent motion, pulse, class, sliders or bends as a mapping file says; the track
    is muxed in and a recipe JSON written beside the video. Needs pip install 'swerve[audio]'."""
    from swerve.look.mapping import load_mapping, parse_mapping
    from swerve.look.react import react as render

    if mapping is None and not preset:
        raise ConfigError("give --map FILE or --preset pulse|motion|class")
    if mapping is not None:
        loaded = load_mapping(mapping)
        if preset:
            presets = list(dict.fromkeys([*loaded.presets, *preset]))
            loaded = parse_mapping({**loaded.model_dump(), "presets": presets}, str(mapping))
    else:
        loaded = parse_mapping({"presets": list(dict.fromkeys(preset))}, "--preset")
    result = render(
        bundle_name,
        track,
        loaded,
        out,
        fps=fps,
        seed=seed,
        state=_read_state(state),
        run_dir=run_dir,
        resume=resume,
        size=size,
        batch=batch,
        device=device,
        overwrite=overwrite,
        keep_frames=keep_frames,
        progress=not as_json,
    )
    seconds = result["seconds"]
    emit(
        result,
        as_json,
        f"wrote {result['frames']} frames at {result['fps']:g} fps to {out} (recipe {result['recipe']}); "
        f"audio {seconds['audio']:.1f} s, render {seconds['render']:.1f} s, encode {seconds['encode']:.1f} s",
    )

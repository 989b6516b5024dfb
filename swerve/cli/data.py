"""``swerve data info`` and ``swerve data prepare``: what a folder of images holds; a uint8 cache of it."""

from __future__ import annotations

from pathlib import Path

import typer

from swerve.cli.main import app, emit

data_app = typer.Typer(help="Image folders: survey one, or prepare it once as a memory-mapped cache.")
app.add_typer(data_app, name="data")


@data_app.command("info")
def info(
    folder: Path = typer.Argument(..., help="A folder of images (class subfolders become labels)."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
    as_json: bool = typer.Option(False, "--json", help="Print the survey as JSON."),
) -> None:
    """Count the images in FOLDER, their sizes and modes, classes, unreadable files and duplicates."""
    from swerve.data import folder_info

    found = folder_info(folder, progress=progress)
    emit(found, as_json, _summary(found))


def _summary(found: dict) -> str:
    def top(counts: dict, k: int = 5) -> str:
        shown = ", ".join(f"{key} ({n})" for key, n in list(counts.items())[:k])
        return shown + (f", ... {len(counts) - k} more" if len(counts) > k else "")

    lines = [f"{found['folder']}: {found['images']} images, {found['readable']} readable"]
    if found["classes"]:
        lines.append(f"classes: {top(found['classes'], 10)}")
    else:
        lines.append("classes: none (no subfolders; the data set is unlabelled)")
    lines.append(f"sizes: {top(found['sizes'])}")
    lines.append(f"modes: {top(found['modes'])}")
    bad, loose = found["unreadable"], found["left_out"]
    if bad:
        lines.append(f"unreadable ({len(bad)}, skipped when loading): {', '.join(bad[:5])}")
    if loose:
        lines.append(f"left out ({len(loose)} beside the class subfolders): {', '.join(loose[:5])}")
    dupes = found["duplicates"]
    extra = sum(len(names) - 1 for names in dupes)
    lines.append(
        f"duplicates: {extra} file(s) repeat another byte for byte"
        + (f", e.g. {' = '.join(dupes[0][:3])}" if dupes else "")
    )
    return "\n".join(lines)


@data_app.command("prepare")
def prepare(
    folder: Path = typer.Argument(..., help="A folder of images (class subfolders become labels)."),
    out: Path = typer.Option(..., help="The cache folder to write (new, or an earlier prepared cache)."),
    size: int = typer.Option(64, help="Side of the square pictures, in pixels."),
    channels: int = typer.Option(
        None, help="1 (grey) or 3 (RGB); default: RGB unless every picture is grey."
    ),
    crop: str = typer.Option(
        "centre", help="centre: the middle square; random: a square at a seeded offset."
    ),
    background: str = typer.Option("white", help="Colour under transparent pixels: a name or #rrggbb."),
    seed: int = typer.Option(0, help="Seed of the random crops."),
    bad_images: str = typer.Option("skip", help="An unreadable file: skip (named in a warning) or raise."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Decode, crop and resize FOLDER's pictures once into a uint8 cache that trains as prepared:OUT."""
    from swerve.data import prepare_folder

    index = prepare_folder(folder, out, size, channels, crop, background, seed, bad_images, progress)
    n, c = len(index["files"]), index["channels"]
    result = {"out": str(out), "images": n, "shape": [n, c, size, size], "skipped": index["skipped"]}
    classes = f", {len(index['classes'])} classes" if index["classes"] else ""
    emit(
        result,
        as_json,
        f"prepared {n} images of {c} x {size} x {size}{classes} in {out}"
        + (f" ({len(index['skipped'])} unreadable skipped)" if index["skipped"] else "")
        + f"; train with dataset: prepared:{out}",
    )

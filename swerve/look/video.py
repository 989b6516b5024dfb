"""Animations (latent walks, training progress) as looping GIFs or MP4 videos."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import torch
from PIL import Image

from swerve.errors import SwerveError
from swerve.look.grid import to_uint8
from swerve.utils import atomic_path

SUFFIXES = (".gif", ".mp4")


def save_animation(
    frames: Sequence[Image.Image] | torch.Tensor,
    path: str | os.PathLike,
    fps: float = 12,
    value_range: tuple[float, float] = (-1.0, 1.0),
) -> Path:
    """Write ``frames`` as a GIF (looping forever) or an MP4 (H.264, yuv420p), chosen by ``path``'s suffix.

    ``frames`` is a list of equally sized PIL images or a tensor N x C x H x W in ``value_range``. Writing
    goes through a temporary file, so a crash never leaves half a video. In a GIF, identical consecutive
    frames are merged into one longer frame.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        what = repr(path.suffix) if path.suffix else "a file without a suffix"
        raise SwerveError(f"cannot write an animation as {what}: use .gif or .mp4")
    if fps <= 0:
        raise SwerveError(f"fps must be positive, got {fps}")
    images = _as_images(frames, value_range)
    with _temp_file(path) as tmp:
        if suffix == ".gif":
            _write_gif(images, tmp, fps)
        else:
            _write_mp4(images, tmp, fps)
    return path


def _as_images(
    frames: Sequence[Image.Image] | torch.Tensor, value_range: tuple[float, float]
) -> list[Image.Image]:
    if isinstance(frames, torch.Tensor):
        arrays = to_uint8(frames, value_range)
        frames = [Image.fromarray(a[:, :, 0] if a.shape[2] == 1 else a) for a in arrays]
    images = list(frames)
    if not images:
        raise SwerveError("an animation needs at least one frame")
    sizes = {img.size for img in images}
    if len(sizes) > 1:
        raise SwerveError(f"all frames must have the same size, got {sorted(sizes)}")
    mode = "L" if all(img.mode == "L" for img in images) else "RGB"
    return [img.convert(mode) for img in images]


@contextlib.contextmanager
def _temp_file(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` that keeps its suffix (the writers pick the format from it),
    renamed onto ``path`` when the block succeeds."""
    with atomic_path(path) as tmp:
        work = tmp.with_name(tmp.name + path.suffix)
        try:
            yield work
            work.replace(tmp)
        finally:
            work.unlink(missing_ok=True)


def _write_gif(images: list[Image.Image], path: Path, fps: float) -> None:
    duration_ms = round(1000 / fps)
    images[0].save(path, save_all=True, append_images=images[1:], duration=duration_ms, loop=0)


def _write_mp4(images: list[Image.Image], path: Path, fps: float) -> None:
    # H.264 in yuv420p needs even sides and encodes 16-pixel macro blocks: pad to a multiple of 16.
    arrays = [_pad_to_block(np.asarray(img.convert("RGB")), 16) for img in images]
    writer = imageio.get_writer(
        path,
        format="FFMPEG",
        mode="I",
        fps=fps,
        codec="libx264",
        pixelformat="yuv420p",
        macro_block_size=16,
        ffmpeg_log_level="error",
    )
    try:
        for frame in arrays:
            writer.append_data(frame)
    finally:
        writer.close()


def _pad_to_block(frame: np.ndarray, block: int) -> np.ndarray:
    """Pad an H x W x 3 frame with black, centred, so both sides are multiples of ``block``."""
    h, w = frame.shape[:2]
    extra_h, extra_w = -h % block, -w % block
    if not (extra_h or extra_w):
        return frame
    pads = ((extra_h // 2, extra_h - extra_h // 2), (extra_w // 2, extra_w - extra_w // 2), (0, 0))
    return np.pad(frame, pads)

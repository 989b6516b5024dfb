"""A text model in the studio: its samples are strings. The page lists them (``/api/strings``, drawn by
``static/text.js``) and the picture routes show them typed on a plain image, so keeping and the grid work
as they do for pictures."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from PIL import Image, ImageDraw, ImageFont

from swerve.bundle import Bundle
from swerve.data.text import bundle_vocab, decode

LINE = 14  # pixels per line of the typed picture


def is_text(bundle: Bundle) -> bool:
    """Whether ``bundle`` makes strings (it carries a character vocabulary)."""
    return bundle_vocab(bundle) is not None


def strings(bundle: Bundle, x: torch.Tensor) -> list[str]:
    """The strings that ``x`` (N x V x L character scores) decodes to, trailing spaces kept off."""
    return decode(x.cpu(), bundle_vocab(bundle))


def typed(lines: Sequence[str], width: int | None = None) -> Image.Image:
    """``lines`` typed in Pillow's built-in font, black on white, one a line."""
    font = ImageFont.load_default()
    chars = max([len(s) for s in lines] + [1])
    image = Image.new("L", (width or 8 + 7 * chars, 8 + LINE * max(1, len(lines))), 255)
    pen = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        pen.text((4, 4 + LINE * i), line, fill=0, font=font)
    return image

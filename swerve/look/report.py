"""The HTML report: one self-contained page of pictures, numbers and plain sentences.

Every image is inlined as a base64 data URI and the stylesheet (``report.css``) is embedded, so
``report.html`` can be mailed or opened offline and still shows everything.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import math
import numbers
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from swerve import __version__
from swerve.errors import SwerveError
from swerve.utils import write_text_atomic

TAGLINE = (
    "swerve — active divergence with deep generative models: "
    "make a model, diverge from its data, refine, measure, look."
)
MIME_TYPES = {".png": "image/png", ".gif": "image/gif", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
STYLESHEET = Path(__file__).with_name("report.css")

Table = list[dict[str, Any]] | dict[str, Any]


@dataclass
class Figure:
    """One picture with a caption: a PIL image (embedded as PNG) or the path of a PNG/GIF/JPEG file.

    ``pixelated`` keeps small samples crisp when the browser enlarges them; turn it off for plots.
    """

    image: Image.Image | str | os.PathLike
    caption: str = ""
    pixelated: bool = True
    name: str = ""  # file name stem when the figure is saved beside the report

    def data_uri(self) -> str:
        """The image as a ``data:`` URI."""
        if isinstance(self.image, Image.Image):
            buffer = io.BytesIO()
            self.image.save(buffer, format="PNG")
            mime, payload = "image/png", buffer.getvalue()
        else:
            path = Path(self.image)
            mime = MIME_TYPES.get(path.suffix.lower())
            if mime is None:
                known = ", ".join(MIME_TYPES)
                raise SwerveError(f"cannot inline {path.name}: only {known} images are supported")
            try:
                payload = path.read_bytes()
            except OSError as exc:
                raise SwerveError(f"cannot read figure {path}: {exc.strerror}") from None
        return f"data:{mime};base64,{base64.b64encode(payload).decode('ascii')}"

    def size(self) -> tuple[int, int]:
        """Width and height in pixels."""
        if isinstance(self.image, Image.Image):
            return self.image.size
        try:
            with Image.open(self.image) as img:
                return img.size
        except OSError as exc:  # includes files Pillow cannot identify
            raise SwerveError(f"cannot read figure {self.image}: {exc}") from None


@dataclass
class Section:
    """A card of the report: a title, a sentence or two of plain text, pictures and an optional table.

    ``table`` is either a dict of name -> value (shown as two columns) or a list of rows (dicts sharing
    column names). ``kind`` is a short tag shown beside the title ("zoo", "toy", ...). A section whose
    ``error`` is set is drawn as a small "could not run" card.
    """

    title: str
    text: str = ""
    figures: list[Figure] = field(default_factory=list)
    table: Table | None = None
    kind: str = ""
    error: str | None = None

    @classmethod
    def failed(cls, title: str, message: str) -> Section:
        """The card shown in place of a section that raised a :class:`~swerve.errors.SwerveError`."""
        return cls(title=title, kind="error", error=message)


class Report:
    """Collects sections and renders them as one HTML page.

    The header shows ``title``, ``subtitle`` (swerve's one-line description by default) and the run's seed,
    date and swerve version; the footer shows ``command``, the command line that reproduces the report.
    """

    def __init__(
        self,
        title: str = "swerve demo",
        subtitle: str = TAGLINE,
        seed: int | None = None,
        command: str | None = None,
        date: _dt.date | None = None,
    ) -> None:
        self.title = title
        self.subtitle = subtitle
        self.seed = seed
        self.command = command
        self.date = date or _dt.date.today()
        self.sections: list[Section] = []

    def add(self, section: Section) -> Report:
        self.sections.append(section)
        return self

    def render(self) -> str:
        """The whole page as a string."""
        meta = [f"seed {self.seed}"] if self.seed is not None else []
        meta += [self.date.isoformat(), f"swerve {__version__}"]
        nav = "".join(
            f'<a href="#{_anchor(i, s.title)}">{html.escape(s.title)}</a>'
            for i, s in enumerate(self.sections)
        )
        body = "\n".join(_render_section(i, s) for i, s in enumerate(self.sections))
        footer = ""
        if self.command:
            footer = f"<p>Reproduce this report with</p><pre><code>{html.escape(self.command)}</code></pre>"
        return PAGE.format(
            title=html.escape(self.title),
            subtitle=html.escape(self.subtitle),
            meta=" · ".join(html.escape(m) for m in meta),
            nav=nav,
            body=body,
            footer=footer,
            style=STYLESHEET.read_text(),
        )

    def save(self, path: str | os.PathLike) -> Path:
        """Write the page to ``path`` through a temporary file."""
        path = Path(path)
        write_text_atomic(path, self.render())
        return path


PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>{title}</title>
<style>
{style}
</style>
</head>
<body>
<header>
<h1>{title}</h1>
<p class="tagline">{subtitle}</p>
<p class="meta">{meta}</p>
<nav>{nav}</nav>
</header>
<main>
{body}
</main>
<footer>
{footer}
</footer>
</body>
</html>
"""


def format_number(value: Any) -> str:
    """Numbers to 3 significant digits (0.873, 12.3, 1,230; 1.23e-05 when very small or large);
    integers in full with thousands separators; anything else as text."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "—"
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if not isinstance(value, numbers.Real):
        return str(value)
    value = float(value)
    if not math.isfinite(value) or value == 0:
        return str(value) if value else "0"
    rounded = float(f"{value:.3g}")
    if not 1e-3 <= abs(rounded) < 1e6:
        return f"{value:.2e}"
    decimals = max(0, 2 - math.floor(math.log10(abs(rounded))))
    return f"{rounded:,.{decimals}f}"


def _anchor(index: int, title: str) -> str:
    words = "".join(c if c.isalnum() else "-" for c in title.lower()).strip("-")
    return f"s{index}-{'-'.join(w for w in words.split('-') if w)}"


def _render_section(index: int, section: Section) -> str:
    title = html.escape(section.title)
    anchor = _anchor(index, section.title)
    if section.error is not None:
        return (
            f'<section class="card failed" id="{anchor}"><h2>{title}</h2>'
            f"<p>could not run: {html.escape(section.error)}</p></section>"
        )
    tag = f'<span class="tag">{html.escape(section.kind)}</span>' if section.kind else ""
    text = f'<p class="text">{html.escape(section.text)}</p>' if section.text else ""
    figures = "".join(_render_figure(f) for f in section.figures)
    table = _render_table(section.table) if section.table else ""
    layout = "body with-table" if table and figures else "body"
    return (
        f'<section class="card" id="{anchor}"><h2>{title}{tag}</h2>{text}'
        f'<div class="{layout}"><div class="figures">{figures}</div>{table}</div></section>'
    )


def _render_figure(figure: Figure) -> str:
    src = figure.data_uri()
    width, height = figure.size()
    classes = ["figure"]
    if width >= 2.5 * height:
        classes.append("wide")  # strips span the whole row
    if figure.pixelated:
        classes.append("pixelated")
    caption = f"<figcaption>{html.escape(figure.caption)}</figcaption>" if figure.caption else ""
    alt = html.escape(figure.caption or "figure", quote=True)
    return (
        f'<figure class="{" ".join(classes)}"><img src="{src}" width="{width}" '
        f'height="{height}" alt="{alt}">{caption}</figure>'
    )


def _render_table(table: Table) -> str:
    if isinstance(table, dict):
        rows = "".join(
            f'<tr><th scope="row">{html.escape(str(k))}</th>{_cell(v)}</tr>' for k, v in table.items()
        )
        return f'<table class="numbers">{rows}</table>'
    columns: list[str] = []
    for row in table:
        columns += [str(c) for c in row if str(c) not in columns]
    head = "".join(f'<th scope="col">{html.escape(c)}</th>' for c in columns)
    rows = "".join(
        "<tr>" + "".join(_cell(row.get(c)) for c in columns) + "</tr>"
        for row in ({str(k): v for k, v in r.items()} for r in table)
    )
    return f'<table class="numbers"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'


def _cell(value: Any) -> str:
    is_number = isinstance(value, numbers.Number) and not isinstance(value, bool)
    css = ' class="num"' if is_number else ""
    return f"<td{css}>{html.escape(format_number(value))}</td>"

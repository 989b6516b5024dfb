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
    ``error`` is set is drawn as a small "could not run" card. Consecutive sections with the same
    ``stage`` are grouped under one heading, and in the contents.
    """

    title: str
    text: str = ""
    figures: list[Figure] = field(default_factory=list)
    table: Table | None = None
    kind: str = ""
    error: str | None = None
    stage: str = ""  # the step of the loop it belongs to ("Make", "Diverge", ...): groups the contents

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
        intro: str = "",
        stages: dict[str, str] | None = None,
    ) -> None:
        self.title = title
        self.subtitle = subtitle
        self.intro = intro  # under the title: what the report shows and how to read it (blank line: new para)
        self.stages = stages or {}  # stage name -> one sentence shown under its heading
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
        groups: list[tuple[str, list[tuple[int, Section]]]] = []
        for i, s in enumerate(self.sections):
            if not groups or groups[-1][0] != s.stage:
                groups.append((s.stage, []))
            groups[-1][1].append((i, s))
        nav, body = [], []
        for number, (stage, members) in enumerate(groups, 1):
            links = "".join(
                f'<li><a href="#{_anchor(i, s.title)}">{html.escape(s.title)}</a></li>' for i, s in members
            )
            if stage:
                label = f"{number}. {html.escape(stage)}"
                nav.append(
                    f'<div class="toc-stage"><a href="#stage-{number}">{label}</a><ol>{links}</ol></div>'
                )
                blurb = self.stages.get(stage, "")
                blurb = f'<p class="stage-text">{html.escape(blurb)}</p>' if blurb else ""
                body.append(f'<div class="stage" id="stage-{number}"><h2>{label}</h2>{blurb}</div>')
            else:
                nav.append(f'<div class="toc-stage"><ol>{links}</ol></div>')
            body += [_render_section(i, s) for i, s in members]
        paragraphs = [p for p in self.intro.split("\n\n") if p.strip()]
        intro = "".join(f'<p class="intro">{html.escape(p)}</p>' for p in paragraphs)
        footer = ""
        if self.command:
            footer = f"<p>Reproduce this report with</p><pre><code>{html.escape(self.command)}</code></pre>"
        return PAGE.format(
            title=html.escape(self.title),
            subtitle=html.escape(self.subtitle),
            meta=" · ".join(html.escape(m) for m in meta),
            intro=intro,
            nav="".join(nav),
            body="\n".join(body),
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
{intro}
<nav aria-label="Contents">{nav}</nav>
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
            f'<section class="card failed" id="{anchor}"><h3>{title}</h3>'
            f"<p>could not run: {html.escape(section.error)}</p></section>"
        )
    tag = f'<span class="tag">{html.escape(section.kind)}</span>' if section.kind else ""
    text = f'<p class="text">{_inline_code(html.escape(section.text))}</p>' if section.text else ""
    figures = "".join(_render_figure(f) for f in section.figures)
    table = _render_table(section.table) if section.table else ""
    # A narrow table sits beside the pictures; a wide one (many columns) goes under them, full width.
    wide = isinstance(section.table, list) and len({str(c) for row in section.table for c in row}) > 4
    layout = "body" if wide or not (table and figures) else "body with-table"
    return (
        f'<section class="card" id="{anchor}"><h3>{title}{tag}</h3>{text}'
        f'<div class="{layout}"><div class="figures">{figures}</div>{table}</div></section>'
    )


def _inline_code(text: str) -> str:
    """`backticked` words of already-escaped text as <code>, so command names read as commands."""
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an unmatched backtick: leave the text alone
        return text
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


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
        return f'<div class="table-wrap"><table class="numbers">{rows}</table></div>'
    columns: list[str] = []
    for row in table:
        columns += [str(c) for c in row if str(c) not in columns]
    str_rows = [{str(k): v for k, v in r.items()} for r in table]
    numeric = {c for c in columns if all(_is_number(r[c]) for r in str_rows if r.get(c) is not None)}
    head = "".join(f'<th scope="col"{NUM if c in numeric else ""}>{html.escape(c)}</th>' for c in columns)
    rows = "".join("<tr>" + "".join(_cell(row.get(c)) for c in columns) + "</tr>" for row in str_rows)
    table_html = f'<table class="numbers"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
    return f'<div class="table-wrap">{table_html}</div>'


NUM = ' class="num"'


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


def _cell(value: Any) -> str:
    css = NUM if _is_number(value) else ""
    return f"<td{css}>{html.escape(format_number(value))}</td>"

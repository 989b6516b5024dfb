"""Colour emoji rendered from Debian's Noto Color Emoji font: 3,655 RGB pictures in the 9 groups of Unicode's
emoji-test.txt, no download.

Every fully-qualified emoji of ``emoji-test.txt`` (package ``unicode-data``) is drawn with the font's colour
bitmaps (package ``fonts-noto-color-emoji``), composited on a background colour and resized to the asked size.
The pictures are rendered once per (font, emoji list, size, background) and kept as uint8 in the user cache
(``$XDG_CACHE_HOME/swerve/emoji`` or ``~/.cache/swerve/emoji``), keyed by a hash of all four.

Where the files are looked for: ``$SWERVE_EMOJI_FONT`` / ``$SWERVE_EMOJI_TEST`` when set, else Debian's paths.
Skin-tone and hair variants of one emoji share a *group* (``Dataset.groups``): the held-out test split keeps
whole groups, so no variant of a test emoji is trained on.
"""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from swerve.data.base import Dataset, file_stamp, user_cache_dir
from swerve.data.folder import parse_colour
from swerve.errors import DataError
from swerve.utils import atomic_path

DEBIAN_FONT = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
DEBIAN_TEST = Path("/usr/share/unicode/emoji/emoji-test.txt")
INSTALL_HINT = "apt-get install fonts-noto-color-emoji unicode-data"
MIN_SIZE, MAX_SIZE = 32, 128
DEFAULT_SIZE = 64
RENDER_VERSION = 1  # bump when the drawing below changes, so old cache entries are not reused
TEST_SHARE = 10  # one group in TEST_SHARE (by a hash of its key) is held out for the test split

_FONT_SIZE = 109  # the one size of Noto Color Emoji's bitmap strike (136 x 128 pixel glyphs)
_CANVAS = 136  # glyphs are drawn centred on a square of this side, then resized
# Code points that make a variant of another emoji: skin tones, hair styles, the emoji presentation selector.
_MODIFIERS = {*range(0x1F3FB, 0x1F400), *range(0x1F9B0, 0x1F9B4), 0xFE0F}
_ZWJ = 0x200D


@dataclass(frozen=True)
class EmojiEntry:
    """One fully-qualified line of emoji-test.txt."""

    codepoints: tuple[int, ...]
    group: str
    subgroup: str
    name: str

    @property
    def text(self) -> str:
        return "".join(map(chr, self.codepoints))


def emoji_paths() -> tuple[Path, Path]:
    """The font and emoji-test.txt to use: the environment variables first, then Debian's paths.

    Raises DataError (one line naming the packages) when either is missing.
    """
    font = Path(os.environ.get("SWERVE_EMOJI_FONT") or DEBIAN_FONT)
    test = Path(os.environ.get("SWERVE_EMOJI_TEST") or DEBIAN_TEST)
    missing = [str(p) for p in (font, test) if not p.is_file()]
    if missing:
        raise DataError(
            f"emoji needs the Noto Color Emoji font and emoji-test.txt; not found: {', '.join(missing)}"
            f" ({INSTALL_HINT}, or set SWERVE_EMOJI_FONT / SWERVE_EMOJI_TEST)"
        )
    return font, test


def parse_emoji_test(path: str | os.PathLike) -> list[EmojiEntry]:
    """The fully-qualified emoji of an emoji-test.txt file, in the file's order."""
    entries, group, subgroup = [], "", ""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read emoji list ({exc})") from None
    for number, line in enumerate(lines, 1):
        if line.startswith("# group:"):
            group = line.split(":", 1)[1].strip()
        elif line.startswith("# subgroup:"):
            subgroup = line.split(":", 1)[1].strip()
        elif line and not line.startswith("#"):
            fields, _, comment = line.partition("#")
            codes, _, status = fields.partition(";")
            if status.strip() != "fully-qualified":
                continue
            try:
                codepoints = tuple(int(c, 16) for c in codes.split())
            except ValueError:
                raise DataError(f"{path}:{number}: bad code points {codes.strip()!r}") from None
            # The comment is "<emoji> E<version> <name>".
            name = comment.strip().split(" ", 2)[-1]
            entries.append(EmojiEntry(codepoints, group, subgroup, name))
    if not entries:
        raise DataError(f"{path}: no fully-qualified emoji found (is it Unicode's emoji-test.txt?)")
    return entries


def variant_key(codepoints: tuple[int, ...]) -> str:
    """The emoji's code points without skin tones, hair styles and presentation selectors.

    Variants of one emoji share this key (e.g. waving hand in every skin tone; man and man with red hair).
    """
    parts = []
    for part in _split_zwj(codepoints):
        kept = [c for c in part if c not in _MODIFIERS]
        if kept:
            parts.append(" ".join(f"{c:X}" for c in kept))
    return " 200D ".join(parts)


def _split_zwj(codepoints: tuple[int, ...]) -> list[list[int]]:
    parts: list[list[int]] = [[]]
    for c in codepoints:
        if c == _ZWJ:
            parts.append([])
        else:
            parts[-1].append(c)
    return parts


def is_test_group(key: str) -> bool:
    """Whether the variant group ``key`` belongs to the held-out test split (a fixed hash, not a seed)."""
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:4], "big") % TEST_SHARE == 0


def load_emoji(
    split: str = "train",
    image_size: int | None = None,
    background: str | tuple[int, int, int] = "white",
    progress: bool = True,
) -> Dataset:
    """Emoji as N x 3 x S x S uint8 (``Dataset.x`` reads them as float in [-1, 1]), labelled by the 9 groups
    of emoji-test.txt.

    ``split``: ``train`` (about 90%), ``test`` (the rest) or ``all``; variants never straddle the two.
    ``image_size``: 32 to 128 (default 64). ``background``: a colour name or ``#rrggbb`` (default white).
    The dataset's ``groups`` holds each picture's variant group (an index into ``meta["group_keys"]``), and
    ``meta`` the per-picture ``subgroup``, ``name`` and ``codepoints``.
    """
    if split not in ("train", "test", "all"):
        raise DataError(f"unknown split {split!r} for emoji; use 'train', 'test' or 'all'")
    size = DEFAULT_SIZE if image_size is None else image_size
    if not isinstance(size, int) or isinstance(size, bool) or not MIN_SIZE <= size <= MAX_SIZE:
        raise DataError(f"emoji image_size must be an integer from {MIN_SIZE} to {MAX_SIZE}, got {size!r}")
    rgb = parse_colour(background)
    font, test = emoji_paths()
    entries = parse_emoji_test(test)
    images = rendered_emoji(font, test, size, rgb, progress)

    classes = list(dict.fromkeys(e.group for e in entries))
    keys = [variant_key(e.codepoints) for e in entries]
    group_keys = list(dict.fromkeys(keys))
    group_index = {k: i for i, k in enumerate(group_keys)}
    keep = [i for i, k in enumerate(keys) if split == "all" or is_test_group(k) == (split == "test")]
    x = torch.from_numpy(np.ascontiguousarray(images[keep].transpose(0, 3, 1, 2)))
    labels = torch.tensor([classes.index(entries[i].group) for i in keep], dtype=torch.long)
    groups = torch.tensor([group_index[keys[i]] for i in keep], dtype=torch.long)
    meta = {
        "subgroup": [entries[i].subgroup for i in keep],
        "name": [entries[i].name for i in keep],
        "codepoints": [" ".join(f"{c:X}" for c in entries[i].codepoints) for i in keep],
        "group_keys": group_keys,
    }
    name = f"emoji/{split}" if rgb == (255, 255, 255) else f"emoji/{split}@#{bytes(rgb).hex()}"
    return Dataset(x, labels, classes, name, groups=groups, meta=meta)


def rendered_emoji(
    font: Path, test: Path, size: int, background: tuple[int, int, int], progress: bool = True
) -> np.ndarray:
    """Every fully-qualified emoji as N x S x S x 3 uint8, from the user cache when rendered before."""
    key = _cache_key(font, test, size, background)
    path = user_cache_dir("emoji") / f"emoji-{size}-{key}.npy"
    if path.is_file():
        try:
            images = np.load(path, mmap_mode="r", allow_pickle=False)
            if images.dtype == np.uint8 and images.shape[1:] == (size, size, 3):
                return images
        except (OSError, ValueError):
            pass  # a damaged cache entry is rendered again and replaced
    images = render_emoji(font, parse_emoji_test(test), size, background, progress)
    with atomic_path(path, suffix=".npy") as tmp, open(tmp, "wb") as f:
        np.save(f, images, allow_pickle=False)
    return images


def render_emoji(
    font_path: Path,
    entries: list[EmojiEntry],
    size: int,
    background: tuple[int, int, int],
    progress: bool = True,
) -> np.ndarray:
    """Draw each emoji with the colour font on ``background``, resized to ``size``: N x S x S x 3 uint8."""
    from tqdm import tqdm

    try:
        font = ImageFont.truetype(str(font_path), _FONT_SIZE)
    except OSError as exc:
        raise DataError(f"{font_path}: cannot load the emoji font ({exc}); {INSTALL_HINT}") from None
    out = np.empty((len(entries), size, size, 3), dtype=np.uint8)
    for i, entry in enumerate(tqdm(entries, desc=f"rendering emoji at {size} px", disable=not progress)):
        glyph = Image.new("RGBA", (_CANVAS, _CANVAS), (0, 0, 0, 0))
        left, top, right, bottom = font.getbbox(entry.text)
        origin = ((_CANVAS - (right - left)) // 2 - left, (_CANVAS - (bottom - top)) // 2 - top)
        ImageDraw.Draw(glyph).text(origin, entry.text, font=font, embedded_color=True)
        picture = Image.new("RGBA", glyph.size, (*background, 255))
        picture.alpha_composite(glyph)
        picture = picture.convert("RGB").resize((size, size), Image.Resampling.LANCZOS)
        out[i] = np.asarray(picture)
    return out


def _cache_key(font: Path, test: Path, size: int, background: tuple[int, int, int]) -> str:
    parts = [_file_hash(str(font), *file_stamp(font)), _file_hash(str(test), *file_stamp(test))]
    parts += [str(size), bytes(background).hex(), f"v{RENDER_VERSION}"]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=8)
def _file_hash(path: str, mtime_ns: int, size: int) -> str:
    """SHA-256 of a file's bytes, kept per process while its modification time and size stay the same."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

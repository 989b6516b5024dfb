"""Skip markers for tests that need data a fresh machine may not have: each names what is missing and how to
get it. They ask swerve's own locators, so hiding a data set from swerve ($SWERVE_SYSTEM_DATA pointed at an
empty folder) skips exactly the tests that need it."""

from __future__ import annotations

import pytest

from swerve.data.idx import find_idx

needs_fashion = pytest.mark.skipif(
    find_idx("fashion-mnist", "train") is None or find_idx("fashion-mnist", "test") is None,
    reason="Fashion-MNIST is not installed: apt-get install dataset-fashion-mnist (or SWERVE_FASHION_MNIST)",
)


def _text_installed(env: str, path: str, folder: bool) -> bool:
    import os
    from pathlib import Path

    where = Path(os.environ.get(env) or path)
    return where.is_dir() if folder else where.is_file()


needs_words = pytest.mark.skipif(
    not _text_installed("SWERVE_WORDS", "/usr/share/dict/american-english", folder=False),
    reason="the word list is not installed: apt-get install wamerican (or SWERVE_WORDS)",
)
needs_fortunes = pytest.mark.skipif(
    not _text_installed("SWERVE_FORTUNES", "/usr/share/games/fortunes", folder=True),
    reason="fortunes are not installed: apt-get install fortunes-min fortunes (or SWERVE_FORTUNES)",
)


def _emoji_found() -> bool:
    from swerve.data.emoji import DEBIAN_FONT, DEBIAN_TEST, emoji_paths
    from swerve.errors import DataError

    try:
        emoji_paths()
    except DataError:
        return False
    # Some tests clear SWERVE_EMOJI_FONT / _TEST to use Debian's files: those must be there too.
    return DEBIAN_FONT.is_file() and DEBIAN_TEST.is_file()


needs_emoji = pytest.mark.skipif(
    not _emoji_found(),
    reason="the emoji font is not installed: apt-get install fonts-noto-color-emoji unicode-data",
)

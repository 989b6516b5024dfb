"""Text as fixed-length character strings: plain-text files and folders, Debian's fortunes and word list.

A text :class:`Dataset` holds ``x`` as an N x L long tensor of character indices into ``vocab`` (index 0 is
the unknown symbol, 1 the padding space), so a corpus of 100,000 strings stays a few megabytes; models read
it one-hot (N x V x L floats, :func:`one_hot`), the form of Gulrajani et al. 2017's character-level WGAN-GP.

Built-in corpora, located like the image data sets (environment variable, then Debian's path):
``fortunes`` (sentences of the ``fortunes`` and ``fortunes-min`` packages; ``$SWERVE_FORTUNES``, a folder)
and ``words`` (the ``wamerican`` word list, one word a line; ``$SWERVE_WORDS``, a file).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F

from swerve.data.base import Dataset
from swerve.errors import DataError
from swerve.utils import make_generator

UNKNOWN = "\ufffd"  # the symbol for characters outside the vocabulary
PAD = " "
TEXT_LENGTH = 32  # characters per string (the length of Gulrajani et al.'s language model)
WORD_LENGTH = 12  # characters per word; longer words are left out
HELD_OUT = 0.1  # share of strings kept for the test split
FORTUNES_DIR = "/usr/share/games/fortunes"
WORDS_FILE = "/usr/share/dict/american-english"
_SKIP_FORTUNES = {"ascii-art"}  # pictures, not sentences
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def build_vocab(strings: Iterable[str], min_count: int = 1) -> list[str]:
    """The unknown symbol, the space, then every character seen at least ``min_count`` times, sorted."""
    counts = Counter(c for s in strings for c in s)
    kept = sorted(c for c, k in counts.items() if k >= min_count and c not in (UNKNOWN, PAD))
    return [UNKNOWN, PAD, *kept]


def encode(strings: Sequence[str], vocab: Sequence[str], length: int) -> torch.Tensor:
    """N x ``length`` indices: each string cut or padded with spaces; unknown characters map to 0."""
    index = {c: i for i, c in enumerate(vocab)}
    rows = [[index.get(c, 0) for c in s[:length].ljust(length, PAD)] for s in strings]
    return torch.tensor(rows, dtype=torch.long).reshape(len(rows), length)


def decode(x: torch.Tensor, vocab: Sequence[str], strip: bool = True) -> list[str]:
    """Strings from N x L indices, or from N x V x L scores or one-hot rows (argmax over V)."""
    if x.dim() == 3:
        x = x.argmax(dim=1)
    out = ["".join(vocab[i] for i in row) for row in x.tolist()]
    return [s.rstrip(PAD) for s in out] if strip else out


def one_hot(x: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """N x V x L float one-hot rows from N x L indices (the layout 1-D convolutions read)."""
    return F.one_hot(x, vocab_size).permute(0, 2, 1).float()


def text_dataset(
    strings: Sequence[str],
    name: str,
    split: str = "train",
    length: int = TEXT_LENGTH,
    seed: int = 0,
    held_out: float = HELD_OUT,
    min_count: int = 1,
) -> Dataset:
    """A text dataset of ``strings`` (each cut or padded to ``length``), split by a seeded shuffle.

    The vocabulary comes from all strings, so the train and test splits of one corpus share it.
    """
    if not strings:
        raise DataError(f"{name} holds no text")
    if not 0 < held_out < 1:
        raise DataError(f"held_out must lie in (0, 1), got {held_out!r}")
    vocab = build_vocab(strings, min_count)
    order = torch.randperm(len(strings), generator=make_generator(seed)).tolist()
    cut = max(1, int(round(len(strings) * held_out)))
    chosen = order[:cut] if split == "test" else order[cut:]
    x = encode([strings[i] for i in chosen], vocab, length)
    return Dataset(x, None, [], f"{name}/{split}", vocab=vocab)


def windows(text: str, length: int = TEXT_LENGTH) -> list[str]:
    """``text`` with its whitespace collapsed, in consecutive ``length``-character pieces (the last dropped
    when shorter)."""
    flat = " ".join(text.split())
    return [flat[i : i + length] for i in range(0, len(flat) - length + 1, length)]


def load_text(
    path: str | os.PathLike,
    split: str = "train",
    length: int = TEXT_LENGTH,
    lower: bool = False,
    seed: int = 0,
) -> Dataset:
    """A plain-text file, or every ``*.txt`` file under a folder, as ``length``-character windows."""
    root = Path(path)
    if root.is_dir():
        files = sorted(p for p in root.rglob("*.txt") if p.is_file())
        if not files:
            raise DataError(f"{root} holds no .txt files")
    elif root.is_file():
        files = [root]
    else:
        raise DataError(f"text corpus {root} does not exist")
    pieces = []
    for file in files:
        text = _read(file)
        pieces += windows(text.lower() if lower else text, length)
    if len(pieces) < 2:
        raise DataError(f"{root} holds fewer than two {length}-character windows of text")
    return text_dataset(pieces, f"text:{root}", split, length, seed)


def fortune_sentences(folder: str | os.PathLike) -> list[str]:
    """The sentences of every fortune file in ``folder``: fortunes split at their ``%`` lines, whitespace
    collapsed, then split after ``.``, ``!`` or ``?``; attributions (lines starting ``--``) left out."""
    root = Path(folder)
    files = sorted(p for p in root.iterdir() if p.is_file() and p.suffix not in (".dat", ".u8"))
    files = [p for p in files if p.name not in _SKIP_FORTUNES]
    sentences: list[str] = []
    for file in files:
        for fortune in re.split(r"^%\s*$", _read(file), flags=re.M):
            lines = [ln for ln in fortune.splitlines() if not ln.strip().startswith("--")]
            flat = " ".join(" ".join(lines).split())
            sentences += [s for s in _SENTENCE_END.split(flat) if len(s) >= 8]
    return sentences


def load_fortunes(split: str = "train", length: int = TEXT_LENGTH, seed: int = 0) -> Dataset:
    """Lower-cased sentences from the ``fortunes`` packages, each cut or padded to ``length`` characters."""
    folder = Path(os.environ.get("SWERVE_FORTUNES") or FORTUNES_DIR)
    if not folder.is_dir() or not any(folder.iterdir()):
        raise DataError(
            f"fortunes not found at {folder}: install the Debian packages fortunes-min and fortunes "
            "(or set SWERVE_FORTUNES to a folder of fortune files)"
        )
    sentences = ["".join(c for c in s.lower() if c.isprintable()) for s in fortune_sentences(folder)]
    return text_dataset(sentences, "fortunes", split, length, seed, min_count=50)


def dictionary_words(path: str | os.PathLike, length: int = WORD_LENGTH) -> list[str]:
    """The distinct lower-cased words of a word list (one a line) made of letters a-z only, at most
    ``length`` long; possessives (``'s``) and words with other characters left out."""
    seen = dict.fromkeys(
        w
        for w in (line.strip().lower() for line in _read(Path(path)).splitlines())
        if w and len(w) <= length and re.fullmatch(r"[a-z]+", w)
    )
    return list(seen)


def words_file() -> Path:
    """The word list: ``$SWERVE_WORDS`` or wamerican's; a DataError naming the package when absent."""
    path = Path(os.environ.get("SWERVE_WORDS") or WORDS_FILE)
    if not path.is_file():
        raise DataError(
            f"word list not found at {path}: install the Debian package wamerican "
            "(or set SWERVE_WORDS to a file of words, one a line)"
        )
    return path


def load_words(split: str = "train", length: int = WORD_LENGTH, seed: int = 0) -> Dataset:
    """Dictionary words (wamerican), lower-case a-z, padded with spaces to ``length`` characters."""
    return text_dataset(dictionary_words(words_file(), length), "words", split, length, seed)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc}") from None


def bundle_vocab(bundle: object) -> list[str] | None:
    """The character vocabulary a text bundle's samples decode through (``extra["vocab"]``), or None for a
    bundle of another kind; a BundleError when it does not fit the generator's output."""
    from swerve.errors import BundleError

    vocab = getattr(bundle, "extra", {}).get("vocab")
    if vocab is None:
        return None
    shape = bundle.data.shape
    if not isinstance(vocab, list) or not all(isinstance(c, str) and len(c) == 1 for c in vocab):
        raise BundleError(f"{bundle.name}: extra.vocab must be a list of single characters")
    if len(shape) != 2 or shape[0] != len(vocab):
        raise BundleError(
            f"{bundle.name}: a vocabulary of {len(vocab)} characters, but samples of shape {shape}"
        )
    return vocab

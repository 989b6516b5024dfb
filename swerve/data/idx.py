"""Fashion-MNIST and MNIST from IDX files: found on disk, or downloaded once into the user cache.

Where the files are looked for, in order (MNIST's names in brackets): the ``root`` argument;
``$SWERVE_FASHION_MNIST`` (``$SWERVE_MNIST``); ``$SWERVE_DATA/fashion-mnist`` (``mnist``);
Debian's ``/usr/share/datasets/fashion-mnist`` (``mnist``; ``$SWERVE_SYSTEM_DATA`` replaces
``/usr/share/datasets``, so a test run can hide the system's data sets); the cache
``~/.cache/swerve/fashion-mnist`` (``mnist``; ``$XDG_CACHE_HOME`` is honoured). The first folder holding both
files of the split wins.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import math
import os
import shutil
import struct
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from swerve.data.base import Dataset
from swerve.data.base import file_stamp as _stamp
from swerve.data.base import user_cache_dir as _cache_dir
from swerve.errors import DataError, DatasetNotFound
from swerve.utils import atomic_path

# IDX type codes (third byte of the magic number) and the big-endian numpy types they stand for.
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

SPLITS = ("train", "test")
FASHION_MNIST_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip
MNIST_CLASSES = [str(d) for d in range(10)]

PathLike = str | os.PathLike

# Debian's dataset packages install here; a module constant so tests can point it elsewhere, and
# $SWERVE_SYSTEM_DATA replaces it (pointed at an empty folder, it hides the system's data sets from swerve).
DEBIAN_DIR = Path("/usr/share/datasets")


def system_data_dir() -> Path:
    """Where Debian's dataset packages are looked for: ``$SWERVE_SYSTEM_DATA`` or /usr/share/datasets."""
    return Path(os.environ.get("SWERVE_SYSTEM_DATA") or DEBIAN_DIR)


@dataclass(frozen=True)
class _Source:
    """One IDX dataset: its names, where to find it, and where to download it from."""

    name: str  # folder name under $SWERVE_DATA, /usr/share/datasets and the cache
    title: str
    env_var: str
    classes: list[str]
    base_url: str
    md5: dict[str, str]  # .gz file name -> MD5 of its bytes
    hint: str  # extra advice for the "not found" message


SOURCES = {
    "fashion-mnist": _Source(
        name="fashion-mnist",
        title="Fashion-MNIST",
        env_var="SWERVE_FASHION_MNIST",
        classes=FASHION_MNIST_CLASSES,
        base_url="http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        md5={
            "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
        },
        hint="install Debian's dataset-fashion-mnist, ",
    ),
    "mnist": _Source(
        name="mnist",
        title="MNIST",
        env_var="SWERVE_MNIST",
        classes=MNIST_CLASSES,
        base_url="https://ossci-datasets.s3.amazonaws.com/mnist/",
        md5={
            "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
        },
        hint="",
    ),
}


def read_idx(path: PathLike) -> np.ndarray:
    """Read one IDX file (gzipped or plain) into a numpy array, checking its header against its length."""
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise DataError(f"{path}: only {len(raw)} bytes, too short to be an IDX file")
    if raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{path}: not an IDX file (magic number starts {raw[:2].hex()}, expected 0000)")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES:
        raise DataError(f"{path}: unknown IDX data type code 0x{code:02x}")
    if ndim == 0:
        raise DataError(f"{path}: IDX header declares zero dimensions")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX header ({len(raw)} bytes, {ndim} dimensions need {header})")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = _IDX_DTYPES[code]
    expected = math.prod(dims) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataError(
            f"{path}: payload is {len(raw) - header} bytes but the header's shape {list(dims)} needs"
            f" {expected} (truncated or corrupt file)"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when it starts with the gzip magic number."""
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise DataError(f"{path}: corrupt or truncated gzip data ({exc})") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return raw


def load_fashion_mnist(split: str = "train", root: PathLike | None = None, download: bool = False) -> Dataset:
    """Fashion-MNIST as N x 1 x 28 x 28 float32 in [-1, 1] with labels 0..9 (60,000 train, 10,000 test)."""
    return _load(SOURCES["fashion-mnist"], split, root, download)


def load_mnist(split: str = "train", root: PathLike | None = None, download: bool = False) -> Dataset:
    """MNIST digits as N x 1 x 28 x 28 float32 in [-1, 1] with labels 0..9 (60,000 train, 10,000 test)."""
    return _load(SOURCES["mnist"], split, root, download)


def _load(source: _Source, split: str, root: PathLike | None, download: bool) -> Dataset:
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r} for {source.title}; use 'train' or 'test'")
    names = _file_names(split)
    folder = _find_folder(source, names, root)
    if folder is None:
        if not download:
            looked = ", ".join(str(d) for d in _candidate_dirs(source, root))
            raise DatasetNotFound(
                f"{source.title} {split} files not found (looked in {looked}); {source.hint}"
                f"set {source.env_var} to a folder holding them, or pass download=True (--download)"
            )
        folder = _cache_dir(source.name)
        for name in names:
            download_file(source.base_url + name + ".gz", folder / (name + ".gz"), source.md5[name + ".gz"])
    images_path, labels_path = (_existing(folder, name) for name in names)
    stamp = _stamp(images_path) + _stamp(labels_path)
    images, labels = _read_split(str(images_path), str(labels_path), stamp)
    x = torch.from_numpy(images.astype(np.float32)).div_(127.5).sub_(1.0).unsqueeze(1)
    y = torch.from_numpy(labels.astype(np.int64))
    return Dataset(x, y, list(source.classes), f"{source.name}/{split}")


@functools.lru_cache(maxsize=8)
def _read_split(images_path: str, labels_path: str, stamp: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Decoded images (N x 28 x 28 uint8) and labels (N), kept per process.

    ``stamp`` (modification times and sizes) is part of the cache key, so a replaced file is read again.
    """
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        got = f"{images.dtype} {list(images.shape)}"
        raise DataError(f"{images_path}: expected uint8 images of 28 x 28, got {got}")
    if labels.dtype != np.uint8 or labels.ndim != 1:
        got = f"{labels.dtype} {list(labels.shape)}"
        raise DataError(f"{labels_path}: expected one uint8 label per image, got {got}")
    if len(labels) != len(images):
        raise DataError(f"{labels_path}: {len(labels)} labels for {len(images)} images in {images_path}")
    if len(labels) and labels.max() > 9:
        raise DataError(f"{labels_path}: label {labels.max()} is outside 0..9")
    return images, labels


def _file_names(split: str) -> list[str]:
    prefix = "train" if split == "train" else "t10k"
    return [f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"]


def _existing(folder: Path, name: str) -> Path | None:
    """``folder/name.gz`` or ``folder/name``, whichever exists (gzipped first)."""
    for candidate in (folder / (name + ".gz"), folder / name):
        if candidate.is_file():
            return candidate
    return None


def _candidate_dirs(source: _Source, root: PathLike | None) -> list[Path]:
    dirs = []
    if root is not None:
        dirs.append(Path(root))
    if os.environ.get(source.env_var):
        dirs.append(Path(os.environ[source.env_var]))
    if os.environ.get("SWERVE_DATA"):
        dirs.append(Path(os.environ["SWERVE_DATA"]) / source.name)
    dirs.append(system_data_dir() / source.name)
    dirs.append(_cache_dir(source.name))
    return dirs


def find_idx(name: str, split: str = "train", root: PathLike | None = None) -> Path | None:
    """The folder that ``load_dataset(name)`` would read ``split`` from (``fashion-mnist`` or ``mnist``), or
    None when the files are nowhere swerve looks."""
    if name not in SOURCES:
        raise DataError(f"unknown IDX data set {name!r}; use one of {', '.join(SOURCES)}")
    return _find_folder(SOURCES[name], _file_names(split), root)


def _find_folder(source: _Source, names: list[str], root: PathLike | None) -> Path | None:
    """The first candidate folder that holds both files of the split."""
    for folder in _candidate_dirs(source, root):
        if all(_existing(folder, name) for name in names):
            return folder
    return None


def download_file(url: str, dest: PathLike, md5: str) -> Path:
    """Download ``url`` to ``dest`` unless a file with the right MD5 is already there.

    The bytes go to a temporary name first and are renamed only once their MD5 matches,
    so a failed or tampered download never leaves a file behind.
    """
    dest = Path(dest)
    if dest.is_file() and _md5(dest) == md5:
        return dest
    with atomic_path(dest) as tmp:
        try:
            _fetch(url, tmp)
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise DataError(f"could not download {url}: {reason}") from None
        got = _md5(tmp)
        if got != md5:
            raise DataError(f"download of {url} is corrupt: MD5 {got}, expected {md5}")
    return dest


def _fetch(url: str, dest: Path) -> None:
    """Stream ``url`` into the file ``dest`` (tests replace this function; there is no network there)."""
    with urllib.request.urlopen(url, timeout=60) as response, open(dest, "wb") as out:
        shutil.copyfileobj(response, out)


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

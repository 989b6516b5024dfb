"""Tests for swerve.data: IDX files, downloads, image folders, toys and the load_dataset registry."""

from __future__ import annotations

import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from swerve.data import (
    DATASETS,
    GAUSSIANS25_MODES,
    GAUSSIANS25_STD,
    gaussians25,
    idx,
    load_dataset,
    load_digits,
    load_fashion_mnist,
    load_image_folder,
    load_mnist,
    read_idx,
    ring,
    ring_modes,
    swiss_roll,
    swiss_roll_curve,
)
from swerve.errors import DataError
from tests.marks import needs_fashion


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path, monkeypatch):
    """No test sees the user's dataset variables or writes into the real cache."""
    for var in ("SWERVE_FASHION_MNIST", "SWERVE_MNIST", "SWERVE_DATA"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode an array as IDX by hand (independently of the reader under test)."""
    codes = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C, np.dtype(">f4"): 0x0D}
    header = bytes([0, 0, codes[array.dtype], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def write_split(folder: Path, split: str, n: int, gz: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Write a tiny MNIST-style split (n images of 28 x 28, labels cycling 0..9) into ``folder``."""
    rng = np.random.default_rng(n)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    prefix = "train" if split == "train" else "t10k"
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in ((f"{prefix}-images-idx3-ubyte", images), (f"{prefix}-labels-idx1-ubyte", labels)):
        data = idx_bytes(array)
        if gz:
            (folder / (name + ".gz")).write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)
    return images, labels


# --- IDX files ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("dtype", [np.uint8, ">i4", ">f4"])
def test_read_idx_round_trip(tmp_path, gz, dtype):
    offset = 0 if dtype == np.uint8 else -7  # signed types get negative values too
    array = (np.arange(30).reshape(2, 3, 5) + offset).astype(dtype)
    data = idx_bytes(array)
    path = tmp_path / ("a.idx.gz" if gz else "a.idx")
    path.write_bytes(gzip.compress(data) if gz else data)
    out = read_idx(path)
    assert out.shape == (2, 3, 5)
    assert np.array_equal(out, array)


def test_truncated_idx_names_the_file(tmp_path):
    path = tmp_path / "cut-images-idx3-ubyte"
    path.write_bytes(idx_bytes(np.zeros((4, 28, 28), np.uint8))[:-100])
    with pytest.raises(DataError, match="cut-images-idx3-ubyte.*payload"):
        read_idx(path)


def test_truncated_gzip_names_the_file(tmp_path):
    path = tmp_path / "cut.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((4, 28, 28), np.uint8)))[:-20])
    with pytest.raises(DataError, match="cut.gz"):
        read_idx(path)


def test_foreign_file_is_refused(tmp_path):
    path = tmp_path / "photo.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40))
    with pytest.raises(DataError, match="photo.png.*magic"):
        read_idx(path)
    path.write_bytes(bytes([0, 0, 0x42, 1, 0, 0, 0, 1, 7]))
    with pytest.raises(DataError, match="type code 0x42"):
        read_idx(path)


def test_wrong_shape_for_images_is_refused(tmp_path):
    write_split(tmp_path, "train", 5)
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(
        gzip.compress(idx_bytes(np.zeros((5, 32, 32), np.uint8)))
    )
    with pytest.raises(DataError, match="28 x 28"):
        load_fashion_mnist(root=tmp_path)


# --- finding and downloading Fashion-MNIST / MNIST ------------------------------------------------------


def test_root_argument_and_plain_files(tmp_path):
    images, labels = write_split(tmp_path / "fm", "test", 12, gz=False)
    data = load_fashion_mnist("test", root=tmp_path / "fm")
    assert data.x.shape == (12, 1, 28, 28) and data.x.dtype == torch.float32
    assert torch.equal(data.labels, torch.from_numpy(labels.astype(np.int64)))
    # 0 -> -1 and 255 -> 1, linearly
    expected = torch.from_numpy(images.astype(np.float32)) / 127.5 - 1
    assert torch.allclose(data.x[:, 0], expected)
    assert data.classes[0] == "T-shirt/top" and data.classes[9] == "Ankle boot"


def test_env_var_override(tmp_path, monkeypatch):
    write_split(tmp_path / "tiny", "train", 20)
    monkeypatch.setenv("SWERVE_FASHION_MNIST", str(tmp_path / "tiny"))
    assert len(load_fashion_mnist("train")) == 20  # not Debian's 60,000
    write_split(tmp_path / "other", "train", 7)
    assert len(load_fashion_mnist("train", root=tmp_path / "other")) == 7  # root comes first


def test_swerve_data_folder(tmp_path, monkeypatch):
    write_split(tmp_path / "data" / "mnist", "train", 9)
    monkeypatch.setenv("SWERVE_DATA", str(tmp_path / "data"))
    data = load_mnist()
    assert len(data) == 9 and data.classes == [str(d) for d in range(10)]


def test_replaced_files_are_read_again(tmp_path):
    write_split(tmp_path, "train", 10)
    assert len(load_mnist(root=tmp_path)) == 10
    write_split(tmp_path, "train", 11)
    assert len(load_mnist(root=tmp_path)) == 11


def test_not_found_says_how_to_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(idx, "DEBIAN_DIR", tmp_path / "nothing")
    with pytest.raises(DataError, match="dataset-fashion-mnist.*SWERVE_FASHION_MNIST.*download=True") as info:
        load_fashion_mnist()
    assert "\n" not in str(info.value)
    with pytest.raises(DataError, match="split"):
        load_fashion_mnist("validation")


def _fake_fetch(payloads: dict[str, bytes], calls: list[str]):
    def fetch(url: str, dest: Path) -> None:
        calls.append(url)
        dest.write_bytes(payloads[url.rsplit("/", 1)[1]])

    return fetch


def test_download_file_checks_md5(tmp_path, monkeypatch):
    payload = b"some bytes that stand in for a dataset"
    calls: list[str] = []
    monkeypatch.setattr(idx, "_fetch", _fake_fetch({"f.gz": payload}, calls))
    dest = tmp_path / "dl" / "f.gz"

    with pytest.raises(DataError, match="MD5"):
        idx.download_file("http://example.invalid/f.gz", dest, "0" * 32)
    assert list((tmp_path / "dl").iterdir()) == []  # neither the file nor a temporary one

    good = hashlib.md5(payload).hexdigest()
    assert idx.download_file("http://example.invalid/f.gz", dest, good) == dest
    assert dest.read_bytes() == payload
    assert [p.name for p in (tmp_path / "dl").iterdir()] == ["f.gz"]
    idx.download_file("http://example.invalid/f.gz", dest, good)
    assert len(calls) == 2  # the second call found the verified file and fetched nothing


def test_download_failure_is_a_data_error(tmp_path, monkeypatch):
    def offline(url, dest):
        dest.write_bytes(b"half")
        raise OSError("network is unreachable")

    monkeypatch.setattr(idx, "_fetch", offline)
    with pytest.raises(DataError, match="could not download"):
        idx.download_file("http://example.invalid/f.gz", tmp_path / "f.gz", "0" * 32)
    assert list(tmp_path.iterdir()) == []


def test_load_with_download_fills_the_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(idx, "DEBIAN_DIR", tmp_path / "nothing")
    write_split(tmp_path / "served", "train", 15)
    payloads = {p.name: p.read_bytes() for p in (tmp_path / "served").iterdir()}
    for name, data in payloads.items():
        monkeypatch.setitem(idx.SOURCES["mnist"].md5, name, hashlib.md5(data).hexdigest())
    calls: list[str] = []
    monkeypatch.setattr(idx, "_fetch", _fake_fetch(payloads, calls))

    data = load_mnist("train", download=True)
    assert len(data) == 15
    assert all(url.startswith("https://ossci-datasets.s3.amazonaws.com/mnist/") for url in calls)
    cache = tmp_path / "cache" / "swerve" / "mnist"
    assert sorted(p.name for p in cache.iterdir()) == sorted(payloads)
    assert len(load_mnist("train")) == 15  # found in the cache now, no download asked for


@needs_fashion
def test_real_fashion_mnist():
    train = load_fashion_mnist("train")
    assert train.x.shape == (60000, 1, 28, 28) and train.x.dtype == torch.float32
    assert train.x.min() == -1 and train.x.max() == 1
    assert len(train.classes) == 10
    assert train.labels.bincount().tolist() == [6000] * 10
    test = load_fashion_mnist("test")
    assert test.x.shape == (10000, 1, 28, 28)


# --- digits and image folders -------------------------------------------------------------------------


def test_digits():
    data = load_digits()
    assert data.x.shape == (1797, 1, 8, 8)
    assert data.x.min() == -1 and data.x.max() == 1
    assert data.classes == [str(d) for d in range(10)] and set(data.labels.tolist()) == set(range(10))


def _image(path: Path, colour, size=(12, 12)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)


@pytest.fixture
def image_tree(tmp_path) -> Path:
    """cats/ (two white images), dogs/ (one black image and a corrupt bad.png)."""
    root = tmp_path / "pets"
    _image(root / "cats" / "a.png", (255, 255, 255))
    _image(root / "cats" / "deeper" / "b.jpg", (255, 255, 255), size=(20, 16))
    _image(root / "dogs" / "c.bmp", (0, 0, 0))
    (root / "dogs" / "bad.png").write_bytes(b"this is not a png at all")
    (root / "dogs" / "notes.txt").write_text("ignored: not an image suffix")
    return root


def test_folder_classes_and_skipped_file(image_tree):
    with pytest.warns(UserWarning, match="bad.png"):
        data = load_image_folder(image_tree, image_size=16, channels=3, progress=False)
    assert data.classes == ["cats", "dogs"]
    assert data.labels.tolist() == [0, 0, 1]
    assert data.x.shape == (3, 3, 16, 16)
    assert torch.allclose(data.x[:2], torch.ones(2, 3, 16, 16), atol=0.02)
    assert torch.allclose(data.x[2], -torch.ones(3, 16, 16), atol=0.02)
    assert [Path(p).name for p in data.skipped] == ["bad.png"]


def test_folder_corrupt_file_raises_when_asked(image_tree):
    with pytest.raises(DataError, match="bad.png"):
        load_image_folder(image_tree, image_size=16, on_error="raise", progress=False)


def test_folder_without_subfolders_is_unlabelled_and_centre_cropped(tmp_path):
    # 30 x 10: black, white, black thirds; the centre square is the white middle.
    strip = np.zeros((10, 30), np.uint8)
    strip[:, 10:20] = 255
    Image.fromarray(strip).save(tmp_path / "strip.png")
    data = load_image_folder(tmp_path, image_size=8, progress=False)
    assert data.labels is None and data.classes == []
    assert data.x.shape == (1, 1, 8, 8)
    assert data.x.min() > 0.9


def test_folder_missing_or_empty(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_image_folder(tmp_path / "nope", image_size=8)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images"):
        load_image_folder(tmp_path / "empty", image_size=8)


# --- 2-D toys -----------------------------------------------------------------------------------------


def test_gaussians25():
    data = gaussians25(5000, seed=0)
    assert data.x.shape == (5000, 2) and data.x.dtype == torch.float32
    dist, nearest = torch.cdist(data.x, GAUSSIANS25_MODES).min(dim=1)
    assert (dist < 4 * GAUSSIANS25_STD).float().mean() > 0.995
    assert torch.equal(nearest, data.labels)
    counts = nearest.bincount(minlength=25)
    assert counts.min() > 0.8 * 200 and counts.max() < 1.2 * 200
    assert GAUSSIANS25_MODES.abs().max() == pytest.approx(4 / 2.828)
    assert torch.equal(gaussians25(500, seed=3).x, gaussians25(500, seed=3).x)
    assert not torch.equal(gaussians25(500, seed=3).x, gaussians25(500, seed=4).x)


def test_swiss_roll():
    data = swiss_roll(3000, seed=0)
    assert data.x.shape == (3000, 2) and data.labels is None
    assert 1.5 < data.x.abs().max() < 2.2
    curve = swiss_roll_curve()
    assert curve.shape == (2000, 2) and curve.abs().max() <= 15 / 7.5
    dist = torch.cdist(data.x, curve).min(dim=1).values
    assert dist.median() < 0.08 and dist.quantile(0.99) < 0.2
    assert torch.equal(swiss_roll(100, seed=1).x, swiss_roll(100, seed=1).x)
    assert not torch.equal(swiss_roll(100, seed=1).x, swiss_roll(100, seed=2).x)


def test_ring():
    data = ring(4000, seed=0)
    radius = data.x.norm(dim=1)
    assert (radius - 1).abs().max() < 0.3
    dist, nearest = torch.cdist(data.x, ring_modes()).min(dim=1)
    assert torch.equal(nearest, data.labels)
    assert nearest.bincount(minlength=8).tolist() == [500] * 8
    assert torch.equal(ring(50, seed=5).x, ring(50, seed=5).x)


# --- load_dataset ------------------------------------------------------------------------------------


def test_load_dataset_classes_and_resize():
    data = load_dataset("digits", classes=[0, 1], image_size=28)
    assert data.x.shape[1:] == (1, 28, 28)
    assert set(data.labels.tolist()) == {0, 1}
    assert len(data) == (load_digits().labels <= 1).sum()
    assert data.x.min() >= -1 and data.x.max() <= 1
    assert load_dataset("digits", n=100, channels=3).x.shape == (100, 3, 8, 8)


def test_load_dataset_toys_and_folder(image_tree):
    assert len(load_dataset("gaussians25")) == 100_000
    assert torch.equal(load_dataset("ring", n=64, seed=2).x, ring(64, seed=2).x)
    with pytest.warns(UserWarning):
        data = load_dataset(f"folder:{image_tree}", image_size=8, classes=[1], progress=False)
    assert data.x.shape == (1, 1, 8, 8)


def test_load_dataset_errors():
    with pytest.raises(DataError, match="unknown dataset 'cifar'.*fashion-mnist"):
        load_dataset("cifar")
    with pytest.raises(DataError, match="no class 12"):
        load_dataset("digits", classes=[12])
    with pytest.raises(DataError, match="no labels"):
        load_dataset("swissroll", n=10, classes=[0])
    with pytest.raises(DataError, match="images only"):
        load_dataset("ring", n=10, image_size=28)
    images = {"fashion-mnist", "mnist", "emoji", "digits"}
    assert set(DATASETS) == {*images, "gaussians25", "swissroll", "ring", "fortunes", "words"}

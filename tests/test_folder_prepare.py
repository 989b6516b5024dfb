"""A user's own image folder: uint8 storage, `swerve data info` / `prepare`, and training on it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import swerve
from swerve.data import Dataset, load_dataset, load_image_folder, load_prepared, prepare_folder, to_float
from swerve.errors import ConfigError, DataError
from swerve.train import TrainConfig, Trainer

CLASSES = ("beach", "forest", "city")


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    """300 JPEGs of mixed sizes and modes (6 grey) in three class folders, plus a corrupt JPEG, an RGBA PNG,
    a grey PNG and a byte-identical copy: 304 files, 303 readable."""
    root = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for i in range(300):
        folder = root / CLASSES[i % 3]
        folder.mkdir(exist_ok=True)
        w, h = int(rng.integers(12, 40)), int(rng.integers(12, 40))
        pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        pixels[..., i % 3] = 255  # each class leans to one colour channel
        image = Image.fromarray(pixels)
        (image.convert("L") if i % 50 == 7 else image).save(folder / f"p{i:03d}.jpg", quality=85)
    (root / "beach" / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    rgba = np.zeros((20, 20, 4), np.uint8)
    rgba[5:15, 5:15] = (255, 0, 0, 255)  # an opaque red square on a transparent field
    Image.fromarray(rgba, "RGBA").save(root / "forest" / "sticker.png")
    Image.fromarray(np.full((16, 24), 90, np.uint8)).save(root / "city" / "grey.png")
    (root / "city" / "copy.jpg").write_bytes((root / "city" / "p002.jpg").read_bytes())
    return root


def test_info_says_what_the_folder_holds(cli, photos):
    code, out, err = cli("data", "info", photos, "--json", "--no-progress")
    assert code == 0, err
    found = json.loads(out)
    assert found["images"] == 304 and found["readable"] == 303
    assert found["unreadable"] == ["beach/broken.jpg"]
    assert found["classes"] == {"beach": 101, "city": 102, "forest": 101}
    assert found["modes"]["RGBA"] == 1 and found["modes"]["L"] == 7 and found["modes"]["RGB"] == 295
    assert sum(found["sizes"].values()) == 303 and found["sizes"]["24x16"] == 1  # width x height
    assert found["duplicates"] == [["city/copy.jpg", "city/p002.jpg"]]
    code, out, _ = cli("data", "info", photos, "--no-progress")
    assert code == 0 and "304 images, 303 readable" in out and "broken.jpg" in out and "duplicates: 1" in out


def test_folder_loads_as_uint8_in_colour_with_alpha_on_the_background(photos):
    with pytest.warns(UserWarning, match="broken.jpg"):
        data = load_image_folder(photos, 16, progress=False, background="#0000ff")
    assert data.is_uint8 and data.values.shape == (303, 3, 16, 16)  # colour found, so RGB
    assert data.classes == list(sorted(CLASSES)) and [Path(p).name for p in data.skipped] == ["broken.jpg"]
    sticker = data.values[[i for i in range(len(data)) if data.labels[i] == 2][-1]]  # forest's last: sticker
    assert sticker[:, 0, 0].tolist() == [0, 0, 255] and sticker[:, 8, 8].tolist() == [255, 0, 0]
    assert torch.equal(data.x, to_float(data.values)) and data.x.dtype == torch.float32
    assert torch.equal(data.batch(torch.tensor([3, 1])), data.x[[3, 1]])


def test_random_crops_are_seeded_and_differ_from_centre_crops(tmp_path):
    strip = np.zeros((10, 40), np.uint8)
    strip[:, :20] = 255
    for i in range(8):
        Image.fromarray(strip).save(tmp_path / f"s{i}.png")
    centre = load_image_folder(tmp_path, 8, progress=False)
    random = load_image_folder(tmp_path, 8, progress=False, crop="random", seed=1)
    again = load_image_folder(tmp_path, 8, progress=False, crop="random", seed=1)
    assert centre.values.shape == (8, 1, 8, 8)  # grey pictures stay one channel
    assert len({tuple(v.flatten().tolist()) for v in centre.values}) == 1
    assert len({tuple(v.flatten().tolist()) for v in random.values}) > 1
    assert torch.equal(random.values, again.values)


def test_prepare_writes_a_memory_mapped_uint8_cache(cli, photos, tmp_path):
    out = tmp_path / "cache"
    with pytest.warns(UserWarning, match="broken.jpg"):
        code, text, err = cli("data", "prepare", photos, "--size", "16", "--out", out, "--no-progress")
    assert code == 0, err
    assert "303 images of 3 x 16 x 16" in text and f"prepared:{out}" in text
    data = load_dataset(f"prepared:{out}")
    assert data.is_uint8 and data.values.shape == (303, 3, 16, 16)
    assert isinstance(np.load(out / "images.npy", mmap_mode="r"), np.memmap)
    with pytest.warns(UserWarning):
        direct = load_image_folder(photos, 16, progress=False)
    assert torch.equal(data.values, direct.values) and torch.equal(data.labels, direct.labels)
    via_folder = load_dataset(f"folder:{out}", classes=[0], image_size=8)  # a prepared folder, recognised
    assert (
        via_folder.is_uint8
        and via_folder.values.shape[1:] == (3, 8, 8)
        and set(via_folder.labels.tolist()) == {0}
    )


def test_prepare_never_replaces_a_folder_that_is_not_a_cache(photos, tmp_path):
    keep = tmp_path / "mine"
    keep.mkdir()
    (keep / "notes.txt").write_text("precious")
    with pytest.raises(DataError, match="not a prepared image cache"):
        prepare_folder(photos, keep, 16, progress=False)
    assert (keep / "notes.txt").read_text() == "precious"
    with pytest.raises(DataError, match="not a prepared image cache"):
        load_prepared(keep)


def test_mirror_flips_about_half_of_each_batch_the_same_way_on_every_run(tmp_path):
    x = torch.arange(16.0).view(1, 1, 1, 16).repeat(64, 1, 16, 1) / 16  # ramps rising left to right
    data = Dataset(x, None, [], "ramps")
    cfg = TrainConfig(
        dataset="none", image_size=16, batch_size=32, steps=1, width=4, mirror=True, log_every=0
    )
    first = Trainer(cfg, tmp_path / "a", data=data, progress=False)._batch(3)[0]
    again = Trainer(cfg, tmp_path / "b", data=data, progress=False)._batch(3)[0]
    flipped = (first[:, 0, 0, 0] > first[:, 0, 0, -1]).float().mean()
    assert 0.2 < flipped < 0.8 and torch.equal(first, again)
    assert "mirror" not in TrainConfig().to_dict()  # off: old checkpoints still resume
    points = Dataset(torch.randn(64, 2), None, [], "points")
    with pytest.raises(ConfigError, match="mirror flips images"):
        Trainer(cfg.replace(arch="mlp"), tmp_path / "c", data=points, progress=False)


def test_a_folder_trains_resumes_and_bends(cli, photos, tmp_path):
    common = (
        "--preset", "digits-gan",
        "--set", f"dataset=folder:{photos}", "--set", "image_size=16", "--set", "width=4",
        "--set", "batch_size=16", "--set", "mirror=true", "--set", "checkpoint_every=1",
        "--set", "sample_every=0", "--no-progress", "--out", tmp_path / "run",
    )  # fmt: skip
    with pytest.warns(UserWarning, match="broken.jpg"):
        code, _, err = cli("train", *common, "--steps", "1")
    assert code == 0, err
    with pytest.warns(UserWarning, match="broken.jpg"):
        code, _, err = cli("train", *common, "--steps", "2", "--resume")
    assert code == 0, err
    bundle = swerve.load(tmp_path / "run" / "bundle")
    assert bundle.data.shape == [3, 16, 16] and bundle.data.classes == sorted(CLASSES)
    assert bundle.training["dataset_size"] == 303
    png = tmp_path / "bent.png"
    code, _, err = cli(
        "bend", tmp_path / "run" / "bundle", "--bend", "conv:0 multiply factor=2", "--n", "4", "--out", png
    )
    assert code == 0, err
    assert Image.open(png).mode == "RGB"

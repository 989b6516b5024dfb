"""Projection: a latent found by optimisation (z, w, w+) or a VAE's encoder; bad input is one line."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from swerve.bundle import Bundle, DataSpec, LatentSpec, load
from swerve.diverge.project import best_random, load_picture, noise_regularisation, project
from swerve.errors import ConfigError
from swerve.models.stylegan2 import StyleGAN2Config, StyleGAN2Generator


def _made(bundle: Bundle, seed: int, label: int | None = None) -> torch.Tensor:
    z = bundle.latent.sample(1, torch.Generator().manual_seed(seed))
    return bundle.sample(1, z=z, labels=label).x


def test_a_generated_picture_is_remade_better_than_the_best_of_1000_random_latents() -> None:
    bundle = load("fashion-gan")
    target = _made(bundle, 1234, label=3)
    result = project(bundle, target, steps=60, restarts=2, space="z", label=3, seed=0)
    baseline, _ = best_random(bundle, target, n=1000, seed=7, label=3)
    assert result.pixel_mse < baseline
    assert len(result.curves) == 2 and len(result.curves[0]) == 61
    assert result.curves[result.best][-1] < result.curves[result.best][0]
    again = project(bundle, target, steps=60, restarts=2, space="z", label=3, seed=0)
    assert torch.equal(again.z, result.z)  # seeded


def test_the_vae_encoder_alone_and_refined() -> None:
    bundle = load("fashion-vae")
    target = _made(bundle, 5)
    alone = project(bundle, target, steps=0, restarts=1)
    assert alone.space == "encoder"
    with torch.no_grad():
        mu, _ = bundle.encoder(target)
    assert torch.equal(alone.z, mu)
    refined = project(bundle, target, steps=40, restarts=2)
    assert refined.pixel_mse < alone.pixel_mse


def _tiny_stylegan() -> Bundle:
    torch.manual_seed(0)
    cfg = StyleGAN2Config(
        resolution=8, channels=1, z_dim=8, w_dim=8, channel_base=64, channel_max=8, mapping_layers=2
    )
    gen = StyleGAN2Generator(cfg).eval()
    with torch.no_grad():
        for name, p in gen.named_parameters():
            if name.endswith("noise_strength"):
                p.fill_(0.3)
    return Bundle({"generator": gen}, DataSpec([1, 8, 8], dataset="none"), LatentSpec(8), name="tiny-sg2")


@pytest.mark.parametrize("space", ["w", "w+"])
def test_stylegan_w_projection_and_its_recipe(space: str) -> None:
    from swerve.cli.project import projection_recipe
    from swerve.studio.recipe import Recipe, draw

    bundle = _tiny_stylegan()
    target = _made(bundle, 3)
    result = project(bundle, target, steps=40, restarts=2, space=space, noise=False)
    assert result.ws.shape == (1, bundle.generator.num_ws, 8)
    if space == "w":
        assert torch.equal(result.ws[:, 0], result.ws[:, -1])
    assert "no perceptual loss" in result.notes[0]  # said, not dropped silently
    start = project(bundle, target, steps=0, restarts=1, space=space, noise=False)
    assert result.pixel_mse < start.pixel_mse
    recipe = Recipe.from_dict(projection_recipe("tiny-sg2", bundle, result))
    assert torch.allclose(draw(bundle, recipe), result.x, atol=1e-5)  # the recipe remakes the picture


def test_stylegan_noise_maps_are_optimised_and_stay_normalised() -> None:
    bundle = _tiny_stylegan()
    target = _made(bundle, 4)
    result = project(bundle, target, steps=20, restarts=1, space="w", noise=True)
    assert result.noise and all(abs(float(m.std()) - 1) < 1e-3 for m in result.noise.values())
    own = dict(bundle.generator.synthesis.named_modules())
    name, first = next(iter(result.noise.items()))
    assert not torch.equal(first, own[name].noise_const)  # the bundle's own noise is untouched
    white = noise_regularisation([torch.randn(16, 16)])
    smooth = noise_regularisation([torch.ones(16, 16)])
    assert smooth > 100 * white


def test_any_picture_is_converted_to_the_bundle_shape(tmp_path) -> None:
    bundle = load("fashion-vae")
    path = tmp_path / "big.png"
    rgba = np.zeros((90, 60, 4), dtype=np.uint8)
    rgba[..., 3] = 255
    rgba[:, :30, :3] = 255
    Image.fromarray(rgba, "RGBA").save(path)
    x = load_picture(path, bundle)
    assert x.shape == (1, 1, 28, 28)
    assert x.min() >= -1 and x.max() <= 1
    assert x[0, 0, :, :10].mean() > 0.9 and x[0, 0, :, -10:].mean() < -0.9  # white left, black right


def test_project_refuses_what_cannot_be_projected() -> None:
    bundle = load("fashion-vae")
    with pytest.raises(ConfigError, match="no mapping network"):
        project(bundle, torch.zeros(1, 1, 28, 28), space="w")
    with pytest.raises(ConfigError, match="makes \\[1, 28, 28\\]"):
        project(bundle, torch.zeros(1, 3, 28, 28))
    with pytest.raises(ConfigError, match="unconditional"):
        project(bundle, torch.zeros(1, 1, 28, 28), label=2)


def _one_line(code: int, err: str, *words: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert all(w in lines[0] for w in words), err


def test_cli_writes_latent_recipe_pictures_and_curve(cli, tmp_path) -> None:
    from swerve.studio.recipe import read_recipe, render_recipe

    pic = tmp_path / "pic.jpg"
    Image.fromarray((np.random.default_rng(0).random((40, 50, 3)) * 255).astype(np.uint8)).save(pic)
    out = tmp_path / "proj"
    code, stdout, err = cli(
        "project", "fashion-gan", pic, "--steps", "5", "--restarts", "2", "--out", out, "--json"
    )
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["steps"] == 5 and summary["space"] == "z"
    assert {p.name for p in out.iterdir()} == {
        "latent.npz",
        "recipe.json",
        "projection.json",
        "compare.png",
        "loss.png",
        "swerve-output.json",  # marks the folder as swerve's own projection (--overwrite may replace it)
    }
    with np.load(out / "latent.npz") as arrays:
        z = arrays["z"]
        remade = torch.from_numpy(arrays["x"])
    recipe = read_recipe(out / "recipe.json")
    assert recipe.z == z[0].tolist() and recipe.label == summary["label"]
    assert torch.allclose(render_recipe(recipe), remade, atol=1e-5)
    assert Image.open(out / "compare.png").size[0] > Image.open(out / "compare.png").size[1]
    code, _, err = cli("project", "fashion-gan", pic, "--out", out)
    _one_line(code, err, "already holds", "--overwrite")


def test_cli_bad_input_is_one_line(cli, tmp_path) -> None:
    junk = tmp_path / "junk.png"
    junk.write_text("not a picture")
    pic = tmp_path / "pic.png"
    Image.new("L", (28, 28)).save(pic)
    _one_line(*cli("project", "fashion-gan", junk, "--out", tmp_path / "a")[::2], "not a picture")
    _one_line(*cli("project", "fashion-classifier", pic, "--out", tmp_path / "b")[::2], "no generator")
    _one_line(*cli("project", "gaussians25-wgangp", pic, "--out", tmp_path / "c")[::2], "not pictures")
    _one_line(
        *cli("project", "fashion-gan", tmp_path / "none.png", "--out", tmp_path / "d")[::2], "no picture"
    )
    assert not any((tmp_path / n).exists() for n in "abcd")


def test_a_projected_picture_opens_in_the_studio_and_bends(cli, tmp_path) -> None:
    pytest.importorskip("fastapi", reason="the studio extra is not installed")
    pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx")
    from fastapi.testclient import TestClient

    from swerve.studio.app import TOKEN_HEADER, create_app
    from swerve.studio.engine import Studio
    from swerve.studio.models import Models

    pic = tmp_path / "pic.png"
    Image.fromarray((np.random.default_rng(1).random((28, 28)) * 255).astype(np.uint8)).save(pic)
    code, _, err = cli(
        "project", "fashion-vae", pic, "--steps", "3", "--restarts", "1", "--out", tmp_path / "p"
    )
    assert code == 0, err
    app = create_app(Studio(Models([]), tmp_path / "out"))
    page = TestClient(app, base_url="http://127.0.0.1", headers={TOKEN_HEADER: app.state.token})
    raw = (tmp_path / "p" / "recipe.json").read_bytes()
    opened = page.post("/api/load", content=raw, headers={"content-type": "application/octet-stream"})
    assert opened.status_code == 200, opened.text
    state = opened.json()["state"]
    with np.load(tmp_path / "p" / "latent.npz") as arrays:
        assert np.allclose(state["latent"]["z"], arrays["z"][0])
    plain = page.post("/api/render", json=state)
    bent = page.post(
        "/api/render",
        json={**state, "bends": [{"layer": "conv:0", "transform": "multiply", "params": {"factor": 3.0}}]},
    )
    assert plain.status_code == bent.status_code == 200 and plain.content != bent.content

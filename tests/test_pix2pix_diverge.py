"""Divergence on a pix2pix translator: every bend transform on every U-Net layer, blending two translators,
glitching one, and DGflow with its conditional discriminator (the bottleneck as the flowed latent)."""

from __future__ import annotations

import pytest
import torch

from swerve.bundle import Bundle, DataSpec, load
from swerve.data.pairs import edges
from swerve.diverge.bend import TRANSFORMS, apply_bends
from swerve.diverge.blend import IncompatibleModels, blend_bundles
from swerve.diverge.glitch import glitch
from swerve.errors import BundleError
from swerve.models.pix2pix import PatchDiscriminator, Pix2PixConfig, UNetGenerator
from swerve.refine.translation import dgflow_translation, encode
from swerve.train.config import TrainConfig
from swerve.train.trainer import Trainer
from swerve.translate import make_input, translate
from tests.conftest import blobs
from tests.marks import needs_fashion
from tests.test_pix2pix import SMALL


def translator(seed: int = 0, width: int = 4, dataset: str = "blobs", d: bool = True) -> Bundle:
    torch.manual_seed(seed)
    cfg = Pix2PixConfig(image_size=16, width=width)
    nets = {"generator": UNetGenerator(cfg).eval()}
    if d:
        nets["discriminator"] = PatchDiscriminator(cfg).eval()
    return Bundle(
        nets,
        DataSpec([1, 16, 16], dataset=dataset),
        None,
        extra={"translation": {"transform": "edges", "in_channels": 1}},
        name=f"p2p{seed}",
    )


def inputs(n: int = 4) -> torch.Tensor:
    return edges(torch.rand(n, 1, 16, 16, generator=torch.Generator().manual_seed(1)) * 2 - 1)


def test_every_transform_bends_every_unet_layer() -> None:
    bundle = translator()
    g, source = bundle.generator, inputs()
    plain = translate(bundle, source)
    layers = [f"down{i}" for i in range(4)] + [f"up{i}" for i in range(4)]
    unchanged = []
    for name in TRANSFORMS:
        for layer in layers:
            # oscillate's default (one cycle, phase 0) is 0 at every pixel of a 2 x 2 map: shift its phase
            params = {"phase": 0.125} if name == "oscillate" else {}
            with apply_bends(g, [{"layer": layer, "transform": name, "params": params}]):
                out = translate(bundle, source)
            assert out.shape == plain.shape and torch.isfinite(out).all(), (name, layer)
            if torch.allclose(out, plain, atol=1e-6):
                unchanged.append((name, layer))
    # Spatial transforms cannot move a 1 x 1 bottleneck (down3); everything else changes the picture.
    assert all(layer == "down3" for _, layer in unchanged), unchanged
    assert torch.equal(translate(bundle, source), plain)  # every bend left with its block


def test_two_translators_blend_and_other_shapes_are_refused() -> None:
    a, b, source = translator(0), translator(1), inputs()
    assert torch.equal(translate(blend_bundles(a, b, 0.0), source), translate(a, source))
    assert torch.allclose(translate(blend_bundles(a, b, 1.0), source), translate(b, source), atol=1e-6)
    half = translate(blend_bundles(a, b, 0.5), source)
    assert not torch.allclose(half, translate(a, source)) and not torch.allclose(half, translate(b, source))
    with pytest.raises(IncompatibleModels):
        blend_bundles(a, translator(2, width=8))


@needs_fashion
def test_the_blend_cli_previews_a_translators_held_out_inputs(tmp_path, cli) -> None:
    source = inputs()
    half = translate(blend_bundles(translator(0), translator(1), 0.5), source)
    pa = translator(0, dataset="fashion-mnist").save(tmp_path / "a")
    pb = translator(1, dataset="fashion-mnist").save(tmp_path / "b")
    code, out, err = cli("blend", pa, pb, "--out", tmp_path / "ab", "--preview", tmp_path / "ab.png")
    assert code == 0 and (tmp_path / "ab.png").is_file(), err  # the preview translates held-out inputs
    assert torch.allclose(translate(load(tmp_path / "ab"), source), half, atol=1e-6)


def test_a_glitch_is_seeded() -> None:
    bundle, source = translator(), inputs()
    plain = translate(bundle, source)
    one, again = glitch(bundle, "gaussian", 0.5, seed=3), glitch(bundle, "gaussian", 0.5, seed=3)
    assert torch.equal(translate(one, source), translate(again, source))
    assert not torch.allclose(translate(one, source), plain)
    assert not torch.allclose(translate(glitch(bundle, "reconnect", 0.5, seed=4), source), plain)
    assert torch.equal(translate(bundle, source), plain)


@needs_fashion
def test_the_glitch_cli_previews_translations(tmp_path, cli) -> None:
    saved = translator(dataset="fashion-mnist").save(tmp_path / "p")
    code, out, err = cli("glitch", saved, "--kind", "zero", "--amount", "0.3", "--out", tmp_path / "g")
    assert code == 0 and (tmp_path / "g.png").is_file(), err  # before: a traceback-free exit 2, no preview


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Bundle, torch.Tensor]:
    """A translator trained a little (a random one's bottleneck barely reaches D: gradients near 1e-5)."""
    data, run = blobs(n=64), tmp_path_factory.mktemp("p2p")
    cfg = TrainConfig(steps=30, params={"transform": "edges", "d_layers": 1}, lr_g=2e-3, **SMALL)
    Trainer(cfg, run, data=data, progress=False).fit()
    bundle = load(run / "bundle")
    return bundle, make_input(bundle, data.x[:6])


def test_dgflow_moves_the_bottleneck_up_the_conditional_critic(trained) -> None:
    bundle, source = trained
    g, d = bundle.generator, bundle.networks["discriminator"]
    start = encode(g, source)[-1].flatten(1)
    still = dgflow_translation(bundle, source, steps=1, eta=1e-12, gamma=0.0)
    assert torch.allclose(still.x, translate(bundle, source), atol=1e-5)  # the decoder is G's own
    flowed = dgflow_translation(bundle, source, steps=5, gamma=0.0, seed=0)
    again = dgflow_translation(bundle, source, steps=5, gamma=0.0, seed=0)
    assert torch.equal(flowed.x, again.x) and flowed.z.shape == start.shape
    assert not torch.allclose(flowed.z, start)

    def score(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return d(source, x).flatten(1).mean(1)

    before, after = score(translate(bundle, source)), score(flowed.x)
    assert (after >= before - 1e-6).all() and (after > before).any()  # no step lowers D, some raise it
    away = score(dgflow_translation(bundle, source, steps=5, gamma=0.0, reverse=True).x)
    assert (away <= before + 1e-6).all() and (away < before).any()
    with apply_bends(g, [{"layer": "up1", "transform": "multiply", "params": {"factor": 3.0}}]):
        bent = dgflow_translation(bundle, source, steps=5, gamma=0.0, seed=0)
    assert not torch.allclose(bent.x, flowed.x)  # bends on the decoder apply during the flow


def test_dgflow_needs_a_discriminator_and_the_right_pictures() -> None:
    with pytest.raises(BundleError, match="no discriminator"):
        dgflow_translation(translator(d=False), inputs())
    with pytest.raises(BundleError, match="reads pictures"):
        dgflow_translation(translator(), torch.zeros(2, 3, 16, 16))


def test_cli_translate_refines_with_dgflow(trained, tmp_path, cli) -> None:
    from PIL import Image

    bundle, _ = trained
    saved = bundle.save(tmp_path / "p2p")
    pic = tmp_path / "in.png"
    Image.new("L", (8, 8), 0).save(pic)
    code, _, err = cli("translate", saved, pic, "--out", tmp_path / "a.png", "--dgflow", "3")
    assert code == 0, err
    plain_code, _, err = cli("translate", saved, pic, "--out", tmp_path / "b.png")
    assert plain_code == 0, err
    assert Image.open(tmp_path / "a.png").size[0] > Image.open(tmp_path / "b.png").size[0]  # a third picture
    code, _, err = cli("translate", "fashion-edges2grey", pic, "--out", tmp_path / "c.png", "--dgflow", "2")
    assert code == 0, err
    no_d = translator(d=False, dataset="fashion-mnist").save(tmp_path / "nod")
    code, _, err = cli("translate", no_d, pic, "--out", tmp_path / "d.png", "--dgflow", "2")
    assert code == 2 and "no discriminator" in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "d.png").exists()


def test_a_paired_translator_previews_its_own_inputs(tmp_path, cli) -> None:
    from tests.test_pix2pix import _write_pairs

    _write_pairs(tmp_path / "pairs")
    cfg = TrainConfig(
        steps=2, dataset=f"pairs:{tmp_path / 'pairs'}", image_size=8, params={"d_layers": 1}, **SMALL
    )
    Trainer(cfg, tmp_path / "run", progress=False).fit()
    code, _, err = cli("glitch", tmp_path / "run" / "bundle", "--out", tmp_path / "g", "--n", "4")
    assert code == 0 and (tmp_path / "g.png").is_file(), err

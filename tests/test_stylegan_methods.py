"""swerve's methods on an imported StyleGAN2 (bend, blend, glitch, rewrite, DGflow with the imported
discriminator, uncanny fine-tuning), each checked for the effect it promises."""

from __future__ import annotations

import pytest
import torch

import swerve
from swerve import taps
from swerve.bundle import Bundle
from swerve.models.importers import import_model
from tests.stylegan_fixtures import rosinality_state_dicts


def imported(tmp_path, seed: int = 0, name: str = "sg2") -> Bundle:
    """A 16x16 rosinality-format StyleGAN2 pair, written to disk and imported."""
    g, d = rosinality_state_dicts(resolution=16, style_dim=8, n_mlp=2, seed=seed)
    torch.save({"g_ema": g, "d": d}, tmp_path / f"{name}.pt")
    return import_model(tmp_path / f"{name}.pt")


def test_bend_a_stylegan_layer_by_name(tmp_path):
    from swerve.diverge.bend import apply_bends, bend_bundle

    bundle = imported(tmp_path)
    g, z = bundle.generator, torch.randn(4, 8)
    with torch.no_grad():
        plain = g(z)
        bends = [{"layer": "synthesis.b8.conv1", "transform": "rotate", "params": {"degrees": 90}}]
        with apply_bends(g, bends):
            bent = g(z)
        assert not torch.allclose(bent, plain, atol=1e-3)
        assert torch.equal(g(z), plain)  # hooks gone, model untouched
    assert taps.resolve_layer(g, "conv:0") == "synthesis.b4.conv1.conv"  # shortcuts count the convolutions
    sampled = bend_bundle(bundle, bends).sample(4, seed=0).x
    assert not torch.allclose(sampled, bundle.sample(4, seed=0).x, atol=1e-3)


def test_blend_stylegan_by_resolution(tmp_path):
    """Coarse blocks from A, fine blocks from B (layer swapping, Pinkney & Adler 2020)."""
    from swerve.diverge.blend import blend_bundles, resolution_schedule

    a, b = imported(tmp_path, 0, "a"), imported(tmp_path, 1, "b")
    blocks = a.generator.block_names  # synthesis.b4, synthesis.b8, synthesis.b16
    mixed = blend_bundles(a, b, alpha=resolution_schedule(blocks, pivot=2, hard=True))
    sa, sb, sm = (x.generator.state_dict() for x in (a, b, mixed))
    for key in sm:
        if key.startswith(("synthesis.b4.", "synthesis.b8.")):
            assert torch.equal(sm[key], sa[key]), key
        elif key.startswith("synthesis.b16."):
            assert torch.equal(sm[key], sb[key]), key
    x = {n: bundle.sample(4, seed=0).x for n, bundle in (("a", a), ("b", b), ("m", mixed))}
    assert not torch.allclose(x["m"], x["a"]) and not torch.allclose(x["m"], x["b"])
    # the schedule option orders a StyleGAN by its blocks itself, and by block name as a pivot
    for pivot in (2, "synthesis.b16"):
        scheduled = blend_bundles(a, b, schedule={"pivot": pivot, "hard": True}).generator.state_dict()
        assert all(torch.equal(scheduled[k], sm[k]) for k in sm)


@pytest.mark.parametrize(
    "kind,layer", [("gaussian", "synthesis.b8"), ("reconnect", "synthesis.b8.conv1.conv")]
)
def test_glitch_touches_only_the_chosen_stylegan_block(tmp_path, kind, layer):
    from swerve.diverge.glitch import glitch

    bundle = imported(tmp_path)
    out = glitch(bundle, kind, 0.5, layers=[layer], seed=0)
    before, after = bundle.generator.state_dict(), out.generator.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith(layer + ".") for k in changed), changed
    assert not torch.allclose(out.sample(2, seed=0).x, bundle.sample(2, seed=0).x)


def test_glitch_reconnects_an_upsampling_convolution_along_its_outputs():
    """StyleGAN2's upsampling convolution stores its kernel (in, out, k, k) as any transposed convolution,
    (its class is a subclass): ``reconnect`` shuffles dim 1, the output channels."""
    from swerve.diverge.glitch import _targets
    from swerve.models.stylegan2 import StyleGAN2Config, StyleGAN2Generator

    g = StyleGAN2Generator(StyleGAN2Config(resolution=8, z_dim=8, w_dim=8, channel_base=64, channel_max=8))
    chosen = _targets(g, ["synthesis.b8.conv0.conv", "synthesis.b8.conv1.conv"], "reconnect")
    assert chosen == {"synthesis.b8.conv0.conv.weight": 1, "synthesis.b8.conv1.conv.weight": 0}


def test_rewrite_a_stylegan_convolution(tmp_path):
    """Bau et al.'s rank-one edit on a modulated layer's convolution (its keys are the style-modulated
    features): the pasted values hold at the target keys, and only that kernel changes."""
    from swerve.diverge.rewrite import copy_paste_targets, rewrite_bundle

    bundle = imported(tmp_path)
    g = bundle.generator
    layer = "synthesis.b8.conv1.conv"
    gen = torch.Generator().manual_seed(0)
    source, target = (torch.randn(1, 8, generator=gen),), (torch.randn(1, 8, generator=gen),)
    mask = torch.zeros(8, 8)
    mask[2:5, 2:5] = 1
    k_star, v_star = copy_paste_targets(g, layer, source, target, mask)
    out, result = rewrite_bundle(bundle, layer, k_star, v_star, rank=k_star.shape[1], n=32)
    assert result.error() < 1e-3
    before, after = g.state_dict(), out.generator.state_dict()
    assert [k for k in before if not torch.equal(before[k], after[k])] == [f"{layer}.weight"]
    with torch.no_grad():
        assert not torch.allclose(out.generator(*target), g(*target))


def test_dgflow_with_the_imported_discriminator_raises_its_score(tmp_path):
    from swerve.refine.core import discriminator_critic
    from swerve.refine.dgflow import dgflow

    bundle = imported(tmp_path)
    g, d = bundle.generator, bundle.discriminator
    z = torch.randn(8, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        start = d(g(z)).mean()
    refined = dgflow(g, discriminator_critic(d), z, steps=5, eta=0.5, gamma=0.0)
    with torch.no_grad():
        assert d(refined.x).mean() > start + 0.05  # the flow climbs the imported critic
        assert torch.allclose(g(refined.z), refined.x, atol=1e-5)  # and the samples are G's, at the new z


def test_uncanny_finetuning_of_an_imported_stylegan(tmp_path):
    from swerve.diverge.finetune import FinetuneConfig, finetune

    bundle = imported(tmp_path)
    d_before = {k: v.clone() for k, v in bundle.discriminator.state_dict().items()}
    cfg = FinetuneConfig(
        method="uncanny",
        steps=6,
        trail_every=3,
        batch_size=8,
        lr=1e-2,
        grid_size=8,
        log_every=3,
        measure_quality=False,
    )
    result = finetune(bundle, cfg, tmp_path / "run", progress=False)
    fake = [m["fake_prob"] for m in result.trail.metrics()]
    assert fake[-1] > fake[0] + 0.05, fake  # the frozen critic finds the tuned samples less real
    assert all(torch.equal(v, bundle.discriminator.state_dict()[k]) for k, v in d_before.items())
    tuned = swerve.load(result.bundle_path)
    assert isinstance(tuned.generator, type(bundle.generator)) and tuned.history[-1]["op"] == "finetune"


def test_nada_finetuning_of_an_imported_stylegan(tmp_path):
    """StyleGAN-NADA's home ground (Gal et al. 2021): the directional CLIP loss turns an imported StyleGAN2's
    image changes toward the text direction (the small random CLIP stands in for open_clip here)."""
    from swerve.diverge.finetune import FinetuneConfig, finetune
    from swerve.diverge.finetune.nada import directional_loss, tiny_clip

    bundle, clip = imported(tmp_path), tiny_clip()
    cfg = FinetuneConfig(
        method="nada", clip="tiny", source="dark", text="bright stripes", steps=12, trail_every=4,
        batch_size=8, lr=2e-3, grid_size=8, log_every=4, measure_quality=False,
    )  # fmt: skip
    result = finetune(bundle, cfg, tmp_path / "run", progress=False, clip=clip)
    tuned = swerve.load(result.bundle_path)
    z, y = result.trail.latents()
    text0, text = clip.encode_text(["dark", "bright stripes"])
    with torch.no_grad():
        before = clip.encode_image(bundle.generator.eval()(z, y))
        after = clip.encode_image(tuned.generator.eval()(z, y))
    cos = torch.nn.functional.cosine_similarity(after - before, (text - text0).expand(len(after), -1))
    assert cos.mean() > 0.1, cos  # the images moved the way the text did (about 0 for an unrelated one)
    assert directional_loss(after, before, text, text0).mean() < 0.9
    assert isinstance(tuned.generator, type(bundle.generator))
    assert tuned.history[-1]["params"]["text"] == "bright stripes"


def test_the_studio_opens_bends_and_refines_an_imported_stylegan(tmp_path):
    pytest.importorskip("fastapi", reason="the studio extra is not installed: pip install 'swerve[studio]'")
    pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx")
    import io

    import numpy as np
    from fastapi.testclient import TestClient
    from PIL import Image

    from swerve.studio.app import TOKEN_HEADER, create_app
    from swerve.studio.engine import Studio
    from swerve.studio.models import Models

    path = imported(tmp_path).save(tmp_path / "allowed" / "sg2").resolve()
    app = create_app(Studio(Models([tmp_path / "allowed"]), tmp_path / "out"))
    client = TestClient(app, "http://127.0.0.1", headers={TOKEN_HEADER: app.state.token})
    page = {"model": str(path), "latent": {"seed": 3}}

    def picture(state: dict) -> np.ndarray:
        answer = client.post("/api/render", json=state)
        assert answer.status_code == 200, answer.text
        return np.asarray(Image.open(io.BytesIO(answer.content)))

    plain = picture(page)
    bent = picture({**page, "bends": [{"layer": "synthesis.b8.conv0", "transform": "rotate"}]})
    assert not np.array_equal(plain, bent)
    directions = client.post("/api/directions", json={"model": str(path), "layer": "conv:0", "k": 4})
    assert directions.status_code == 200 and len(directions.json()["explained"]) == 4

    def critic(state: dict) -> float:
        return client.post("/api/measure", json=state).json()["values"]["critic"]

    refined = client.post("/api/refine", json={"state": page, "steps": 5, "gamma": 0.0})
    assert refined.status_code == 200, refined.text
    assert critic(refined.json()["state"]) > critic(page)  # DGflow with the imported discriminator


def test_nada_adaptive_freezing_picks_among_stylegan_blocks(tmp_path):
    """Adaptive layer freezing (StyleGAN-NADA) chooses among the synthesis blocks (one per resolution) and
    the mapping network, and trains only the one it picks."""
    from swerve.diverge.finetune import FinetuneConfig, finetune
    from swerve.diverge.finetune.layers import layer_units
    from swerve.diverge.finetune.nada import tiny_clip

    bundle = imported(tmp_path)
    units = layer_units(bundle.generator)
    assert units == [*bundle.generator.block_names, "mapping"]
    cfg = FinetuneConfig(
        method="nada", clip="tiny", text="x", steps=1, trail_every=1, batch_size=4, grid_size=4, log_every=1,
        adaptive_layers=1, measure_quality=False,
    )  # fmt: skip
    result = finetune(bundle, cfg, tmp_path / "run", progress=False, clip=tiny_clip())
    before = bundle.generator.state_dict()
    after = swerve.load(result.bundle_path).generator.state_dict()
    moved = [k for k in before if not torch.equal(before[k], after[k])]
    changed = {u for u in units for k in moved if k.startswith(u + ".")}
    assert len(changed) == 1, changed
    assert all(k.startswith(f"{next(iter(changed))}.") for k in moved)  # nothing outside the chosen block

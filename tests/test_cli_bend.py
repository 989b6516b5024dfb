"""The bending, blending and rewriting commands: thin, reproducible, one-line errors."""

from __future__ import annotations

import json

import torch
from PIL import Image

from swerve.bundle import load
from swerve.cli.bend import parse_bend_arg
from tests.conftest import tiny_image_bundle
from tests.odd_generator import odd_bundle, stem_bundle


def test_parse_bend_arg_reads_params_and_channels() -> None:
    assert parse_bend_arg("conv:1 rotate degrees=45 @fraction=0.5 @seed=2") == {
        "layer": "conv:1",
        "transform": "rotate",
        "params": {"degrees": 45},
        "channels": {"fraction": 0.5, "seed": 2},
    }
    assert parse_bend_arg("rise.0 flip axis=v @channels=0,3")["channels"] == [0, 3]


def test_layers_lists_the_generator(cli, tiny_bundle) -> None:
    code, out, _ = cli("layers", tiny_bundle, "--json")
    rows = {r["name"]: r for r in json.loads(out)["layers"]}
    assert code == 0 and rows["blocks.0"]["shortcut"] == "conv:0" and rows["blocks.0"]["channels"] == 4


def test_bend_writes_grid_sweep_and_bundle(cli, tiny_bundle, tmp_path) -> None:
    png = tmp_path / "b.png"
    code, _, err = cli("bend", tiny_bundle, "--bend", "conv:0 ablate @channels=0,1", "--n", "4", "--out", png)
    assert code == 0, err
    record = json.loads((tmp_path / "b.png.json").read_text())
    assert record["seed"] == 0 and record["bends"][0]["channels"] == [0, 1]
    assert Image.open(png).size[0] > 0
    gif = tmp_path / "s.gif"
    code, out, err = cli(
        "bend",
        tiny_bundle,
        "--bend",
        "conv:0 rotate",
        "--sweep",
        "0.degrees=0:90",
        "--frames",
        "3",
        "--n",
        "2",
        "--out",
        gif,
        "--json",
    )
    assert code == 0, err
    assert json.loads(out)["sweep"]["values"] == [0.0, 45.0, 90.0]
    assert Image.open(gif).n_frames == 3
    code, _, err = cli("bend", tiny_bundle, "--bend", "conv:0 multiply factor=3", "--out", tmp_path / "bent")
    assert code == 0, err
    bent, plain = load(tmp_path / "bent"), load(tiny_bundle)
    assert bent.extra["bends"][0]["params"] == {"factor": 3.0}
    assert not torch.equal(bent.sample(2).x, plain.sample(2).x)


def test_bend_reads_a_yaml_recipe(cli, tiny_bundle, tmp_path) -> None:
    recipe = tmp_path / "bends.yaml"
    recipe.write_text("bends:\n  - layer: conv:0\n    transform: flip\n    params: {axis: v}\n")
    code, out, err = cli("bend", tiny_bundle, "--config", recipe, "--out", tmp_path / "b.png", "--json")
    assert code == 0, err
    assert json.loads(out)["bends"] == [
        {"layer": "conv:0", "transform": "flip", "params": {"axis": "v"}, "channels": "all"}
    ]
    recipe.write_text("layer: conv:0\ntransform: twirl\n")
    code, _, err = cli("bend", tiny_bundle, "--config", recipe)
    assert code == 2 and "unknown transform 'twirl'" in err


def test_bend_errors_are_one_line(cli, tiny_bundle, tmp_path) -> None:
    for args, message in [
        (("--bend", "conv:7 rotate"), "conv blocks"),
        (("--bend", "conv:0 twirl"), "unknown transform"),
        (("--bend", "conv:0 rotate degrees=999"), "outside"),
        (("--bend", "conv:0 rotate", "--sweep", "0.angle=0:1", "--out", tmp_path / "x.gif"), "no parameter"),
        ((), "no bends given"),
    ]:
        code, _, err = cli("bend", tiny_bundle, *args)
        assert (
            code == 2 and err.startswith("error:") and message in err and len(err.strip().splitlines()) == 1
        )


def test_clusters_blend_glitch_rewrite_write_bundles(cli, tmp_path) -> None:
    a = tiny_image_bundle(conditional=False).save(tmp_path / "a")
    code, out, err = cli(
        "clusters", a, "--layer", "conv:0", "--k", "2", "--n", "16", "--out", tmp_path / "c", "--json"
    )
    assert code == 0, err
    assert (
        sum(json.loads(out)["sizes"]["blocks.0"]) == 4 and load(tmp_path / "c").extra["clusters"]["blocks.0"]
    )
    code, _, err = cli(
        "bend", tmp_path / "c", "--bend", "conv:0 ablate @cluster=1", "--out", tmp_path / "k.png"
    )
    assert code == 0, err
    code, _, err = cli(
        "glitch", a, "--kind", "zero", "--amount", "0.5", "--seed", "1", "--out", tmp_path / "g"
    )
    assert code == 0, err
    glitched = load(tmp_path / "g")
    assert glitched.history[-1]["params"]["seed"] == 1
    code, _, err = cli(
        "blend", a, tmp_path / "g", "--alpha", "0", "--out", tmp_path / "b", "--preview", tmp_path / "b.png"
    )
    assert code == 0, err
    assert (tmp_path / "b.png").exists()
    base, blended = load(a).generator.state_dict(), load(tmp_path / "b").generator.state_dict()
    assert all(torch.equal(base[k], blended[k]) for k in base)
    code, _, err = cli(
        "blend", a, tmp_path / "g", "--layer-alpha", "conv:1=1", "--alpha", "0", "--out", tmp_path / "b2"
    )
    assert code == 0, err
    swapped, glitched_sd = load(tmp_path / "b2").generator.state_dict(), glitched.generator.state_dict()
    assert torch.equal(swapped["to_image.0.weight"], glitched_sd["to_image.0.weight"])
    assert torch.equal(swapped["blocks.0.0.weight"], base["blocks.0.0.weight"])
    odd = odd_bundle().save(tmp_path / "odd")
    code, _, err = cli("--trust", "tests.odd_generator", "blend", a, odd, "--out", tmp_path / "x")
    assert code == 2 and "models differ at tensor" in err and not (tmp_path / "x").exists()
    code, out, err = cli(
        "rewrite", a, "--layer", "conv:0", "--rank", "4", "--n", "16", "--out", tmp_path / "r", "--json"
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["layer"] == "blocks.0.0" and result["residual"] < 1.0
    assert load(tmp_path / "r").history[-1]["op"] == "rewrite"


def test_demo_section_shows_bends_blends_glitches_and_a_rewrite(tmp_path) -> None:
    from swerve.look.sections import DemoContext, ordered_sections
    from swerve.look.sections_bend import bending

    assert "bend-blend-rewrite" in dict(ordered_sections())
    section = bending(DemoContext(tmp_path, seed=0))
    assert section is not None and len(section.figures) == 4
    table = section.table
    assert table["rewrite: constraint residual (0 = exact)"] < 1e-3
    assert (
        table["rewrite: pixel change, the target sample"]
        > 2 * table["rewrite: pixel change, the other samples"]
    )
    assert float(table["bend invert: pixel change at conv:0 / conv:1"].split(" / ")[0]) > 0


def test_prediction_blend_and_a_mask_file(cli, tmp_path) -> None:
    a = tiny_image_bundle(conditional=False).save(tmp_path / "a")
    code, _, err = cli("glitch", a, "--amount", "1.0", "--out", tmp_path / "g")
    assert code == 0, err
    code, _, err = cli(
        "blend",
        a,
        tmp_path / "g",
        "--mode",
        "predict",
        "--layer",
        "conv:0",
        "--preview",
        tmp_path / "p.png",
        "--n",
        "4",
    )
    assert code == 0, err
    assert json.loads((tmp_path / "p.png.json").read_text())["layer"] == "conv:0"
    mask = Image.new("L", (40, 40), 0)
    mask.paste(255, (10, 10, 30, 30))
    mask.save(tmp_path / "m.png")
    code, out, err = cli(
        "rewrite",
        a,
        "--mask",
        tmp_path / "m.png",
        "--rank",
        "4",
        "--n",
        "16",
        "--out",
        tmp_path / "r",
        "--json",
    )
    assert code == 0, err
    assert json.loads(out)["residual"] < 0.95  # the region moved towards the source
    code, _, err = cli("rewrite", a, "--mask", tmp_path / "none.png")
    assert code == 2 and "cannot read mask" in err


def test_layers_shows_what_each_shortcut_names_and_where_it_taps(cli, tmp_path) -> None:
    path = stem_bundle().save(tmp_path / "stem")
    code, out, err = cli("--trust", "tests.odd_generator", "layers", path, "--json")
    assert code == 0, err
    cuts = {c["shortcut"]: c for c in json.loads(out)["shortcuts"]}
    assert cuts["linear:0"] == {"shortcut": "linear:0", "layer": "stem.0", "type": "Linear", "tap": "stem.1"}
    assert (cuts["linear:1"]["layer"], cuts["linear:1"]["tap"]) == ("stem.2", "stem.2")
    code, out, _ = cli("--trust", "tests.odd_generator", "layers", path)
    assert code == 0 and any(
        line.split() == ["linear:0", "stem.0", "(Linear)", "stem.1"] for line in out.splitlines()
    )


def test_blend_schedule_says_which_layer_the_other_tensors_follow(cli, tmp_path) -> None:
    a, b = stem_bundle(0, "a").save(tmp_path / "a"), stem_bundle(1, "b").save(tmp_path / "b")
    code, out, err = cli(
        "--trust", "tests.odd_generator", "blend", a, b, "--pivot", "0", "--hard", "--out", tmp_path / "ab"
    )
    assert code == 0, err
    assert "5 tensors outside the scheduled layers" in out and "const follows stem.0" in out


def _contains(big: Image.Image, small: Image.Image, top: int) -> bool:
    """``small`` appears in ``big`` at (0, top)."""
    region = big.convert("RGB").crop((0, top, small.width, top + small.height))
    return list(region.getdata()) == list(small.convert("RGB").getdata())


def test_bend_picture_captions_the_original_above_the_bent_samples(cli, tiny_bundle, tmp_path) -> None:
    from swerve.cli.bend import _grid_image
    from swerve.diverge.bend import bend_bundle, parse_bends

    both = tmp_path / "both.png"
    assert cli("bend", tiny_bundle, "--bend", "conv:0 multiply factor=3", "--n", "4", "--out", both)[0] == 0
    bundle = load(tiny_bundle, device="cpu")
    bends = parse_bends([{"layer": "conv:0", "transform": "multiply", "params": {"factor": 3}}])
    grid = _grid_image(bundle, bend_bundle(bundle, bends).sample(4, seed=0).x, nrow=4)
    picture = Image.open(both)
    assert picture.height > 2 * grid.height  # two grids and their caption bands
    assert _contains(picture, grid, picture.height - grid.height)  # the bent samples at the bottom
    band = picture.convert("L").crop((0, 0, picture.width, picture.height - 2 * grid.height))
    assert min(band.getdata()) < 128  # caption text, not blank padding


def test_glitch_writes_a_labelled_preview_by_default_and_names_it(cli, tiny_bundle, tmp_path) -> None:
    code, stdout, err = cli("glitch", tiny_bundle, "--amount", "0.5", "--out", tmp_path / "g", "--n", "4")
    assert code == 0, err
    preview = tmp_path / "g.png"
    assert preview.is_file() and str(preview) in stdout
    assert json.loads(preview.with_name("g.png.json").read_text())["history"][-1]["op"] == "glitch"
    mine = tmp_path / "k.png"
    mine.write_bytes(b"mine")  # a file of the user's where the default preview would go
    code, stdout, _ = cli("glitch", tiny_bundle, "--out", tmp_path / "k", "--n", "4")
    assert code == 0 and mine.read_bytes() == b"mine" and "no preview" in stdout

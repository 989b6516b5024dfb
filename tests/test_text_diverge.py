"""Divergence on text models: bending the 1-D convolutional generator, blending, glitching, each shown as
strings before -> after."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from swerve.errors import ConfigError
from swerve.transforms import TRANSFORMS
from tests.test_text import train_tiny_text


@pytest.fixture(scope="module")
def text_pair(tmp_path_factory) -> tuple[Path, Path]:
    """Two tiny character GANs of one corpus (the same vocabulary), trained from seeds 0 and 1."""
    root = tmp_path_factory.mktemp("text-pair")
    return train_tiny_text(root, 0), train_tiny_text(root, 1)


def test_sequence_transforms_act_along_the_length_of_1d_maps():
    x = torch.arange(16, dtype=torch.float32).view(1, 2, 8) + 1
    shifted = TRANSFORMS["translate"](x, dx=1 / 8, dy=0.0)  # one position of eight, zeros coming in
    assert torch.allclose(shifted[..., 1:], x[..., :-1]) and (shifted[..., 0] == 0).all()
    assert torch.equal(TRANSFORMS["flip"](x, axis="h"), x.flip(-1))
    grown = TRANSFORMS["dilate"](x, radius=1)  # the max of each position and its two neighbours
    assert grown[0, 0].tolist() == [2, 3, 4, 5, 6, 7, 8, 8]
    assert TRANSFORMS["erode"](x, radius=1)[0, 0].tolist() == [1, 1, 2, 3, 4, 5, 6, 7]
    assert TRANSFORMS["sobel"](x).shape == x.shape and TRANSFORMS["scale"](x, factor=2.0).shape == x.shape
    wave = TRANSFORMS["oscillate"](torch.zeros(1, 1, 4), amplitude=1.0, frequency=1.0, phase=0.0, axis="x")
    assert wave[0, 0].tolist() == pytest.approx([0, 1, 0, -1], abs=1e-6)


@pytest.mark.parametrize(
    ("name", "params", "says"),
    [
        ("rotate", {"degrees": 30.0}, "needs feature maps"),
        ("translate", {"dx": 0.0, "dy": 0.5}, "dy=0.5 needs 2-D maps"),
        ("flip", {"axis": "v"}, "axis='v' needs 2-D maps"),
        ("oscillate", {"amplitude": 1.0, "frequency": 1.0, "phase": 0.0, "axis": "y"}, "axis='y'"),
    ],
)
def test_two_d_only_settings_are_refused_on_1d_maps(name, params, says):
    with pytest.raises(ConfigError, match=says):
        TRANSFORMS[name](torch.zeros(1, 2, 8), **params)


def test_bend_cli_on_a_text_model_writes_strings_before_and_after(cli, text_pair, tmp_path):
    import swerve
    from swerve.diverge.bend import bend_bundle

    out = tmp_path / "bent.txt"
    code, stdout, err = cli("bend", text_pair[0], "--bend", "blocks.0 flip axis=h", "--n", 5, "--out", out)
    assert code == 0, err
    lines = out.read_text().splitlines()
    assert lines[0].startswith("# ") and len(lines) == 6 and all(" -> " in s for s in lines[1:])
    assert lines[1] in stdout
    bundle = swerve.load(text_pair[0], device="cpu")
    bent = bend_bundle(bundle, [{"layer": "blocks.0", "transform": "flip", "params": {"axis": "h"}}])
    z = bundle.sample(3, seed=0).z
    assert not torch.allclose(bent.generator(z), bundle.generator(z))  # the bend reaches the output


def test_bend_cli_refuses_a_2d_transform_and_a_picture_for_text(cli, text_pair, tmp_path):
    code, _, err = cli(
        "bend", text_pair[0], "--bend", "blocks.0 rotate degrees=30", "--out", tmp_path / "r.txt"
    )
    assert code == 2 and "needs feature maps" in err and "Traceback" not in err
    assert not (tmp_path / "r.txt").exists()
    code, _, err = cli("bend", text_pair[0], "--bend", "blocks.0 flip", "--out", tmp_path / "b.png")
    assert code == 2 and ".txt file of strings" in err


def test_glitch_cli_on_a_text_model_previews_strings(cli, text_pair, tmp_path):
    out = tmp_path / "g"
    code, stdout, err = cli("glitch", text_pair[0], "--amount", 1.0, "--n", 4, "--out", out)
    assert code == 0, err
    preview = tmp_path / "g.txt"
    assert preview.exists() and len(preview.read_text().splitlines()) == 5
    assert stdout.count(" -> ") == 4


def test_blend_two_text_models_of_one_vocabulary(cli, text_pair, tmp_path):
    out, preview = tmp_path / "mix", tmp_path / "mix.txt"
    code, stdout, err = cli("blend", *text_pair, "--out", out, "--preview", preview, "--n", 4)
    assert code == 0, err
    assert stdout.count(" -> ") == 4 and len(preview.read_text().splitlines()) == 5


def test_blending_text_models_of_different_vocabularies_is_refused(text_pair):
    import swerve
    from swerve.diverge.blend import IncompatibleModels, blend_bundles

    a, b = (swerve.load(p, device="cpu") for p in text_pair)
    b.extra["vocab"] = list(reversed(b.extra["vocab"]))  # same size and shapes, other characters
    with pytest.raises(IncompatibleModels, match="character vocabularies differ"):
        blend_bundles(a, b)


def test_text_features_read_strings_as_they_decode():
    from swerve.measure.text import CharNgramFeatures

    soft = torch.tensor([[[0.6, 0.2], [0.4, 0.8]]])  # decodes as character 0 then character 1
    f = CharNgramFeatures().features(soft)
    assert f[0, :2].tolist() == [0.5, 0.5] and f[0, 2:].tolist() == [0, 1, 0, 0]  # one bigram: 0 -> 1


def test_divergence_map_measures_a_text_model_in_ngram_space(cli, text_pair, tmp_path):
    import json

    out = tmp_path / "map.png"
    ops = ("--ops", "none", "--ops", "bend:flip:axis=h@blocks.0", "--ops", "glitch:gaussian:amount=1.0")
    code, stdout, err = cli("measure", text_pair[0], *ops, "--n", 20, "--reference-n", 30, "--out", out)
    assert code == 0, err
    rows = json.loads((tmp_path / "map.json").read_text())
    assert [r["op"] for r in rows] == ["none", "bend flip@blocks.0", "glitch gaussian"]
    assert all(0 <= r["precision"] <= 1 and r["novelty"] >= 0 for r in rows)
    assert rows[0]["features_extractor"] == "char-ngrams" and out.exists()


def test_held_out_text_that_no_longer_fits_the_vocabulary_is_refused(text_pair):
    import swerve
    from swerve.errors import DataError
    from swerve.refine.scores import held_out_text

    bundle = swerve.load(text_pair[0], device="cpu")
    assert held_out_text(bundle).dim() == 2
    bundle.extra["vocab"] = bundle.extra["vocab"][:-1] + ["#"]  # the corpus now spells otherwise
    with pytest.raises(DataError, match="other characters"):
        held_out_text(bundle)

"""Mapping files: validation (one line naming the fault), presets, envelopes, curves and state writing."""

from __future__ import annotations

import json
import math

import pytest

from swerve.errors import ConfigError
from swerve.look.mapping import (
    PRESETS,
    Controller,
    Envelope,
    Mapping,
    apply_controls,
    apply_curve,
    load_mapping,
    parse_mapping,
    parse_midi,
    parse_osc,
    source_kind,
)


def one(**binding) -> dict:
    return {"bindings": [{"source": "onset", "target": "latent.pulse", **binding}]}


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (one(source="onsets"), "unknown feature 'onsets'"),
        (one(source="chroma.12"), "chroma.K takes K in 0..11"),
        (one(source="band.8"), "band.K takes K in 0..7"),
        (one(target="klass"), "unknown target 'klass'"),
        (one(target="blocks.1.twirl.degrees"), "unknown transform 'twirl'"),
        (one(target="blocks.1.rotate.deg"), "has no parameter 'deg'"),
        (one(target="blocks.1.flip.axis"), "is a choice, not a number"),
        (one(curve="cubic"), "curve must be linear, exp, log, smoothstep or a gamma number"),
        (one(curve=-1.0), "gamma number in (0, 100]"),
        (one(range=[0.0, math.nan]), "bindings.0.range.1"),
        (one(range=[0.0, math.inf]), "bindings.0.range.1"),
        (one(range=[1.0, 1.0]), "give two different numbers"),
        (one(range=[0.0, 1.0, 2.0]), "bindings.0.range"),
        (one(target="latent.t", range=[0.0, 2.0]), "must lie within [0, 1]"),
        (one(target="blocks.1.rotate.degrees", range=[0.0, 720.0]), "must lie within [-360, 360]"),
        (one(attack=-0.1), "bindings.0.attack"),
        (one(decay=math.nan), "bindings.0.decay"),
        (one(colour="red"), "bindings.0.colour: unknown key"),
        (one(source="midi:cc:0:7"), "channel 1..16"),
        (one(source="osc:address"), "osc:/address"),
        (one(source="mic:chroma"), "mic:rms, mic:onset or mic:band.K"),
        ({"presets": ["wobble"]}, "presets.0"),
        ({}, "needs bindings or presets"),
        ({"fps": 0, "presets": ["pulse"]}, "fps"),
        ([1, 2], "a mapping file holds keys"),
    ],
)
def test_bad_mappings_are_one_line_naming_the_fault(data, words):
    with pytest.raises(ConfigError) as caught:
        parse_mapping(data, "map.yaml")
    message = str(caught.value)
    assert words in message
    assert message.startswith("map.yaml")
    assert "\n" not in message


def test_load_mapping_reads_yaml_and_json_and_refuses_broken_files(tmp_path):
    (tmp_path / "m.yaml").write_text("fps: 12\nseed: 3\npresets: [pulse]\n")
    mapping = load_mapping(tmp_path / "m.yaml")
    assert (mapping.fps, mapping.seed, mapping.presets) == (12, 3, ["pulse"])
    (tmp_path / "m.json").write_text(json.dumps(one(range=[0, 2])))
    assert load_mapping(tmp_path / "m.json").bindings[0].range == (0.0, 2.0)
    nan = '{"bindings": [{"source": "rms", "target": "class", "range": [0, NaN]}]}'
    (tmp_path / "nan.json").write_text(nan)
    (tmp_path / "bad.yaml").write_text("bindings: [\n")
    faults = [("nan.json", "finite"), ("bad.yaml", "not valid YAML"), ("none.yaml", "does not exist")]
    for name, words in faults:
        with pytest.raises(ConfigError, match=words) as caught:
            load_mapping(tmp_path / name)
        assert "\n" not in str(caught.value)


def test_presets_expand_as_documented():
    mapping = parse_mapping({"presets": ["pulse", "motion", "class"], **one(target="latent.t")})
    pairs = [(b.source, b.target) for b in mapping.all_bindings()]
    assert pairs == [
        ("percussive", "latent.pulse"),
        ("harmonic", "latent.motion"),
        ("chroma", "class"),
        ("onset", "latent.t"),
    ]
    assert mapping.all_bindings()[:3] == [b for name in ("pulse", "motion", "class") for b in PRESETS[name]]
    assert mapping.sources() == ["percussive", "harmonic", "chroma", "onset"]


def test_sources_of_every_kind():
    assert source_kind("band.low") == source_kind("chroma.11") == "audio"
    assert source_kind("mic:band.3") == "mic"
    assert parse_osc("osc:/fader/1.2") == ("/fader/1", 2)
    assert parse_osc("osc:/x") == ("/x", 0)
    assert parse_midi("midi:note:10:60") == ("note", 10, 60)


def test_envelope_attack_and_decay():
    instant = Envelope()
    assert [instant.step(v, 0.1) for v in (0.0, 1.0, 0.0)] == [0.0, 1.0, 0.0]
    slow = Envelope(attack=0.0, decay=1.0)
    slow.step(0.0, 0.1)
    assert slow.step(1.0, 0.1) == 1.0  # instant attack
    after = slow.step(0.0, 0.1)
    assert after == pytest.approx(math.exp(-0.1))  # falls with time constant 1 s
    smooth = Envelope(smooth=0.5)
    smooth.step(0.0, 0.1)
    assert 0 < smooth.step(1.0, 0.1) < 1.0
    again = Envelope(attack=0.2, decay=0.3, smooth=0.1)
    first = [Envelope(0.2, 0.3, 0.1).step(v, 0.04) for v in (0.3,)]
    assert first == [again.step(0.3, 0.04)]  # the same inputs give the same output


def test_curves_keep_ends_and_order():
    for curve in ("linear", "exp", "log", "smoothstep", 2.0):
        assert apply_curve(curve, 0.0) == pytest.approx(0.0)
        assert apply_curve(curve, 1.0) == pytest.approx(1.0)
    assert apply_curve("exp", 0.5) < 0.5 < apply_curve("log", 0.5)
    assert apply_curve(2.0, 0.5) == 0.25


def test_controller_shapes_sums_and_integrates_motion():
    mapping = Mapping.model_validate(
        {
            "bindings": [
                {"source": "rms", "target": "latent.pulse", "range": [1, 3], "invert": True},
                {"source": "onset", "target": "latent.pulse", "range": [0, 1]},
                {"source": "rms", "target": "latent.motion", "range": [0, 2]},
            ]
        }
    )
    controller = Controller(mapping)
    first = controller.step({"rms": 0.25, "onset": 0.5}, 0.5)
    assert first["latent.pulse"] == pytest.approx(3 - 2 * 0.25 + 0.5)
    assert first["latent.position"] == pytest.approx(0.5 * 0.5)
    second = controller.step({"rms": 1.0}, 0.5)  # onset missing: reads 0
    assert second["latent.pulse"] == pytest.approx(1.0)
    assert second["latent.position"] == pytest.approx(0.25 + 2 * 0.5)


def test_apply_controls_writes_a_new_state():
    state = {"model": "fashion-gan", "latent": {"seed": 3}, "bends": []}
    controls = {
        "class": 12.4,
        "blocks.1.rotate.degrees": 400.0,
        "blocks.1.erode.radius": 2.6,
        "pca.2": 1.5,
        "glitch.amount": 0.5,
        "latent.t": 0.3,
        "creative.strength": 2.0,
    }
    new = apply_controls(state, controls, num_classes=10)
    assert state == {"model": "fashion-gan", "latent": {"seed": 3}, "bends": []}  # untouched
    assert new["label"] == 9
    assert new["latent"] == {"seed": 3, "t": 0.3, "toward": 4}
    assert new["bends"] == [
        {"layer": "blocks.1", "transform": "rotate", "params": {"degrees": 360.0}, "channels": "all"},
        {"layer": "blocks.1", "transform": "erode", "params": {"radius": 3}, "channels": "all"},
    ]
    assert new["pca"]["amounts"] == [0.0, 0.0, 1.5]
    assert new["glitch"]["amount"] == 0.5 and new["creative"]["strength"] == 2.0
    again = apply_controls(new, {"blocks.1.rotate.degrees": -10.0})
    assert again["bends"][0]["params"] == {"degrees": -10.0} and len(again["bends"]) == 2
    with pytest.raises(ConfigError, match="blend partner"):
        apply_controls(state, {"blend.alpha": 0.5})
    with pytest.raises(ConfigError, match="seed_latent"):
        apply_controls(state, {"latent.pulse": 0.5})


def test_state_from_apply_controls_is_a_valid_studio_state():
    schema = pytest.importorskip("swerve.studio.schema")
    controls = {"class": 3.0, "blocks.1.rotate.degrees": 10.0, "pca.0": 1.0, "glitch.amount": 0.2}
    new = apply_controls({"model": "fashion-gan", "latent": {"seed": 1}}, controls, num_classes=10)
    schema.StateIn.model_validate(new)


def test_motion_and_pulse_make_the_latent_explicit():
    torch = pytest.importorskip("torch")
    from swerve.look.mapping import PULSE_SEED
    from swerve.look.walk import slerp

    def seed_latent(seed: int):
        return torch.randn(1, 8, generator=torch.Generator().manual_seed(seed))

    state = {"model": "m", "latent": {"seed": 5}}
    at = [
        apply_controls(state, {"latent.position": p}, seed_latent=seed_latent)["latent"]["z"] for p in (0, 1)
    ]
    assert at[0] == pytest.approx(seed_latent(5)[0].tolist(), abs=1e-6)
    assert at[1] == pytest.approx(seed_latent(6)[0].tolist(), abs=1e-6)
    halfway = apply_controls(state, {"latent.position": 0.5}, seed_latent=seed_latent)["latent"]["z"]
    assert halfway == pytest.approx(slerp(seed_latent(5), seed_latent(6), 0.5)[0].tolist(), abs=1e-6)
    pulsed = apply_controls(state, {"latent.pulse": 0.5}, seed_latent=seed_latent)["latent"]["z"]
    expected = seed_latent(5) + 0.5 * seed_latent(5 + PULSE_SEED)
    assert pulsed == pytest.approx(expected[0].tolist(), abs=1e-6)


def test_check_targets_against_a_model():
    from types import SimpleNamespace

    from swerve.bundle import load
    from swerve.look.mapping import check_targets

    gan = load("fashion-gan")
    good = parse_mapping({"presets": ["class"], **one(target="conv:0.rotate.degrees")})
    check_targets(good, gan)
    with pytest.raises(ConfigError, match="target blocks.9.rotate.degrees: .*blocks.9"):
        check_targets(parse_mapping(one(target="blocks.9.rotate.degrees")), gan)
    plain = SimpleNamespace(name="plain", num_classes=0, latent=gan.latent, generator=gan.generator)
    with pytest.raises(ConfigError, match="target class: plain is not class-conditional"):
        check_targets(good, plain)
    pictures = SimpleNamespace(name="pix2pix", num_classes=0, latent=None, generator=gan.generator)
    with pytest.raises(ConfigError, match="has no latent space"):
        check_targets(parse_mapping({"presets": ["pulse"]}), pictures)

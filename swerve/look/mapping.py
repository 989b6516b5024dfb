"""Mappings: which signal drives which control, shared by ``swerve react`` (audio features of a track) and the
studio's live control (OSC, MIDI, a microphone).

A mapping file (YAML or JSON) binds *sources* (normalised to 0..1) to *targets* (controls of a studio state),
each through an envelope (attack, decay, extra smoothing), a curve, an output range and an optional
inversion. Presets reproduce the effects of Lucid Sonic Dreams (Mikael Alafriz, 2021): *pulse* (percussive
sound pushes the latent toward a fixed direction), *motion* (harmonic sound speeds the latent along its path)
and *class* (the strongest pitch class picks the class)::

    fps: 24
    seed: 0
    presets: [pulse, motion]
    bindings:
      - {source: onset, target: blocks.1.rotate.degrees, range: [0, 45], decay: 0.3}

:func:`load_mapping` reads and checks a file; :class:`Controller` turns source values into control values
frame by frame; :func:`apply_controls` writes them into a studio state (:mod:`swerve.studio.schema`);
:func:`check_targets` checks the targets against one model. Nothing here imports torch until a model is
involved.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from collections.abc import Mapping as MappingABC
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from swerve.errors import ConfigError

SEED_MAX = 2**31 - 1
BANDS = 8  # band.0 .. band.7: log-spaced frequency bands; band.low/mid/high are three wider ones
BAND_NAMES = ("low", "mid", "high")
PITCH_CLASSES = 12
MAX_SECONDS = 60.0  # the longest attack, decay or smoothing time
MAX_FILE_BYTES = 1_000_000
CURVE_K = 3.0  # steepness of the exp and log curves
PULSE_SEED = 104_729  # the pulse direction is the latent of seed (state seed + PULSE_SEED) mod 2**31

AUDIO_SOURCES = ("rms", "onset", "percussive", "harmonic", "chroma")
CONTROLS = (
    "latent.motion",
    "latent.pulse",
    "latent.t",
    "class",
    "blend.alpha",
    "glitch.amount",
    "creative.strength",
)
# The widest output range each control takes (bend parameters: their transform's own range).
TARGET_BOUNDS: dict[str, tuple[float, float]] = {
    "latent.motion": (-50.0, 50.0),  # path legs per second
    "latent.pulse": (-10.0, 10.0),  # multiples of a latent vector
    "latent.t": (0.0, 1.0),
    "class": (0.0, 100_000.0),
    "blend.alpha": (0.0, 1.0),
    "glitch.amount": (0.0, 10.0),
    "creative.strength": (0.0, 10.0),
    "pca": (-10.0, 10.0),  # standard deviations, as the studio's sliders
}
PCA_SLIDERS = 32
CURVES = ("linear", "exp", "log", "smoothstep")

_OSC = re.compile(r"^osc:(/[!-~]*?)(?:\.(\d+))?$")
_MIDI = re.compile(r"^midi:(cc|note):(\d+):(\d+)$")
_INDEXED = re.compile(r"^(chroma|band)\.(\d+)$")
_PCA = re.compile(r"^pca\.(\d+)$")


# --- sources and targets -----------------------------------------------------------------------------------
def _audio_feature(name: str) -> str | None:
    """Why ``name`` is not an audio feature (None when it is one)."""
    if name in AUDIO_SOURCES or name in {f"band.{b}" for b in BAND_NAMES}:
        return None
    match = _INDEXED.match(name)
    if match:
        limit = PITCH_CLASSES if match[1] == "chroma" else BANDS
        if int(match[2]) < limit:
            return None
        return f"{match[1]}.K takes K in 0..{limit - 1}, got {name!r}"
    return (
        f"unknown feature {name!r} (features: rms, onset, percussive, harmonic, chroma, chroma.K, "
        f"band.low|mid|high, band.K)"
    )


def source_kind(source: str) -> str:
    """Where a source comes from: ``audio`` (a track's feature), ``mic``, ``osc`` or ``midi``; a ConfigError
    naming the fault for anything else."""
    if not isinstance(source, str) or not source:
        raise ConfigError(f"a source must be a feature name, got {source!r}")
    if source.startswith("osc:"):
        if not _OSC.match(source) or any(c in source for c in " #*,?[]{}"):
            raise ConfigError(f"an OSC source is osc:/address or osc:/address.INDEX, got {source!r}")
        return "osc"
    if source.startswith("midi:"):
        match = _MIDI.match(source)
        if not match or not 1 <= int(match[2]) <= 16 or int(match[3]) > 127:
            raise ConfigError(
                f"a MIDI source is midi:cc:CHANNEL:NUMBER or midi:note:CHANNEL:NUMBER (channel 1..16, "
                f"number 0..127), got {source!r}"
            )
        return "midi"
    if source.startswith("mic:"):
        feature = source[4:]
        if feature not in ("rms", "onset") and not feature.startswith("band."):
            raise ConfigError(f"a microphone source is mic:rms, mic:onset or mic:band.K, got {source!r}")
        fault = _audio_feature(feature)
        if fault:
            raise ConfigError(fault)
        return "mic"
    fault = _audio_feature(source)
    if fault:
        raise ConfigError(fault)
    return "audio"


def parse_osc(source: str) -> tuple[str, int]:
    """``osc:/address.i`` as ``("/address", i)`` (index 0 when none is given)."""
    match = _OSC.match(source)
    if not match:
        raise ConfigError(f"not an OSC source: {source!r}")
    return match[1], int(match[2] or 0)


def parse_midi(source: str) -> tuple[str, int, int]:
    """``midi:cc:CHANNEL:NUMBER`` as ``("cc", channel, number)`` (channel 1..16)."""
    source_kind(source)
    match = _MIDI.match(source)
    if not match:
        raise ConfigError(f"not a MIDI source: {source!r}")
    return match[1], int(match[2]), int(match[3])


def split_bend(target: str) -> tuple[str, str, str] | None:
    """``LAYER.TRANSFORM.PARAM`` as ``(layer, transform, param)``; None when ``target`` is a named control."""
    if target in CONTROLS or _PCA.match(target):
        return None
    parts = target.rsplit(".", 2)
    if len(parts) != 3 or not all(parts):
        return ("", "", "")
    return parts[0], parts[1], parts[2]


def target_bounds(target: str) -> tuple[float, float]:
    """The widest output range ``target`` takes; a ConfigError naming the fault for an unknown target."""
    if not isinstance(target, str) or not target:
        raise ConfigError(f"a target must name a control, got {target!r}")
    if target in TARGET_BOUNDS:
        return TARGET_BOUNDS[target]
    match = _PCA.match(target)
    if match:
        if int(match[1]) >= PCA_SLIDERS:
            raise ConfigError(f"pca.K takes K in 0..{PCA_SLIDERS - 1}, got {target!r}")
        return TARGET_BOUNDS["pca"]
    layer, transform, param = split_bend(target) or ("", "", "")
    if not layer:
        raise ConfigError(
            f"unknown target {target!r} (controls: {', '.join(CONTROLS)}, pca.K, or a bend parameter "
            "LAYER.TRANSFORM.PARAM such as blocks.1.rotate.degrees)"
        )
    from swerve.transforms import TRANSFORMS

    if transform not in TRANSFORMS:
        raise ConfigError(f"target {target!r}: unknown transform {transform!r} ({', '.join(TRANSFORMS)})")
    params = TRANSFORMS[transform].params
    if param not in params:
        known = ", ".join(params) or "none"
        raise ConfigError(f"target {target!r}: transform {transform!r} has no parameter {param!r} ({known})")
    spec = params[param]
    if spec.kind not in ("float", "int"):
        raise ConfigError(f"target {target!r}: parameter {param!r} is a {spec.kind}, not a number to drive")
    low = -math.inf if spec.low is None else float(spec.low)
    high = math.inf if spec.high is None else float(spec.high)
    return low, high


# --- the file ----------------------------------------------------------------------------------------------
Seconds = Annotated[float, Field(ge=0.0, le=MAX_SECONDS)]
Finite = Annotated[float, Field(ge=-1e6, le=1e6)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class Binding(_Strict):
    """One source driving one target: envelope (attack, decay, smooth), then curve, invert and range."""

    source: str
    target: str
    range: tuple[Finite, Finite] = (0.0, 1.0)
    curve: str | float = "linear"
    attack: Seconds = 0.0
    decay: Seconds = 0.0
    smooth: Seconds = 0.0
    invert: bool = False

    @field_validator("curve", mode="before")
    @classmethod
    def _curve(cls, curve: Any) -> str | float:
        if curve in CURVES:
            return curve
        number = isinstance(curve, int | float) and not isinstance(curve, bool)
        if not number or not math.isfinite(curve) or not 0 < curve <= 100:
            raise ValueError(
                f"curve must be {', '.join(CURVES)} or a gamma number in (0, 100], got {curve!r}"
            )
        return float(curve)

    @field_validator("source")
    @classmethod
    def _source(cls, source: str) -> str:
        try:
            source_kind(source)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return source

    @model_validator(mode="after")
    def _target_and_range(self) -> Binding:
        try:
            low, high = target_bounds(self.target)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        a, b = self.range
        if a == b:
            raise ValueError(f"range [{a:g}, {b:g}] maps every value to {a:g}; give two different numbers")
        if min(a, b) < low or max(a, b) > high:
            raise ValueError(f"range [{a:g}, {b:g}] of {self.target} must lie within [{low:g}, {high:g}]")
        return self

    def shape(self, x: float) -> float:
        """The output for an (enveloped) source value ``x`` in 0..1: inverted, curved, then put in range."""
        x = min(1.0, max(0.0, float(x)))
        if self.invert:
            x = 1.0 - x
        y = apply_curve(self.curve, x)
        low, high = self.range
        return low + (high - low) * y


class Mapping(_Strict):
    """A mapping file: frame rate and seed (both optional), bindings and presets."""

    fps: int | None = Field(None, ge=1, le=120)
    seed: int | None = Field(None, ge=0, le=SEED_MAX)
    bindings: list[Binding] = Field(default_factory=list, max_length=64)
    presets: list[Literal["pulse", "motion", "class"]] = Field(default_factory=list, max_length=3)

    @model_validator(mode="after")
    def _something(self) -> Mapping:
        if not self.bindings and not self.presets:
            raise ValueError("a mapping needs bindings or presets (pulse, motion, class)")
        return self

    def all_bindings(self) -> list[Binding]:
        """The presets' bindings (in the order listed) followed by the file's own."""
        return [b for name in dict.fromkeys(self.presets) for b in PRESETS[name]] + list(self.bindings)

    def sources(self) -> list[str]:
        """Every source the bindings read, once each, in order."""
        return list(dict.fromkeys(b.source for b in self.all_bindings()))

    def targets(self) -> list[str]:
        """Every target the bindings drive, once each, in order."""
        return list(dict.fromkeys(b.target for b in self.all_bindings()))


# Lucid Sonic Dreams' three effects, as bindings (its defaults: pulse on percussive amplitude with a short
# attack and a fast fall; motion speed on harmonic amplitude, slowly smoothed; class from the chromagram).
PRESETS: dict[str, list[Binding]] = {
    "pulse": [
        Binding(source="percussive", target="latent.pulse", range=(0.0, 0.8), attack=0.01, decay=0.25),
    ],
    "motion": [
        Binding(
            source="harmonic", target="latent.motion", range=(0.05, 0.6), attack=0.1, decay=0.5, smooth=0.2
        ),
    ],
    "class": [
        Binding(source="chroma", target="class", range=(0.0, 11.0)),
    ],
}


def describe(exc: ValidationError, where: str = "") -> str:
    """A pydantic error as one line: where in the file, then what is wrong."""
    first = exc.errors()[0]
    place = ".".join(str(p) for p in first.get("loc", ()))
    message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    if first.get("type") == "extra_forbidden":
        message = "unknown key"
    head = f"{where}: " if where else ""
    text = f"{head}{place}: {message}" if place else f"{head}{message}"
    return " ".join(text.split())


def parse_mapping(data: Any, where: str = "mapping") -> Mapping:
    """A :class:`Mapping` from parsed YAML/JSON; a one-line ConfigError naming the fault."""
    if not isinstance(data, MappingABC):
        raise ConfigError(
            f"{where}: a mapping file holds keys fps, seed, bindings, presets; got {data!r:.80}"
        )
    try:
        return Mapping.model_validate(dict(data))
    except ValidationError as exc:
        raise ConfigError(describe(exc, where)) from None


def load_mapping(path: str | Path) -> Mapping:
    """Read and check a mapping file (``.json``, else YAML); a one-line ConfigError on anything wrong."""
    import yaml

    path = Path(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ConfigError(f"{path}: a mapping file over {MAX_FILE_BYTES:,} bytes is not one")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"mapping file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"mapping file {path} cannot be read: {exc}") from None
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text, parse_constant=_no_constant)
        else:
            data = yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(
            f"{path} is not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}".split("\n")[0]
        ) from None
    return parse_mapping(data, str(path))


def _no_constant(name: str) -> float:
    raise ConfigError(f"numbers must be finite, got {name}")


# --- shaping -----------------------------------------------------------------------------------------------
def apply_curve(curve: str | float, x: float) -> float:
    """``x`` in 0..1 through a curve that keeps 0 at 0 and 1 at 1: linear, exp (slow then fast), log (fast
    then slow), smoothstep, or a gamma number (``x ** gamma``)."""
    if curve == "linear":
        return x
    if curve == "exp":
        return math.expm1(CURVE_K * x) / math.expm1(CURVE_K)
    if curve == "log":
        return math.log1p(math.expm1(CURVE_K) * x) / CURVE_K
    if curve == "smoothstep":
        return x * x * (3.0 - 2.0 * x)
    return x ** float(curve)


class Envelope:
    """An attack/decay follower with extra one-pole smoothing: rising values are followed with time constant
    ``attack``, falling ones with ``decay`` (seconds; 0 follows at once), and the result is smoothed with
    time constant ``smooth``. The output depends only on the inputs given so far."""

    def __init__(self, attack: float = 0.0, decay: float = 0.0, smooth: float = 0.0) -> None:
        self.attack, self.decay, self.smooth = attack, decay, smooth
        self.level: float | None = None
        self.out: float | None = None

    def step(self, value: float, dt: float) -> float:
        """Follow ``value`` for ``dt`` seconds and return the new output (the first value is taken as is)."""
        if not math.isfinite(value):
            value = 0.0
        if self.level is None or self.out is None:
            self.level = self.out = float(value)
            return self.out
        tau = self.attack if value > self.level else self.decay
        self.level += _gain(tau, dt) * (value - self.level)
        self.out += _gain(self.smooth, dt) * (self.level - self.out)
        return self.out


def _gain(tau: float, dt: float) -> float:
    """The one-pole filter's step toward its input after ``dt`` seconds with time constant ``tau``."""
    return 1.0 if tau <= 0 else 1.0 - math.exp(-max(dt, 0.0) / tau)


class Controller:
    """Control values from source values, one step (frame) at a time: each binding's envelope, shape, and
    the sum over bindings driving the same target. ``latent.motion`` (a speed) is integrated into
    ``latent.position`` (legs of the latent path travelled so far)."""

    def __init__(self, mapping: Mapping) -> None:
        self.bindings = mapping.all_bindings()
        self.envelopes = [Envelope(b.attack, b.decay, b.smooth) for b in self.bindings]
        self.position = 0.0

    def step(self, values: MappingABC[str, float], dt: float) -> dict[str, float]:
        """Controls after ``dt`` seconds with sources at ``values`` (0..1; a source not given reads 0)."""
        controls: dict[str, float] = {}
        for binding, envelope in zip(self.bindings, self.envelopes, strict=True):
            level = envelope.step(float(values.get(binding.source, 0.0)), dt)
            controls[binding.target] = controls.get(binding.target, 0.0) + binding.shape(level)
        if "latent.motion" in controls:
            self.position += controls["latent.motion"] * dt
            controls["latent.position"] = self.position
        return controls


# --- a model's controls ------------------------------------------------------------------------------------
def check_targets(mapping: Mapping, model: Any) -> None:
    """A ConfigError naming the first target ``model`` (a bundle) lacks: a bend layer its generator does not
    have, a class on a model without classes, motion or pulse on a model without a latent space."""
    from swerve import taps

    for target in mapping.targets():
        if target in ("latent.motion", "latent.pulse", "latent.t") and model.latent is None:
            raise ConfigError(f"target {target}: {model.name} has no latent space")
        if target == "class" and not model.num_classes:
            raise ConfigError(f"target class: {model.name} is not class-conditional")
        bend = split_bend(target)
        if bend:
            try:
                taps.find_layer(model.generator, taps.resolve_layer(model.generator, bend[0]))
            except ConfigError as exc:
                raise ConfigError(f"target {target}: {exc}") from None


def apply_controls(
    state: MappingABC[str, Any],
    controls: MappingABC[str, float],
    *,
    num_classes: int = 0,
    seed_latent: Callable[[int], Any] | None = None,
) -> dict[str, Any]:
    """A new studio state (the shape of :class:`swerve.studio.schema.StateIn`) with ``controls`` written in.

    ``latent.position`` and ``latent.pulse`` make the latent explicit: the point ``position`` legs along
    the slerp path through the latents of seeds ``seed, seed + 1, ...``, slerped toward seed ``toward`` by
    ``t``, plus ``pulse`` times the latent of seed ``seed + PULSE_SEED`` (a fixed direction). They need
    ``seed_latent(seed)``: the model's latent for a seed (1 x dim tensor). ``class`` is rounded and kept
    within ``num_classes``; a bend parameter is clamped to its range, its bend added if the state has none.
    """
    new = json.loads(json.dumps(dict(state)))  # a deep copy of plain JSON
    latent = new.setdefault("latent", {})
    for target, value in controls.items():
        if target in ("latent.motion", "latent.position", "latent.pulse"):
            continue
        if target == "latent.t":
            latent["t"] = _clamp(value, 0.0, 1.0)
            if latent.get("toward") is None:
                latent["toward"] = (int(latent.get("seed", 0)) + 1) % (SEED_MAX + 1)
        elif target == "class":
            new["label"] = int(_clamp(round(value), 0, max(num_classes - 1, 0)))
        elif target == "blend.alpha":
            if not new.get("blend"):
                raise ConfigError("target blend.alpha needs a blend partner in the state (blend.with)")
            new["blend"]["alpha"] = _clamp(value, 0.0, 1.0)
        elif target == "glitch.amount":
            glitch = new.get("glitch") or {"kind": "gaussian", "layers": [], "seed": 0}
            new["glitch"] = {**glitch, "amount": _clamp(value, 0.0, 10.0)}
        elif target == "creative.strength":
            creative = new.get("creative") or {"layer": "conv:0"}
            new["creative"] = {**creative, "strength": _clamp(value, 0.0, 10.0)}
        elif _PCA.match(target):
            _set_pca(new, int(target.split(".")[1]), value)
        else:
            _set_bend(new, target, value)
    position = float(controls.get("latent.position", 0.0))
    pulse = float(controls.get("latent.pulse", 0.0))
    if "latent.position" in controls or "latent.pulse" in controls:
        if seed_latent is None:
            raise ConfigError("latent motion and pulse need the model's latents (seed_latent)")
        latent["z"] = [float(v) for v in path_latent(latent, position, pulse, seed_latent)[0].tolist()]
    return new


def path_latent(latent: MappingABC[str, Any], position: float, pulse: float, seed_latent: Callable) -> Any:
    """The latent (1 x dim tensor) ``position`` legs along the path from ``latent["seed"]``, slerped toward
    ``latent["toward"]`` by ``latent["t"]``, plus ``pulse`` times the pulse direction."""
    return path_latents(latent, [position], [pulse], seed_latent)


def path_latents(
    latent: MappingABC[str, Any],
    positions: Sequence[float],
    pulses: Sequence[float],
    seed_latent: Callable,
    ts: Sequence[float] | None = None,
) -> Any:
    """:func:`path_latent` for many frames at once (N x dim): ``positions`` and ``pulses`` per frame, and
    ``ts`` (default: ``latent["t"]`` for all) the slerp toward ``latent["toward"]``."""
    import torch

    from swerve.look.walk import slerp

    seed = int(latent.get("seed", 0))
    position = torch.tensor(positions, dtype=torch.float64)
    legs = torch.floor(position)
    table = {int(k): seed_latent(_wrap(seed + int(k)))[0] for k in torch.unique(torch.cat([legs, legs + 1]))}
    start = torch.stack([table[int(k)] for k in legs])
    end = torch.stack([table[int(k) + 1] for k in legs])
    z = slerp(start, end, (position - legs).to(start.dtype)[:, None])
    if ts is None:
        ts = [float(latent.get("t") or 0.0)] * len(z)
    t = torch.tensor(ts, dtype=z.dtype)[:, None]
    if latent.get("toward") is not None and bool((t != 0).any()):
        z = torch.where(t != 0, slerp(z, seed_latent(int(latent["toward"])).expand_as(z), t), z)
    amount = torch.tensor(pulses, dtype=z.dtype)[:, None]
    return z + amount * seed_latent(_wrap(seed + PULSE_SEED))


def _wrap(seed: int) -> int:
    return seed % (SEED_MAX + 1)


def _clamp(value: float, low: float, high: float) -> float:
    return min(high, max(low, float(value)))


def _set_pca(state: dict[str, Any], k: int, value: float) -> None:
    pca = state.get("pca") or {"layer": "conv:0", "apply": "latent", "amounts": [], "k": 8}
    amounts = list(pca.get("amounts") or [])
    amounts += [0.0] * (k + 1 - len(amounts))
    amounts[k] = _clamp(value, *TARGET_BOUNDS["pca"])
    state["pca"] = {**pca, "amounts": amounts, "k": max(int(pca.get("k", 8)), k + 1)}


def _set_bend(state: dict[str, Any], target: str, value: float) -> None:
    from swerve.transforms import TRANSFORMS

    layer, transform, param = split_bend(target) or ("", "", "")
    spec = TRANSFORMS[transform].params[param]
    low = -math.inf if spec.low is None else spec.low
    high = math.inf if spec.high is None else spec.high
    value = _clamp(value, low, high)
    number: float | int = round(value) if spec.kind == "int" else value
    bends = state.setdefault("bends", [])
    for bend in bends:
        if bend.get("layer") == layer and bend.get("transform") == transform:
            bend["params"] = {**(bend.get("params") or {}), param: number}
            return
    bends.append({"layer": layer, "transform": transform, "params": {param: number}, "channels": "all"})

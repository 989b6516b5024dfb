"""Live edits: a bundle's stored activation edits, as pure tensor functions installed on its generator.

A bundle keeps its live edits in ``extra``: ``"creative"`` (the creative decoder's parameters; Das et al.
2020) and ``"bends"`` (network bends; Broad, Leymarie & Grierson, EvoMUSART 2021), with the channel clusters
a bend may name in ``"clusters"``. :func:`edit_taps` turns them into ``(layer, fn)`` pairs that
:func:`swerve.taps.install_edits` installs as the generator's edits, in this order: on one layer the
creative decoder runs first, then the bends in the order stored. Transient rewrites (a studio page's bends,
a sweep) run after them and recorders after those, so every reader of activations and every sampler sees
the same model. The methods' API for these is :mod:`swerve.diverge.bend` and :mod:`swerve.diverge.creative`.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import torch
from torch import nn

from swerve import taps
from swerve.errors import ConfigError
from swerve.taps import OutputFn
from swerve.transforms import TRANSFORMS
from swerve.utils import make_generator

Channels = str | list[int] | dict[str, Any]
EDIT_KEYS = ("creative", "bends")  # the order they run in on one layer


# --- bends -------------------------------------------------------------------------------------------------
def _check_channels(channels: Any) -> Channels:
    if channels == "all":
        return "all"
    if isinstance(channels, (list, tuple)):
        if not channels or not all(
            isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in channels
        ):
            raise ConfigError(f"channels must be a non-empty list of channel indices >= 0, got {channels!r}")
        return list(channels)
    if isinstance(channels, Mapping):
        keys = set(channels)
        if keys <= {"fraction", "seed"} and "fraction" in keys:
            f, seed = channels["fraction"], channels.get("seed", 0)
            if isinstance(f, bool) or not isinstance(f, (int, float)) or not 0 < f <= 1:
                raise ConfigError(f"channels fraction must be in (0, 1], got {f!r}")
            if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
                raise ConfigError(f"channels seed must be an integer >= 0, got {seed!r}")
            return {"fraction": float(f), "seed": seed}
        if keys == {"cluster"}:
            k = channels["cluster"]
            if isinstance(k, bool) or not isinstance(k, int) or k < 0:
                raise ConfigError(f"channels cluster must be a cluster id >= 0, got {k!r}")
            return {"cluster": k}
    raise ConfigError(
        f"channels must be 'all', a list of indices, {{fraction, seed}} or {{cluster}}; got {channels!r}"
    )


@dataclass
class Bend:
    """One bending step: apply ``transform`` with ``params`` to ``channels`` of ``layer``'s output.

    Construction checks everything that can be checked without the model (transform, parameter names and
    ranges, channel spec) and fills in default parameters.
    """

    layer: str
    transform: str
    params: dict[str, Any] = field(default_factory=dict)
    channels: Channels = "all"

    def __post_init__(self) -> None:
        if not isinstance(self.layer, str) or not self.layer:
            raise ConfigError(f"a bend needs a layer name, got {self.layer!r}")
        if self.transform not in TRANSFORMS:
            raise ConfigError(f"unknown transform {self.transform!r}; transforms: {', '.join(TRANSFORMS)}")
        if not isinstance(self.params, Mapping):
            raise ConfigError(f"params of a {self.transform} bend must be a mapping, got {self.params!r}")
        self.params = TRANSFORMS[self.transform].check_params(dict(self.params))
        self.channels = _check_channels(self.channels)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Bend:
        """Build from ``{layer, transform, params?, channels?}`` (as JSON/YAML give it)."""
        if not isinstance(d, Mapping):
            raise ConfigError(f"a bend must be a mapping with layer and transform, got {d!r}")
        unknown = sorted(map(str, set(d) - {"layer", "transform", "params", "channels"}))  # keys: any type
        if unknown:
            raise ConfigError(f"unknown bend key {unknown[0]!r} (keys: layer, transform, params, channels)")
        missing = [k for k in ("layer", "transform") if k not in d]
        if missing:
            raise ConfigError(f"a bend needs {' and '.join(missing)}: {dict(d)!r}")
        if not isinstance(d.get("params") or {}, Mapping):
            raise ConfigError(f"a bend's params must be a mapping like {{factor: 2}}, got {d['params']!r}")
        return cls(d["layer"], d["transform"], dict(d.get("params") or {}), d.get("channels", "all"))

    def to_dict(self) -> dict[str, Any]:
        """JSON form, all parameters included, so it reproduces the bend exactly."""
        return {
            "layer": self.layer,
            "transform": self.transform,
            "params": dict(self.params),
            "channels": copy.deepcopy(self.channels),
        }

    def with_params(self, **params: Any) -> Bend:
        """A copy with some parameters changed (a sweep step)."""
        return Bend(self.layer, self.transform, {**self.params, **params}, copy.deepcopy(self.channels))


def parse_bends(obj: Any) -> list[Bend]:
    """Bends from a list of dicts (or ``{"bends": [...]}``); a :class:`ConfigError` on anything wrong."""
    if isinstance(obj, Mapping) and set(obj) == {"bends"}:
        obj = obj["bends"]
    if isinstance(obj, (Bend, Mapping)):
        obj = [obj]
    if not isinstance(obj, Sequence) or isinstance(obj, str):
        raise ConfigError(f"bends must be a list of {{layer, transform, params, channels}}, got {obj!r}")
    bends = []
    for i, item in enumerate(obj):
        try:
            bends.append(item if isinstance(item, Bend) else Bend.from_dict(item))
        except ConfigError as exc:
            raise ConfigError(f"bend {i}: {exc}") from None
    return bends


def select_channels(
    channels: Channels, n_channels: int, layer: str, clusters: Mapping[str, Any] | None = None
) -> torch.Tensor | None:
    """The channel indices a spec picks out of ``n_channels`` (``None`` for all of them)."""
    if channels == "all":
        return None
    if isinstance(channels, list):
        bad = [c for c in channels if c >= n_channels]
        if bad:
            raise ConfigError(f"layer {layer!r} has {n_channels} channels; channel {bad[0]} does not exist")
        return torch.tensor(sorted(set(channels)))
    if "fraction" in channels:
        k = max(1, round(channels["fraction"] * n_channels))
        perm = torch.randperm(n_channels, generator=make_generator(channels["seed"]))
        return perm[:k].sort().values
    ids = (clusters or {}).get(layer)
    if ids is None:
        raise ConfigError(f"no channel clusters for layer {layer!r}; run 'swerve clusters' for it first")
    ids = torch.as_tensor(ids)
    if len(ids) != n_channels:
        raise ConfigError(f"clusters of {layer!r} cover {len(ids)} channels, the layer has {n_channels}")
    picked = (ids == channels["cluster"]).nonzero().flatten()
    if len(picked) == 0:
        raise ConfigError(f"layer {layer!r} has no cluster {channels['cluster']} (ids 0..{int(ids.max())})")
    return picked


def _step(
    bend: Bend,
    layer: str,
    clusters: Mapping[str, Any] | None,
    frame: int | None,
    per_sample: Sequence[Mapping[str, Any]] | None = None,
) -> OutputFn:
    """One bend as a function of the layer's output (checks and channel indices worked out once); with
    ``per_sample``, sample ``i`` of the batch is bent with the parameters ``per_sample[i]``."""
    transform = TRANSFORMS[bend.transform]
    params = dict(bend.params)
    if transform.animated:
        params["frame"] = frame
    if per_sample is not None and all(p == bend.params for p in per_sample):
        per_sample = None  # one set of parameters for the whole batch: one call
    samples = None if per_sample is None else [{**params, **p} for p in per_sample]
    moving = [k for k in bend.params if samples and any(p[k] != samples[0][k] for p in samples)]
    vector = transform.batched and all(transform.params[k].kind == "float" for k in moving)

    def bent(x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 3 and transform.sequence:  # a 1-D map (N, C, L) bends as one-row images
            return bent(x.unsqueeze(2)).squeeze(2)
        if samples is None:
            return transform.fn(x, **params)
        if x.shape[0] != len(samples):
            raise ConfigError(f"{len(samples)} sets of bend parameters for a batch of {x.shape[0]}")
        if vector:  # one call, each moving parameter a column of values, one per sample
            shape = (len(samples),) + (1,) * (x.dim() - 1)
            columns = {
                k: torch.tensor([p[k] for p in samples], dtype=x.dtype, device=x.device) for k in moving
            }
            return transform.fn(x, **{**samples[0], **{k: v.view(shape) for k, v in columns.items()}})
        return torch.cat([transform.fn(x[i : i + 1], **p) for i, p in enumerate(samples)])

    cached: dict[tuple[int, int, torch.device], torch.Tensor | None] = {}

    def step(out: torch.Tensor) -> torch.Tensor:
        key = (out.dim(), out.shape[1] if out.dim() > 1 else 0, out.device)
        if key not in cached:
            if out.dim() < 2:
                raise ConfigError(f"layer {layer!r} outputs shape {tuple(out.shape)}; bends need (N, C, ...)")
            transform.check_shape(tuple(out.shape), params, f"layer {layer!r}")
            idx = select_channels(bend.channels, out.shape[1], layer, clusters)
            cached[key] = None if idx is None else idx.to(out.device)
        idx = cached[key]
        if idx is None:
            return bent(out)
        return out.index_copy(1, idx, bent(out.index_select(1, idx)))

    return step


def _chain(steps: list[OutputFn]) -> OutputFn:
    if len(steps) == 1:
        return steps[0]

    def run(out: torch.Tensor) -> torch.Tensor:
        for step in steps:
            out = step(out)
        return out

    return run


def _without_params(bend: Bend) -> tuple[str, str, Any]:
    return bend.layer, bend.transform, bend.channels


def bend_taps(
    model: nn.Module,
    bends: Sequence[Bend | Mapping[str, Any]],
    clusters: Mapping[str, Any] | None = None,
    frame: int | None = None,
    samples: Sequence[Sequence[Bend | Mapping[str, Any]]] | None = None,
) -> list[tuple[str, OutputFn]]:
    """``bends`` as ``(layer, fn)`` taps on ``model``: one per layer, its bends in the order given.

    ``clusters`` maps a layer (as named in the bends) to each channel's cluster id, for ``{"cluster": k}``
    channel specs; ``frame`` is the animation frame that time-dependent transforms read. ``samples`` gives
    each sample of a batch its own bends: the same bends (layer, transform, channels) as ``bends``, with
    parameters of their own (frames of a music video in one batch). Every layer is looked up here, so an
    unknown one is refused before anything runs.
    """
    table = {taps.resolve_layer(model, name): ids for name, ids in (clusters or {}).items()}
    parsed = parse_bends(bends)
    own = [parse_bends(one) for one in samples] if samples is not None else None
    for i, one in enumerate(own or []):
        if list(map(_without_params, one)) != list(map(_without_params, parsed)):
            raise ConfigError(f"sample {i} has other bends than the batch (only parameters may differ)")
    per_layer: dict[str, list[OutputFn]] = {}
    for j, bend in enumerate(parsed):
        layer = taps.resolve_layer(model, bend.layer)
        taps.find_layer(model, layer)
        per_sample = None if own is None else [one[j].params for one in own]
        per_layer.setdefault(layer, []).append(_step(bend, layer, table, frame, per_sample))
    return [(layer, _chain(steps)) for layer, steps in per_layer.items()]


def stored_clusters(extra: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """The channel clusters a bundle carries in ``extra["clusters"]``, as tensors."""
    stored = extra.get("clusters") or {}
    if not isinstance(stored, Mapping):
        raise ConfigError(f"extra.clusters must map layers to cluster ids, got {type(stored).__name__}")
    return {
        layer: torch.as_tensor(entry["ids"] if isinstance(entry, Mapping) else entry)
        for layer, entry in stored.items()
    }


# --- the creative decoder ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Creative:
    """Parameters of the creative decoder (see :mod:`swerve.diverge.creative` for what each does and why)."""

    layer: str = "blocks.0"
    fraction: float = 0.25
    strength: float = 1.0
    top: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("fraction", "strength", "top"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ConfigError(f"{name} must be a finite number, got {value!r}")
        if not isinstance(self.layer, str) or not self.layer:
            raise ConfigError(f"the creative decoder needs a layer name, got {self.layer!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"seed must be an integer >= 0, got {self.seed!r}")
        if not 0 <= self.fraction <= 1:
            raise ConfigError(f"fraction must be in [0, 1], got {self.fraction}")
        if not 0 < self.top <= 0.5:
            raise ConfigError(f"top must be in (0, 0.5], got {self.top}")
        if self.strength < 0:
            raise ConfigError(f"strength must be >= 0, got {self.strength}")

    @classmethod
    def from_dict(cls, d: Any) -> Creative:
        """Build from ``{layer?, fraction?, strength?, top?, seed?}``; a :class:`ConfigError` otherwise."""
        if not isinstance(d, Mapping):
            raise ConfigError(f"the creative decoder's settings must be a mapping, got {d!r}")
        unknown = sorted(map(str, set(d) - {f.name for f in fields(cls)}))
        if unknown:
            raise ConfigError(f"the creative decoder has no setting {unknown[0]!r}")
        return cls(**d)

    def to_dict(self) -> dict:
        return asdict(self)


class CoActivate:
    """The creative decoder's rewrite of a layer output (N, C, ...): each sample's chosen weak channels
    receive the mean map of its strongest ones.

    Draws from its own generator, seeded once, so a run of samples is reproducible chunk after chunk;
    ``reset()`` starts the draws again (a bundle does so at the start of every :meth:`Bundle.sample`).
    """

    def __init__(self, config: Creative) -> None:
        self.config = config
        self.gen: torch.Generator | None = None

    def reset(self) -> None:
        self.gen = None

    def __call__(self, h: torch.Tensor) -> torch.Tensor:
        config = self.config
        if self.gen is None or self.gen.device != h.device:
            self.gen = torch.Generator(device=h.device).manual_seed(config.seed)
        n, c = h.shape[:2]
        flat = h.reshape(n, c, -1)
        size = flat.shape[2]
        order = flat.mean(2).argsort(1, descending=True)  # channels from most to least active
        strong = order[:, : max(1, round(config.top * c))]
        weak = order[:, c // 2 :]
        k = round(config.fraction * weak.shape[1])
        if k == 0 or config.strength == 0:
            return h
        draw = torch.rand(n, weak.shape[1], generator=self.gen, device=h.device).argsort(1)[:, :k]
        chosen = weak.gather(1, draw)
        pattern = flat.gather(1, strong[..., None].expand(-1, -1, size)).mean(1)  # (N, positions)
        boost = (config.strength * pattern)[:, None, :].expand(n, k, size)
        return flat.scatter_add(1, chosen[..., None].expand(n, k, size), boost).reshape(h.shape)


# --- a bundle's edits ---------------------------------------------------------------------------------------
def edits_key(extra: Mapping[str, Any]) -> str:
    """A text that changes whenever the edits stored in ``extra`` do (``""`` when it stores none)."""
    stored = {key: extra[key] for key in EDIT_KEYS if extra.get(key)}
    if not stored:
        return ""
    if stored.get("bends") and extra.get("clusters"):
        stored["clusters"] = extra["clusters"]
    return json.dumps(stored, sort_keys=True, default=repr)


def edit_taps(model: nn.Module, extra: Mapping[str, Any]) -> list[tuple[str, OutputFn]]:
    """The edits stored in a bundle's ``extra`` as ``(layer, fn)`` taps on its generator ``model``, in the
    order they run (:data:`EDIT_KEYS`); a :class:`ConfigError` naming what does not fit."""
    found: list[tuple[str, OutputFn]] = []
    if extra.get("creative"):
        config = Creative.from_dict(extra["creative"])
        layer = taps.resolve_layer(model, config.layer)
        taps.find_layer(model, layer)
        found.append((layer, CoActivate(config)))
    if extra.get("bends"):
        found += bend_taps(model, extra["bends"], clusters=stored_clusters(extra))
    return found


def install(model: nn.Module, extra: Mapping[str, Any]) -> None:
    """Install the edits stored in ``extra`` on ``model`` (replacing whatever edits it had)."""
    taps.install_edits(model, edit_taps(model, extra), edits_key(extra))

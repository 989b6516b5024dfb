"""Network bending (Broad, Leymarie & Grierson, EvoMUSART 2021): transform a generator's activations.

A bend is one ``{layer, transform, params, channels}`` entry; a list of bends is applied in order while a
``with apply_bends(G, bends):`` block runs, through :func:`swerve.taps.rewrite` hooks that are removed on
exit, so the unbent model is back bit-exactly afterwards. Layers are ``named_modules`` names or the
``conv:i`` / ``linear:i`` shortcuts of :mod:`swerve.taps`; the transforms are in
:mod:`swerve.diverge.transforms`. Nothing here touches weights: :func:`bend_bundle` stores the bends in the
bundle, and :meth:`swerve.bundle.Bundle.sample` applies them.

    bends = parse_bends([{"layer": "conv:1", "transform": "rotate", "params": {"degrees": 45},
                          "channels": {"fraction": 0.5, "seed": 0}}])
    with apply_bends(G, bends):
        x = G(z)
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from swerve import taps
from swerve.bundle import Bundle
from swerve.diverge.transforms import TRANSFORMS, Param, Transform
from swerve.errors import ConfigError
from swerve.taps import OutputFn
from swerve.utils import make_generator

__all__ = [
    "TRANSFORMS",
    "Param",
    "Transform",
    "Bend",
    "parse_bends",
    "apply_bends",
    "bend_bundle",
    "select_channels",
    "bundle_bends",
    "bundle_clusters",
    "bundle_applied",
    "sweep",
]

Channels = str | list[int] | dict[str, Any]


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


def _step(bend: Bend, layer: str, clusters: Mapping[str, Any] | None, frame: int | None) -> OutputFn:
    """One bend as a function of the layer's output (checks and channel indices worked out once)."""
    transform = TRANSFORMS[bend.transform]
    params = dict(bend.params)
    if transform.animated:
        params["frame"] = frame
    cached: dict[tuple[int, int, torch.device], torch.Tensor | None] = {}

    def step(out: torch.Tensor) -> torch.Tensor:
        key = (out.dim(), out.shape[1] if out.dim() > 1 else 0, out.device)
        if key not in cached:
            if out.dim() < 2:
                raise ConfigError(f"layer {layer!r} outputs shape {tuple(out.shape)}; bends need (N, C, ...)")
            if out.dim() != 4 and not transform.pointwise:
                raise ConfigError(
                    f"transform {transform.name!r} needs feature maps (N, C, H, W); layer {layer!r} outputs "
                    f"shape {tuple(out.shape)}; on 1-D layers use a pointwise transform"
                )
            idx = select_channels(bend.channels, out.shape[1], layer, clusters)
            cached[key] = None if idx is None else idx.to(out.device)
        idx = cached[key]
        if idx is None:
            return transform.fn(out, **params)
        return out.index_copy(1, idx, transform.fn(out.index_select(1, idx), **params))

    return step


def _chain(steps: list[OutputFn]) -> OutputFn:
    if len(steps) == 1:
        return steps[0]

    def run(out: torch.Tensor) -> torch.Tensor:
        for step in steps:
            out = step(out)
        return out

    return run


@contextmanager
def apply_bends(
    model: nn.Module,
    bends: Sequence[Bend | Mapping[str, Any]],
    *,
    clusters: Mapping[str, Any] | None = None,
    frame: int | None = None,
) -> Iterator[list[Bend]]:
    """Apply ``bends`` in order to every forward pass of ``model`` inside the ``with`` block.

    ``clusters`` maps a layer (as named in the bends) to each channel's cluster id, for ``{"cluster": k}``
    channel specs; ``frame`` is the animation frame that time-dependent transforms read. Bends on one layer
    share one hook and run in the order given. The hooks go when the block exits, even on an exception,
    leaving the model exactly as it was.
    """
    parsed = parse_bends(bends)
    table = {taps.resolve_layer(model, name): ids for name, ids in (clusters or {}).items()}
    per_layer: dict[str, list[OutputFn]] = {}
    for bend in parsed:
        layer = taps.resolve_layer(model, bend.layer)
        taps.find_layer(model, layer)  # a clear error for an unknown layer before anything runs
        per_layer.setdefault(layer, []).append(_step(bend, layer, table, frame))
    with ExitStack() as stack:
        for layer, steps in per_layer.items():
            stack.enter_context(taps.rewrite(model, layer, _chain(steps)))
        yield parsed


def bundle_bends(bundle: Bundle) -> list[Bend]:
    """The bends a bundle carries in ``extra["bends"]`` (none for an unbent bundle)."""
    return parse_bends(bundle.extra.get("bends") or [])


def bundle_clusters(bundle: Bundle) -> dict[str, torch.Tensor]:
    """The channel clusters a bundle carries in ``extra["clusters"]``, as tensors."""
    stored = bundle.extra.get("clusters") or {}
    return {
        layer: torch.as_tensor(entry["ids"] if isinstance(entry, Mapping) else entry)
        for layer, entry in stored.items()
    }


def bend_bundle(bundle: Bundle, bends: Sequence[Bend | Mapping[str, Any]], replace: bool = False) -> Bundle:
    """A copy of ``bundle`` carrying ``bends`` (after any it already has, or instead with ``replace``).

    No weight changes: the copy shares the networks and stores the bends in ``extra["bends"]``, which
    :meth:`Bundle.sample` applies; the edit is recorded in the history.
    """
    parsed = parse_bends(bends)
    gen = bundle.generator
    for bend in parsed:
        taps.find_layer(gen, bend.layer)
    kept = [] if replace else bundle_bends(bundle)
    out = bundle.edit_copy()
    out.extra["bends"] = [b.to_dict() for b in kept + parsed]
    out.record("bend", bends=[b.to_dict() for b in parsed], replace=replace)
    return out


@contextmanager
def bundle_applied(bundle: Bundle, frame: int | None = None) -> Iterator[None]:
    """Apply the bends a bundle carries to its generator (nothing when it has none)."""
    bends = bundle_bends(bundle)
    if not bends:
        yield
        return
    with apply_bends(bundle.generator, bends, clusters=bundle_clusters(bundle), frame=frame):
        yield


@torch.no_grad()
def sweep(
    bundle: Bundle,
    bends: Sequence[Bend | Mapping[str, Any]],
    which: int | None = None,
    param: str | None = None,
    values: Sequence[Any] = (),
    frames: int | None = None,
    n: int = 1,
    seed: int = 0,
    labels: torch.Tensor | list[int] | int | None = None,
) -> list[torch.Tensor]:
    """Frames of an animation: the same ``n`` latents, bends ``bends`` with parameter ``param`` of bend
    ``which`` taking each of ``values`` in turn (or, without ``param``, only the frame index changing, for
    time oscillations). The bundle's own bends apply first."""
    parsed = bundle_bends(bundle) + parse_bends(bends)
    if param is not None:
        if which is None or not -len(parsed) <= which < len(parsed):
            raise ConfigError(f"the sweep names bend {which}, but there are {len(parsed)} bends")
        if param not in TRANSFORMS[parsed[which].transform].params:
            raise ConfigError(f"bend {which} ({parsed[which].transform}) has no parameter {param!r}")
        steps = [parsed[which].with_params(**{param: v}) for v in values]
    else:
        steps = [None] * int(frames or 0)
    if not steps:
        raise ConfigError("a sweep needs at least one frame")
    plain = Bundle(bundle.networks, bundle.data, bundle.latent, name=bundle.name)
    z = bundle.latent.sample(n, make_generator(seed)) if bundle.latent else None
    clusters = bundle_clusters(bundle)
    out = []
    for frame, step in enumerate(steps):
        frame_bends = list(parsed)
        if step is not None:
            frame_bends[which] = step
        with apply_bends(bundle.generator, frame_bends, clusters=clusters, frame=frame):
            out.append(plain.sample(n, seed=seed, z=z, labels=labels).x)
    return out

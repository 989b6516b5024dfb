"""Network bending (Broad, Leymarie & Grierson, EvoMUSART 2021): transform a generator's activations.

A bend is one ``{layer, transform, params, channels}`` entry; a list of bends is applied in order while a
``with apply_bends(G, bends):`` block runs, through :func:`swerve.taps.rewrite` hooks that are removed on
exit, so the unbent model is back bit-exactly afterwards. Layers are ``named_modules`` names or the
``conv:i`` / ``linear:i`` shortcuts of :mod:`swerve.taps`; the transforms are in
:mod:`swerve.diverge.transforms`. Nothing here touches weights: :func:`bend_bundle` stores the bends in the
bundle (``extra["bends"]``), which installs them on its generator as its edits (:mod:`swerve.live`), so
``bundle.generator(z)``, :meth:`~swerve.bundle.Bundle.sample` and every tap see the bent model. Bends
applied with :func:`apply_bends` run after a bundle's own.

    bends = parse_bends([{"layer": "conv:1", "transform": "rotate", "params": {"degrees": 45},
                          "channels": {"fraction": 0.5, "seed": 0}}])
    with apply_bends(G, bends):
        x = G(z)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

import torch
from torch import nn

from swerve import taps
from swerve.bundle import Bundle
from swerve.errors import ConfigError
from swerve.live import Bend, bend_taps, parse_bends, select_channels, stored_clusters
from swerve.transforms import TRANSFORMS, Param, Transform
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
    "sweep",
]


@contextmanager
def apply_bends(
    model: nn.Module,
    bends: Sequence[Bend | Mapping[str, Any]],
    *,
    clusters: Mapping[str, Any] | None = None,
    frame: int | None = None,
    samples: Sequence[Sequence[Bend | Mapping[str, Any]]] | None = None,
) -> Iterator[list[Bend]]:
    """Apply ``bends`` in order to every forward pass of ``model`` inside the ``with`` block.

    ``clusters`` maps a layer (as named in the bends) to each channel's cluster id, for ``{"cluster": k}``
    channel specs; ``frame`` is the animation frame that time-dependent transforms read; ``samples`` gives
    each sample of the batch the parameters of its own copy of ``bends`` (see :func:`bend_taps`). Bends on
    one layer share one hook and run in the order given. The hooks go when the block exits, even on an
    exception, leaving the model exactly as it was.
    """
    parsed = parse_bends(bends)
    with ExitStack() as stack:
        for layer, fn in bend_taps(model, parsed, clusters, frame, samples):
            stack.enter_context(taps.rewrite(model, layer, fn))
        yield parsed


def bundle_bends(bundle: Bundle) -> list[Bend]:
    """The bends a bundle carries in ``extra["bends"]`` (none for an unbent bundle)."""
    return parse_bends(bundle.extra.get("bends") or [])


def bundle_clusters(bundle: Bundle) -> dict[str, torch.Tensor]:
    """The channel clusters a bundle carries in ``extra["clusters"]``, as tensors."""
    return stored_clusters(bundle.extra)


def bend_bundle(bundle: Bundle, bends: Sequence[Bend | Mapping[str, Any]], replace: bool = False) -> Bundle:
    """A copy of ``bundle`` carrying ``bends`` (after any it already has, or instead with ``replace``).

    No weight changes: the bends go in ``extra["bends"]``, and the copy's generator (a copy of the module,
    so ``bundle`` stays unbent) carries them as its edits; the edit is recorded in the history.
    """
    parsed = parse_bends(bends)
    gen = bundle.generator
    for bend in parsed:
        taps.find_layer(gen, bend.layer)
    kept = [] if replace else bundle_bends(bundle)
    out = bundle.edit_copy()
    out.extra["bends"] = [b.to_dict() for b in kept + parsed]
    out.record("bend", bends=[b.to_dict() for b in parsed], replace=replace)
    out.generator  # noqa: B018  (installs the bends now, so a bend that does not fit is refused here)
    return out


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
    plain = bundle.edit_copy()  # the bundle without its bends, which every frame applies itself
    plain.extra.pop("bends", None)
    z = bundle.latent.sample(n, make_generator(seed)) if bundle.latent else None
    clusters = bundle_clusters(bundle)
    out = []
    for frame, step in enumerate(steps):
        frame_bends = list(parsed)
        if step is not None:
            frame_bends[which] = step
        with apply_bends(plain.generator, frame_bends, clusters=clusters, frame=frame):
            out.append(plain.sample(n, seed=seed, z=z, labels=labels).x)
    return out

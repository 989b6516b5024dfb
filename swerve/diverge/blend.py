"""Network blending: mix the weights, or the predictions, of related models.

- Weight interpolation ``p = (1 - alpha) p_A + alpha p_B`` with one alpha, one per layer, or the
  resolution-dependent schedule of Pinkney & Adler (2020, "toonify"): layers ordered coarse to fine,
  ``alpha = logistic((position - pivot) / width)`` or a hard swap at the pivot, so coarse layers (pose,
  layout) come from A and fine ones (texture, colour) from B.
- Merging several models: a weighted average, and task arithmetic (Ilharco et al. 2023):
  ``base + lambda (tuned - base)``.
- Prediction blending: mix the outputs, or one layer's activations, of several generators.

All weight blends are functions from state dicts to state dicts; the bundle versions copy the first bundle,
load the result and record the edit. Models that do not fit each other raise :class:`IncompatibleModels`
naming the first tensor that differs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from swerve import taps
from swerve.bundle import Bundle
from swerve.diverge.edits import derive
from swerve.errors import BundleError, ConfigError

StateDict = Mapping[str, torch.Tensor]


class IncompatibleModels(ConfigError):
    """Two models whose weights cannot be blended: different tensors or shapes."""


def check_compatible(a: StateDict, b: StateDict, names: tuple[str, str] = ("A", "B")) -> None:
    """Raise :class:`IncompatibleModels` naming the first tensor that one lacks or that differs in shape."""
    for key in list(a) + [k for k in b if k not in a]:
        if key not in b or key not in a:
            has, lacks = (names[0], names[1]) if key in a else (names[1], names[0])
            raise IncompatibleModels(f"models differ at tensor {key!r}: {has} has it, {lacks} does not")
        if a[key].shape != b[key].shape:
            raise IncompatibleModels(
                f"models differ at tensor {key!r}: shape {tuple(a[key].shape)} in {names[0]}, "
                f"{tuple(b[key].shape)} in {names[1]}"
            )


def _alpha_for(key: str, alpha: float | Mapping[str, float]) -> float:
    """Alpha of the longest layer name that prefixes ``key`` (``"*"`` or else 0 when none does)."""
    if not isinstance(alpha, Mapping):
        return float(alpha)
    best, value = -1, float(alpha.get("*", 0.0))
    for layer, a in alpha.items():
        if layer != "*" and (key == layer or key.startswith(layer + ".")) and len(layer) > best:
            best, value = len(layer), float(a)
    return value


MAX_ALPHA = 1e6  # far past any useful extrapolation, and inside float32 for torch.lerp


def _check_alpha(alpha: float | Mapping[str, float]) -> None:
    values = alpha.values() if isinstance(alpha, Mapping) else [alpha]
    for a in values:
        if isinstance(a, bool) or not isinstance(a, (int, float)) or not abs(a) <= MAX_ALPHA:
            raise ConfigError(f"alpha must be a finite number in [-{MAX_ALPHA:g}, {MAX_ALPHA:g}], got {a!r}")


def blend_state_dicts(
    a: StateDict, b: StateDict, alpha: float | Mapping[str, float]
) -> dict[str, torch.Tensor]:
    """``(1 - alpha) a + alpha b`` per tensor; ``alpha`` a number or ``{layer: alpha}`` (longest prefix wins).

    alpha 0 gives ``a`` and 1 gives ``b`` exactly; values outside [0, 1] extrapolate. Integer tensors (batch
    norm counters) are taken from whichever side has the larger weight.
    """
    _check_alpha(alpha)
    check_compatible(a, b)
    out = {}
    for key, ta in a.items():
        w = _alpha_for(key, alpha)
        tb = b[key].to(ta.device)
        if ta.is_floating_point():
            out[key] = torch.lerp(ta, tb.to(ta.dtype), w)  # exact at w = 0 and w = 1
        else:
            out[key] = (tb if w >= 0.5 else ta).clone()
    return out


def layer_order(model: nn.Module) -> list[str]:
    """A generator's layers coarse to fine, for a resolution schedule: the blocks it names itself
    (``block_names``, one per resolution in swerve's StyleGANs, the unit toonify blends by), or else the
    linear and conv layers its ``linear:i`` / ``conv:i`` shortcuts name (see :func:`swerve.taps.shortcuts`)
    in registration order, which is the order generators build them in."""
    named = getattr(model, "block_names", None)
    if named:
        return list(named)
    position = {name: i for i, name in enumerate(taps.layer_names(model))}
    blocks = set(taps.block_names(model, "linear")) | set(taps.block_names(model, "conv"))
    return sorted(blocks, key=position.__getitem__)


def _in(key: str, layer: str) -> bool:
    return key == layer or key.startswith(layer + ".")


def follow_layers(keys: Sequence[str], layers: Sequence[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Which of ``layers`` each state-dict tensor follows in a schedule: its own layer, or, for a tensor
    outside every layer (a norm's weights, a learned constant, the mapping network), the layer registered
    just before it, or the first layer for tensors registered before any. ``keys`` in registration order
    (``state_dict`` order); returns ``(every tensor's layer, the tensors outside the layers and theirs)``."""
    owner = {key: next((layer for layer in layers if _in(key, layer)), None) for key in keys}
    last = next((layer for layer in owner.values() if layer is not None), layers[0])
    follows, rest = {}, {}
    for key in keys:
        if owner[key] is None:
            follows[key] = rest[key] = last
        else:
            follows[key] = last = owner[key]
    return follows, rest


def _pivot_layer(model: nn.Module, names: Sequence[str], pivot: str) -> str:
    """A pivot name as one of the scheduled ``names``: a shortcut's layer, a scheduled layer itself, or the
    first scheduled layer inside the named module (``blocks.0`` for ``blocks.0.0``)."""
    pivot = taps.resolve_weights(model, pivot)
    inside = [name for name in names if _in(name, pivot)]
    return pivot if pivot in names or not inside else inside[0]


def resolution_schedule(
    names: Sequence[str], pivot: int | float | str, width: float = 1.0, hard: bool = False
) -> dict[str, float]:
    """Per-layer alpha for ``names`` ordered coarse to fine (Pinkney & Adler 2020).

    ``alpha(i) = logistic((i - pivot) / width)``; with ``hard`` the layers before ``pivot`` get 0 and the
    rest 1. ``pivot`` is a position (fractions allowed) or one of ``names``.
    """
    names = list(names)
    if not names:
        raise ConfigError("a resolution schedule needs at least one layer")
    if isinstance(pivot, str):
        if pivot not in names:
            raise ConfigError(f"pivot layer {pivot!r} is not one of {', '.join(names)}")
        pivot = names.index(pivot)
    if isinstance(pivot, bool) or not isinstance(pivot, (int, float)) or not math.isfinite(pivot):
        raise ConfigError(f"pivot must be a layer name or position, got {pivot!r}")
    if not 0 <= pivot <= len(names) - 1:
        raise ConfigError(f"pivot position must lie in [0, {len(names) - 1}] ; got {pivot}")
    if hard:
        return {name: 0.0 if i < pivot else 1.0 for i, name in enumerate(names)}
    if not width > 0:
        raise ConfigError(f"schedule width must be > 0, got {width!r}")
    # logistic(t) = (1 + tanh(t / 2)) / 2, which does not overflow for a tiny width
    return {name: 0.5 + 0.5 * math.tanh((i - pivot) / (2 * width)) for i, name in enumerate(names)}


def check_same_vocab(bundles: Sequence[Bundle]) -> None:
    """Text models blend only when they spell with the same characters in the same order (the same
    vocabulary): :class:`IncompatibleModels` naming the first pair that does not."""
    first = bundles[0]
    for other in bundles[1:]:
        va, vb = first.extra.get("vocab"), other.extra.get("vocab")
        if va != vb:
            what = (
                "one makes text, the other does not"
                if (va is None) != (vb is None)
                else (f"their character vocabularies differ ({len(va)} and {len(vb)} characters)")
            )
            raise IncompatibleModels(f"cannot blend {first.name} and {other.name}: {what}")


def _role_of(bundle: Bundle, role: str) -> nn.Module:
    if role not in bundle.networks:
        raise BundleError(f"bundle {bundle.name} has no {role} (it has: {', '.join(bundle.networks)})")
    return bundle.networks[role]


def blend_bundles(
    a: Bundle,
    b: Bundle,
    alpha: float | Mapping[str, float] = 0.5,
    schedule: Mapping[str, Any] | None = None,
    role: str = "generator",
) -> Bundle:
    """A copy of ``a`` whose ``role`` network is blended with ``b``'s.

    ``schedule={"pivot": ..., "width": 1.0, "hard": False}`` uses :func:`resolution_schedule` over the
    generator's layers coarse to fine (:func:`layer_order`); every tensor outside those layers (a norm's
    weights, a learned constant, a class embedding) follows the layer registered just before it
    (:func:`follow_layers`), and the history's ``follows`` lists each such tensor with its layer. Otherwise
    ``alpha`` is global or per layer (``conv:i`` names the convolution alone).
    """
    check_same_vocab([a, b])
    net_a, net_b = _role_of(a, role), _role_of(b, role)
    per_tensor: float | Mapping[str, float] = alpha
    extra: dict[str, Any] = {}
    if schedule is not None:
        unknown = sorted(set(schedule) - {"pivot", "width", "hard"})
        if unknown or "pivot" not in schedule:
            raise ConfigError(f"a schedule is {{pivot, width?, hard?}}, got {dict(schedule)!r}")
        names, pivot = layer_order(net_a), schedule["pivot"]
        alpha = resolution_schedule(
            names,
            _pivot_layer(net_a, names, pivot) if isinstance(pivot, str) else pivot,
            schedule.get("width", 1.0),
            bool(schedule.get("hard", False)),
        )
        follows, rest = follow_layers(list(net_a.state_dict()), names)
        per_tensor = {key: alpha[layer] for key, layer in follows.items()}
        extra["follows"] = rest
    elif isinstance(alpha, Mapping):  # layer names may be shortcuts (conv:1)
        alpha = {k if k == "*" else taps.resolve_weights(net_a, k): v for k, v in alpha.items()}
        for layer in alpha:
            if layer != "*":
                taps.find_layer(net_a, layer)
        per_tensor = alpha
    try:
        state = blend_state_dicts(net_a.state_dict(), net_b.state_dict(), per_tensor)
    except IncompatibleModels as exc:
        raise IncompatibleModels(f"cannot blend {a.name} and {b.name}: {exc}") from None
    params = {
        "other": b.name,
        "role": role,
        "alpha": alpha,
        "schedule": dict(schedule or {}) or None,
        **extra,
    }
    return derive(a, {role: state}, "blend", name=f"{a.name}+{b.name}", **params)


def merge_state_dicts(states: Sequence[StateDict], weights: Sequence[float] | None = None) -> dict:
    """The weighted average of several compatible state dicts (weights normalised to sum to 1)."""
    if not states:
        raise ConfigError("merging needs at least one model")
    weights = [1.0] * len(states) if weights is None else [float(w) for w in weights]
    if len(weights) != len(states):
        raise ConfigError(f"{len(states)} models but {len(weights)} weights")
    total = sum(weights)
    if not math.isfinite(total) or abs(total) < 1e-12:
        raise ConfigError(f"merge weights must have a finite, non-zero sum, got {weights}")
    for i, other in enumerate(states[1:], start=1):
        check_compatible(states[0], other, ("model 0", f"model {i}"))
    out = {}
    for key, first in states[0].items():
        if first.is_floating_point():
            out[key] = sum(s[key].to(first) * (w / total) for s, w in zip(states, weights, strict=True))
        else:
            out[key] = first.clone()
    return out


def task_arithmetic_state_dicts(
    base: StateDict, tuned: Sequence[StateDict], lam: float | Sequence[float]
) -> dict[str, torch.Tensor]:
    """``base + sum_i lam_i (tuned_i - base)``: add task vectors (Ilharco et al., ICLR 2023)."""
    lams = [float(lam)] * len(tuned) if isinstance(lam, (int, float)) else [float(v) for v in lam]
    if len(lams) != len(tuned):
        raise ConfigError(f"{len(tuned)} fine-tuned models but {len(lams)} lambdas")
    if not all(math.isfinite(v) for v in lams):
        raise ConfigError(f"task-vector scales must be finite numbers, got {lams}")
    for i, other in enumerate(tuned):
        check_compatible(base, other, ("base", f"tuned {i}"))
    out = {}
    for key, tb in base.items():
        if tb.is_floating_point():
            delta = sum(lam_i * (t[key].to(tb) - tb) for t, lam_i in zip(tuned, lams, strict=True))
            out[key] = tb + delta
        else:
            out[key] = tb.clone()
    return out


def merge(
    bundles: Sequence[Bundle], weights: Sequence[float] | None = None, role: str = "generator"
) -> Bundle:
    """A copy of the first bundle whose ``role`` network is the weighted average of all of theirs."""
    check_same_vocab(bundles)
    state = merge_state_dicts([_role_of(b, role).state_dict() for b in bundles], weights)
    names = [b.name for b in bundles]
    return derive(
        bundles[0],
        {role: state},
        "merge",
        name="+".join(names),
        models=names,
        weights=list(weights) if weights is not None else None,
        role=role,
    )


def task_arithmetic(
    base: Bundle,
    tuned: Bundle | Sequence[Bundle],
    lam: float | Sequence[float] = 1.0,
    role: str = "generator",
) -> Bundle:
    """A copy of ``base`` moved along the task vector(s) of ``tuned``: ``base + lam (tuned - base)``."""
    tuned = [tuned] if isinstance(tuned, Bundle) else list(tuned)
    check_same_vocab([base, *tuned])
    state = task_arithmetic_state_dicts(
        _role_of(base, role).state_dict(), [_role_of(t, role).state_dict() for t in tuned], lam
    )
    return derive(
        base,
        {role: state},
        "task-arithmetic",
        tuned=[t.name for t in tuned],
        lam=lam if isinstance(lam, (int, float)) else list(lam),
        role=role,
    )


@torch.no_grad()
def blend_predictions(
    models: Sequence[nn.Module],
    weights: Sequence[float],
    *inputs: Any,
    layer: str | None = None,
    **kwargs: Any,
) -> torch.Tensor:
    """Mix several models' outputs (``layer=None``) or one layer's activations with ``weights``.

    With ``layer``, every model runs on the same inputs, the layer's activations are mixed, and the first
    model finishes the forward pass from the mixture, so the models need that layer's shape in common.
    """
    if len(models) != len(weights) or not models:
        raise ConfigError(f"{len(models)} models but {len(weights)} weights")
    if not all(isinstance(w, int | float) and not isinstance(w, bool) and math.isfinite(w) for w in weights):
        raise ConfigError(f"prediction weights must be finite numbers, got {list(weights)}")
    if layer is None:
        outs = [m(*inputs, **kwargs) for m in models]
        shapes = {tuple(o.shape) for o in outs}
        if len(shapes) > 1:
            raise IncompatibleModels(f"model outputs differ in shape: {sorted(shapes)}")
        return sum(w * o for w, o in zip(weights, outs, strict=True))
    acts = []
    for m in models:
        with taps.record(m, [layer]) as rec:
            m(*inputs, **kwargs)
        acts.append(rec[layer])
    shapes = {tuple(a.shape) for a in acts}
    if len(shapes) > 1:
        raise IncompatibleModels(f"layer {layer!r} differs in shape between the models: {sorted(shapes)}")
    mixed = sum(w * a for w, a in zip(weights, acts, strict=True))
    with taps.rewrite(models[0], layer, lambda out: mixed):
        return models[0](*inputs, **kwargs)

"""What a sweep job can do: operations (bundle, params, seed, n -> samples) and metrics (-> numbers).

Both are registries of plain, pure functions keyed by name, so a sweep spec names them and a worker process
looks them up. An operation must depend on nothing but its arguments: a job's result is cached by the hash
of those arguments (sweep.py). ``module:function`` import paths work too, for operations of your own.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from swerve.bundle import Bundle, Samples
from swerve.errors import ConfigError


@dataclass(frozen=True)
class Operation:
    """``run(bundle, params, seed, n) -> Samples``; ``check(params)`` raises ConfigError on bad params
    before any job starts; ``inputs(params)`` names the other bundles a job reads, whose contents are then
    part of its cache key (both may be None)."""

    name: str
    run: Callable[[Bundle, dict[str, Any], int, int], Samples]
    check: Callable[[dict[str, Any]], None] | None = None
    inputs: Callable[[dict[str, Any]], list[str]] | None = None


OPERATIONS: dict[str, Operation] = {}
# A metric sees the job's samples, the bundle, and the unmodified bundle's samples at the same seed.
METRICS: dict[str, Callable[[Samples, Bundle, Callable[[], Samples]], float]] = {}


def operation(
    name: str,
    check: Callable[[dict[str, Any]], None] | None = None,
    inputs: Callable[[dict[str, Any]], list[str]] | None = None,
) -> Callable:
    """Register ``fn(bundle, params, seed, n) -> Samples`` as operation ``name``."""

    def register(fn: Callable) -> Callable:
        OPERATIONS[name] = Operation(name, fn, check, inputs)
        return fn

    return register


def metric(name: str) -> Callable:
    """Register ``fn(samples, bundle, base) -> float`` as metric ``name``."""

    def register(fn: Callable) -> Callable:
        METRICS[name] = fn
        return fn

    return register


def get_operation(name: str) -> Operation:
    """The operation registered as ``name``, or the function at import path ``module:function``."""
    if name in OPERATIONS:
        return OPERATIONS[name]
    if ":" in name:
        module, _, attr = name.partition(":")
        try:
            fn = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError, ValueError) as exc:
            raise ConfigError(f"operation {name!r} cannot be imported: {exc}") from None
        if not callable(fn):
            raise ConfigError(f"operation {name!r} is not a function")
        return Operation(name, fn)
    raise ConfigError(
        f"unknown operation {name!r}; known: {', '.join(sorted(OPERATIONS))} or module:function"
    )


def check_metric(name: Any) -> None:
    if name not in METRICS:
        raise ConfigError(f"unknown metric {name!r}; known: {', '.join(sorted(METRICS))}")


def _params(params: dict[str, Any], allowed: set[str], op: str) -> None:
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ConfigError(f"operation {op!r} takes no parameter(s) {', '.join(map(str, unknown))}")


# --- operations --------------------------------------------------------------------------------------------
def _check_sample(params: dict[str, Any]) -> None:
    _params(params, {"labels"}, "sample")


@operation("sample", check=_check_sample)
def sample(bundle: Bundle, params: dict[str, Any], seed: int, n: int) -> Samples:
    """Samples of the bundle as it is (labels: a class index or list, for a conditional model)."""
    return bundle.sample(n, seed=seed, labels=params.get("labels"))


def _check_bend(params: dict[str, Any]) -> None:
    from swerve.diverge.bend import parse_bends

    _params(params, {"bends", "labels"}, "bend")
    parse_bends(params.get("bends"))


@operation("bend", check=_check_bend)
def bend(bundle: Bundle, params: dict[str, Any], seed: int, n: int) -> Samples:
    """Samples of the bundle bent by the recipe ``params["bends"]`` (network bending, Broad et al. 2021)."""
    from swerve.diverge.bend import bend_bundle, parse_bends

    bent = bend_bundle(bundle, parse_bends(params["bends"]))
    return bent.sample(n, seed=seed, labels=params.get("labels"))


def _check_blend(params: dict[str, Any]) -> None:
    _params(params, {"other", "alpha", "schedule", "labels"}, "blend")
    if not isinstance(params.get("other"), str):
        raise ConfigError("operation 'blend' needs other: the bundle (path or zoo name) to blend with")
    alpha = params.get("alpha", 0.5)
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 <= alpha <= 1:
        raise ConfigError(f"blend alpha must be a number in [0, 1], got {alpha!r}")
    if not isinstance(params.get("schedule", {}), dict):
        raise ConfigError("blend schedule is a mapping {pivot, width?, hard?}")


@operation("blend", check=_check_blend, inputs=lambda params: [params["other"]])
def blend(bundle: Bundle, params: dict[str, Any], seed: int, n: int) -> Samples:
    """Samples of the weight blend of the bundle with ``params["other"]`` at ``alpha`` (1: all the other)
    or along a coarse-to-fine ``schedule`` (model blending, Broad et al. 2021)."""
    from swerve.bundle import load
    from swerve.diverge.blend import blend_bundles

    other = load(params["other"], device=bundle.device)
    mixed = blend_bundles(bundle, other, alpha=params.get("alpha", 0.5), schedule=params.get("schedule"))
    return mixed.sample(n, seed=seed, labels=params.get("labels"))


# --- metrics -----------------------------------------------------------------------------------------------
def _rms(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a.flatten(1) - b.flatten(1)).pow(2).mean(1).sqrt()


@metric("change")
def change(samples: Samples, bundle: Bundle, base: Callable[[], Samples]) -> float:
    """Mean RMS distance to the unmodified bundle's sample on the same latent: how far the operation went."""
    return float(_rms(samples.x, base().x).mean())


@metric("diversity")
def diversity(samples: Samples, bundle: Bundle, base: Callable[[], Samples]) -> float:
    """Mean RMS distance between pairs of samples (falls towards 0 as the output collapses)."""
    x = samples.x.flatten(1).double()
    d = torch.cdist(x, x) / x.shape[1] ** 0.5
    n = len(x)
    return float(d.sum() / max(1, n * (n - 1)))


@metric("class_agreement")
def agreement(samples: Samples, bundle: Bundle, base: Callable[[], Samples]) -> float:
    """Share of a conditional model's samples that the dataset's domain classifier puts in the asked class."""
    from swerve.measure import class_agreement

    if samples.labels is None:
        raise ConfigError(f"class_agreement needs a class-conditional model; {bundle.name} is not one")
    return class_agreement(_classifier(bundle.data.dataset), samples.x, samples.labels)


@metric("objectness")
def objectness_metric(samples: Samples, bundle: Bundle, base: Callable[[], Samples]) -> float:
    """How confidently and variously the domain classifier labels the samples (1 ... number of classes)."""
    from swerve.measure import objectness

    classifier = _classifier(bundle.data.dataset)
    with torch.no_grad():
        return objectness(classifier(samples.x.to(next(classifier.parameters()).device)).softmax(1))


_CLASSIFIERS: dict[str, torch.nn.Module] = {}


def _classifier(dataset: str) -> torch.nn.Module:
    """The dataset's domain classifier, loaded once per process."""
    from swerve.measure import domain_classifier

    if dataset not in _CLASSIFIERS:
        _CLASSIFIERS[dataset] = domain_classifier(dataset).eval()
    return _CLASSIFIERS[dataset]

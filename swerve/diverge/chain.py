"""Chaining models (Broad et al. 2021, section 5): one operation's output feeds the next, e.g. fine-tune →
bend → refine, and the result remembers the whole chain.

Weight edits (finetune, glitch, blend) change the networks; bends and refinement act while sampling, so
their steps store a recipe in the bundle (``extra["bends"]``, ``extra["refine"]``) that
:func:`sample_chain` (and, for bends, ``Bundle.sample``) applies.

An operation is a function ``(bundle, params, workdir, progress) -> Bundle`` registered by name with
:func:`operation`; ``workdir`` is a directory of its own for runs that keep files (a fine-tuning trail).
:class:`Pipeline` runs a list of ``(name, params)`` steps and appends one ``chain`` entry to the output
bundle's history, listing every step with its parameters. A step whose output bundle is already in its
workdir (a chain run before, or interrupted after that step) is loaded instead of run again.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from swerve.bundle import Bundle, Samples, load
from swerve.errors import ConfigError, SwerveError
from swerve.outputs import claim_folder
from swerve.utils import write_text_atomic

Operation = Callable[[Bundle, dict[str, Any], Path, bool], Bundle]
OPERATIONS: dict[str, Operation] = {}


def operation(name: str) -> Callable[[Operation], Operation]:
    """Register an operation under ``name`` (a later registration of the same name replaces it)."""

    def register(fn: Operation) -> Operation:
        OPERATIONS[name] = fn
        return fn

    return register


@dataclass
class Step:
    op: str
    params: dict[str, Any] = field(default_factory=dict)


class Pipeline:
    """A chain of registered operations, run in order on a bundle."""

    def __init__(self, steps: Sequence[Step | tuple[str, dict[str, Any]]]) -> None:
        self.steps = [s if isinstance(s, Step) else Step(s[0], dict(s[1])) for s in steps]
        if not self.steps:
            raise ConfigError("a chain needs at least one step")
        for step in self.steps:
            if step.op not in OPERATIONS:
                raise ConfigError(f"unknown operation {step.op!r}; known: {', '.join(sorted(OPERATIONS))}")

    @classmethod
    def from_file(cls, path: str | Path) -> Pipeline:
        """Read a YAML/JSON list of steps: ``- {op: finetune, method: uncanny, steps: 200}``."""
        path = Path(path)
        try:
            items = yaml.safe_load(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"chain file {path} does not exist") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"chain file {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
        if not isinstance(items, list) or not all(isinstance(i, dict) and "op" in i for i in items):
            raise ConfigError(f"chain file {path} must be a list of steps, each a mapping with an 'op'")
        return cls([Step(i["op"], {k: v for k, v in i.items() if k != "op"}) for i in items])

    def run(self, bundle: Bundle, workdir: str | Path, progress: bool = True) -> Bundle:
        """Run every step; the result's history ends with one ``chain`` entry listing them."""
        workdir = claim_folder(workdir, "chain")  # reruns reuse finished steps; never a user's folder
        start = bundle.name
        for index, step in enumerate(self.steps):
            step_dir = workdir / f"{index:02d}-{step.op}"
            done = step_dir / "output"
            stamp = json.dumps({"op": step.op, "params": step.params}, sort_keys=True, default=str)
            record = step_dir / "step.json"
            if done.is_dir() and record.is_file() and record.read_text() == stamp:
                bundle = load(done, device=bundle.device)
                continue
            bundle = OPERATIONS[step.op](bundle, step.params, step_dir, progress)
            bundle.save(done)
            write_text_atomic(record, stamp)
        bundle.record("chain", start=start, steps=[{"op": s.op, **s.params} for s in self.steps])
        return bundle


def _call(name: str, fn: Callable[..., Bundle], *args: Any, **params: Any) -> Bundle:
    """``fn(*args, **params)``, with parameters that do not fit its signature refused by name."""
    try:
        inspect.signature(fn).bind(*args, **params)
    except TypeError as exc:
        raise ConfigError(f"operation {name}: {exc}") from None
    return fn(*args, **params)


# --- the operations swerve ships ----------------------------------------------------------------------------
@operation("finetune")
def _finetune(bundle: Bundle, params: dict[str, Any], workdir: Path, progress: bool) -> Bundle:
    """Divergent fine-tuning (swerve.diverge.finetune); the result is the run's bundle."""
    from swerve.diverge.finetune import FinetuneConfig, finetune

    config = FinetuneConfig.from_dict(params)
    resume = (workdir / "checkpoint").is_dir()
    result = finetune(bundle, config, workdir, resume=resume, progress=progress)
    if result.interrupted:
        raise SwerveError(f"fine-tuning stopped at step {result.step}; run the chain again to continue it")
    return load(result.bundle_path, device=bundle.device)


@operation("bend")
def _bend(bundle: Bundle, params: dict[str, Any], workdir: Path, progress: bool) -> Bundle:
    """Network bending (swerve.diverge.bend): ``bends: [{layer, transform, params, channels}, ...]``."""
    from swerve.diverge.bend import bend_bundle

    return _call("bend", bend_bundle, bundle, **params)


@operation("glitch")
def _glitch(bundle: Bundle, params: dict[str, Any], workdir: Path, progress: bool) -> Bundle:
    """Seeded weight glitches (swerve.diverge.glitch): ``kind, amount, layers?, seed?``."""
    from swerve.diverge.glitch import glitch

    return _call("glitch", glitch, bundle, **params)


@operation("blend")
def _blend(bundle: Bundle, params: dict[str, Any], workdir: Path, progress: bool) -> Bundle:
    """Weight blending with another bundle (swerve.diverge.blend): ``other, alpha?, schedule?``."""
    from swerve.diverge.blend import blend_bundles

    params = dict(params)
    if "other" not in params:
        raise ConfigError("operation blend needs 'other': the bundle to blend with")
    other = load(params.pop("other"), device=bundle.device)
    return _call("blend", blend_bundles, bundle, other, **params)


@operation("refine")
def _refine(bundle: Bundle, params: dict[str, Any], workdir: Path, progress: bool) -> Bundle:
    """Sample refinement (swerve.refine): ``method`` (default dgflow), ``critic`` (auto, ratio,
    discriminator) and the method's settings, stored for :func:`sample_chain`."""
    from swerve.refine import bundle_critic, get_method, method_settings

    settings = dict(params)
    method = settings.pop("method", "dgflow")
    critic = settings.pop("critic", "auto")
    get_method(method)
    unknown = sorted(set(settings) - set(method_settings(method)))
    if unknown:
        raise ConfigError(f"operation refine: {method} has no setting {', '.join(unknown)}")
    bundle_critic(bundle, critic, method, settings)  # a clear error now when the critic cannot serve
    recipe = {"method": method, "critic": critic, "settings": settings}
    out = bundle.edit_copy()
    out.extra["refine"] = recipe
    out.record("refine", **recipe)
    return out


def sample_chain(
    bundle: Bundle, n: int, seed: int = 0, labels: Any = None, progress: bool = False
) -> Samples:
    """``n`` samples of a chained bundle: its bends applied, then its stored refinement, if it has one."""
    samples = bundle.sample(n, seed=seed, labels=labels)
    recipe = bundle.extra.get("refine")
    if not recipe:
        return samples
    from swerve.refine import bundle_critic, run_method

    critic, _ = bundle_critic(bundle, recipe["critic"])
    refined = run_method(  # the generator carries the bundle's bends (swerve.live)
        recipe["method"], bundle, critic, samples.z.to(bundle.device), labels=samples.labels,
        seed=seed, progress=progress, **recipe["settings"],
    )  # fmt: skip
    return Samples(refined.x.cpu(), samples.z, samples.labels, seed, {**samples.recipe, "refine": recipe})

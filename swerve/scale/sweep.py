"""Sweeps: many (bundle, operation, parameters, seed) jobs, each a pure function to one result.json.

A spec (YAML or JSON) lists job groups; a ``grid`` sweeps any parameter by its dotted path::

    name: bend-strength
    bundle: fashion-gan            # a path (relative to the spec) or a zoo name; a group may set its own
    seeds: [0, 1]
    n: 16                          # samples per job
    metrics: [change, diversity]
    jobs:
      - operation: bend
        params: {bends: [{layer: blocks.0, transform: multiply, params: {factor: 1.0}}]}
        grid: {bends.0.params.factor: [0.5, 2.0, 4.0]}
      - operation: sample

Every job is cached under ``OUT/jobs/KEY/`` where KEY hashes the job and the bundle's content (its
config.json, which records the SHA-256 of every weight file), and result.json is written atomically last.
Running the sweep again runs only the jobs without a result: a sweep that was stopped or killed resumes where
it was, and no finished job runs twice. Jobs run in this process, on a local process pool or on Ray
(backends.py).
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from swerve.errors import ConfigError, SwerveError, check_finite, key_list
from swerve.outputs import claim_folder
from swerve.scale.operations import METRICS, check_metric, get_operation
from swerve.utils import atomic_path, json_text, write_text_atomic

SPEC_KEYS = {"name", "bundle", "seeds", "n", "metrics", "jobs", "save_samples"}
GROUP_KEYS = {"operation", "bundle", "params", "grid", "seeds", "n", "metrics"}


@dataclass(frozen=True)
class Job:
    """One unit of work: everything its result depends on, and nothing else."""

    bundle: str
    operation: str
    params: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    n: int = 16
    metrics: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "metrics": list(self.metrics)}


@dataclass
class SweepSpec:
    name: str
    jobs: list[Job]
    save_samples: bool = True


# --- parsing -----------------------------------------------------------------------------------------------
def parse_spec(obj: Any, base_dir: str | Path = ".") -> SweepSpec:
    """Validate a spec mapping and expand it into jobs; raise ConfigError naming the first problem."""
    if not isinstance(obj, dict):
        raise ConfigError(f"a sweep spec is a mapping with a 'jobs' list, got {type(obj).__name__}")
    _known("sweep spec", obj, SPEC_KEYS)
    groups = obj.get("jobs")
    if not isinstance(groups, list) or not groups:
        raise ConfigError("a sweep spec needs 'jobs': a non-empty list of job groups")
    name = obj.get("name", "sweep")
    if not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\\" in name:
        raise ConfigError(f"name must be a non-empty string without / (it names a folder), got {name!r}")
    save_samples = obj.get("save_samples", True)
    if not isinstance(save_samples, bool):
        raise ConfigError(f"save_samples must be true or false, got {save_samples!r}")
    jobs: list[Job] = []
    for i, group in enumerate(groups):
        where = f"jobs[{i}]"
        if not isinstance(group, dict):
            raise ConfigError(f"{where} must be a mapping with an 'operation', got {type(group).__name__}")
        _known(where, group, GROUP_KEYS)
        defaults = {k: obj[k] for k in ("bundle", "seeds", "n", "metrics") if k in obj}
        jobs += _expand({**defaults, **group}, where, Path(base_dir))
    return SweepSpec(name, jobs, save_samples)


def load_spec(path: str | Path) -> SweepSpec:
    """Read a YAML or JSON sweep spec; bundle paths in it are relative to its folder."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"sweep spec {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read sweep spec {path}: {exc}") from None
    try:
        obj = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        reason = " ".join(str(exc).split())  # one line
        raise ConfigError(
            f"sweep spec {path} is not valid {path.suffix.lstrip('.') or 'YAML'}: {reason}"
        ) from None
    return parse_spec(obj, path.parent)


def _known(where: str, mapping: dict, allowed: set[str]) -> None:
    unknown = set(mapping) - allowed
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {key_list(unknown)}; known: {', '.join(sorted(allowed))}")


def _expand(group: dict[str, Any], where: str, base_dir: Path) -> list[Job]:
    op_name = group.get("operation")
    if not isinstance(op_name, str):
        raise ConfigError(f"{where}: 'operation' must be a name, got {op_name!r}")
    op = get_operation(op_name)
    bundle = group.get("bundle")
    if not isinstance(bundle, str) or not bundle:
        raise ConfigError(f"{where}: 'bundle' must be a bundle path or zoo name")
    if (base_dir / bundle).is_dir():
        bundle = str((base_dir / bundle).resolve())
    seeds = group.get("seeds", [0])
    if not isinstance(seeds, list) or not seeds or not all(_is_int(s) and s >= 0 for s in seeds):
        raise ConfigError(f"{where}: seeds must be a non-empty list of non-negative integers, got {seeds!r}")
    n = group.get("n", 16)
    if not _is_int(n) or not 1 <= n <= 100_000:
        raise ConfigError(f"{where}: n must be an integer from 1 to 100000, got {n!r}")
    metrics = group.get("metrics", [])
    if not isinstance(metrics, list):
        raise ConfigError(f"{where}: metrics must be a list of names, got {metrics!r}")
    for m in metrics:
        check_metric(m)
    params = group.get("params", {})
    if not isinstance(params, dict):
        raise ConfigError(f"{where}: params must be a mapping, got {params!r}")
    grid = group.get("grid", {})
    if not isinstance(grid, dict):
        raise ConfigError(f"{where}: grid must map parameter paths to lists of values, got {grid!r}")
    for key, values in grid.items():
        if not isinstance(key, str) or not isinstance(values, list) or not values:
            raise ConfigError(f"{where}: grid entry {key!r} must map a parameter path to a list of values")
    jobs = []
    for point in itertools.product(*grid.values()):
        filled = copy.deepcopy(params)
        for path, value in zip(grid, point, strict=True):
            _set_path(filled, path, copy.deepcopy(value), where)
        check_finite(f"{where}: params", filled)  # NaN and infinity: named, not just 'not JSON'
        try:
            json.dumps(filled, allow_nan=False)
        except (TypeError, ValueError):
            raise ConfigError(
                f"{where}: params must be plain JSON values (numbers, strings, lists)"
            ) from None
        if op.check is not None:
            try:
                op.check(filled)
            except SwerveError as exc:
                raise ConfigError(f"{where}: {exc}") from None
        jobs += [Job(bundle, op_name, filled, seed, n, tuple(metrics)) for seed in seeds]
    return jobs


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _set_path(params: dict[str, Any], path: str, value: Any, where: str) -> None:
    """Set ``params[a][b][0][c] = value`` for the path ``a.b.0.c`` (mappings are created as needed)."""
    parts = path.split(".")
    node: Any = params
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(
                    f"{where}: grid path {path!r}: {part!r} is not an index of a {len(node)}-list"
                )
            key: Any = int(part)
        elif isinstance(node, dict) and part:
            key = part
            if not last and key not in node:
                node[key] = {}
        else:
            raise ConfigError(f"{where}: grid path {path!r} does not lead into the params")
        if last:
            node[key] = value
        else:
            node = node[key]


# --- one job -----------------------------------------------------------------------------------------------
def bundle_digest(bundle: str) -> str:
    """The SHA-256 of a bundle's config.json, which records the SHA-256 of each of its weight files."""
    from swerve.bundle import CONFIG_NAME, _find

    try:
        return hashlib.sha256((_find(bundle) / CONFIG_NAME).read_bytes()).hexdigest()
    except OSError as exc:
        raise ConfigError(f"bundle {bundle!r} cannot be read: {exc}") from None


def job_key(job: Job, digest: str, inputs: list[str] | tuple[str, ...] = ()) -> str:
    """Content hash of a job: equal jobs on equal bundles share a result, wherever the bundles live.
    ``inputs`` are the digests of other bundles the operation reads (a blend's partner)."""
    doc = {**job.to_dict(), "bundle": digest, "inputs": list(inputs)}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:20]


_BUNDLES: dict[tuple[str, str], Any] = {}


def _load(bundle: str, digest: str) -> Any:
    """Load a bundle once per process (operations return modified copies and never change it)."""
    from swerve.bundle import load

    if (bundle, digest) not in _BUNDLES:
        _BUNDLES[(bundle, digest)] = load(bundle, device="cpu")
    return _BUNDLES[(bundle, digest)]


def run_job(job: Job, digest: str) -> dict[str, Any]:
    """Run one job: its samples (as a tensor, for a preview grid) and metrics, or the error it raised."""
    started = time.perf_counter()
    try:
        bundle = _load(job.bundle, digest)
        samples = get_operation(job.operation).run(bundle, job.params, job.seed, job.n)
        base_cache: list = []

        def base() -> Any:
            if not base_cache:
                base_cache.append(bundle.sample(job.n, seed=job.seed, labels=job.params.get("labels")))
            return base_cache[0]

        metrics = {name: METRICS[name](samples, bundle, base) for name in job.metrics}
    except SwerveError as exc:
        return {"error": str(exc), "seconds": time.perf_counter() - started}
    return {"metrics": metrics, "x": samples.x, "seconds": time.perf_counter() - started}


# --- the sweep ---------------------------------------------------------------------------------------------
@dataclass
class SweepResult:
    out: Path
    total: int
    ran: int
    cached: int
    failed: list[dict[str, Any]]
    interrupted: bool
    results: list[dict[str, Any]]


def run_sweep(
    spec: SweepSpec,
    out: str | Path,
    workers: int = 1,
    backend: str = "local",
    progress: bool = True,
    on_result: Callable[[dict[str, Any]], None] | None = None,
) -> SweepResult:
    """Run every job of ``spec`` that has no result in ``out`` yet; Ctrl-C lets running jobs finish, keeps
    their results and returns (run again to continue).

    ``workers``: 1 runs jobs here, one after another; more use a local process pool (or Ray's workers).
    """
    from tqdm.auto import tqdm

    from swerve.scale.backends import make_backend

    out = Path(out)
    digests: dict[str, str] = {}

    def digest(bundle: str) -> str:
        if bundle not in digests:
            digests[bundle] = bundle_digest(bundle)
        return digests[bundle]

    def key_of(job: Job) -> str:
        op = get_operation(job.operation)
        inputs = [digest(b) for b in op.inputs(job.params)] if op.inputs else []
        return job_key(job, digest(job.bundle), inputs)

    keys = [key_of(job) for job in spec.jobs]
    claim_folder(out, "sweep")  # a new folder or this sweep's own (finished jobs are reused), never a user's
    expanded = [{"key": key, **job.to_dict()} for key, job in zip(keys, spec.jobs, strict=True)]
    write_text_atomic(out / "sweep.json", json_text({"name": spec.name, "jobs": expanded}, indent=1))
    todo = {}
    for key, job in zip(keys, spec.jobs, strict=True):
        if _read_result(out, key) is None:
            todo.setdefault(key, job)  # a job listed twice runs once
    cached = len(set(keys)) - len(todo)
    failed: list[dict[str, Any]] = []
    stop = threading.Event()
    ran = 0
    with make_backend(backend, workers) as runner:
        previous = _catch_interrupt(stop)
        bar = tqdm(total=len(set(keys)), initial=cached, disable=not progress, desc=spec.name, unit="job")
        try:
            pending = list(todo.items())
            running: dict[Any, tuple[str, Job]] = {}
            while pending or running:
                while pending and len(running) < runner.capacity and not stop.is_set():
                    key, job = pending.pop(0)
                    running[runner.submit(job, digests[job.bundle])] = (key, job)
                if not running:
                    break
                for handle in runner.done(list(running)):
                    key, job = running.pop(handle)
                    result = runner.result(handle)
                    ran += 1
                    if "error" in result:
                        failed.append({"key": key, "job": job.to_dict(), "error": result["error"]})
                    else:
                        record = _write_result(out, key, job, result, spec.save_samples)
                        if on_result:
                            on_result(record)
                    bar.update(1)
        finally:
            bar.close()
            _restore_interrupt(previous)
    results = [r for r in (_read_result(out, k) for k in dict.fromkeys(keys)) if r is not None]
    write_text_atomic(out / "results.json", json_text({"name": spec.name, "results": results}, indent=1))
    interrupted = len(results) + len(failed) < len(set(keys))
    return SweepResult(out, len(set(keys)), ran, cached, failed, interrupted, results)


def _read_result(out: Path, key: str) -> dict[str, Any] | None:
    path = out / "jobs" / key / "result.json"
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _write_result(
    out: Path, key: str, job: Job, result: dict[str, Any], save_samples: bool
) -> dict[str, Any]:
    """Write the job's preview grid, then its result.json (atomically, last: it marks the job done)."""
    folder = out / "jobs" / key
    folder.mkdir(parents=True, exist_ok=True)
    record = {"key": key, "job": job.to_dict(), "metrics": result["metrics"], "seconds": result["seconds"]}
    x = result["x"]
    if save_samples and x.dim() == 4:
        from swerve.look.grid import make_grid, save_image, upscale

        save_image(upscale(make_grid(x)), folder / "samples.png")
        record["samples"] = "samples.png"
    with atomic_path(folder / "result.json") as tmp:
        tmp.write_text(json_text(record, mark=True, indent=1) + "\n")
    return record


def _catch_interrupt(stop: threading.Event) -> Any:
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGINT, lambda signum, frame: stop.set())


def _restore_interrupt(previous: Any) -> None:
    if previous is not None:
        signal.signal(signal.SIGINT, previous)

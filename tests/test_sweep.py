"""Sweeps: jobs are cached by content, a stopped sweep resumes without running any finished job again, the
local pool and the in-process runner agree, and bad specs are refused with one clear line."""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import shutil
import signal
import time

import pytest
import torch
import yaml

from swerve.bundle import Bundle, Samples
from swerve.errors import ConfigError
from swerve.scale import load_spec, parse_spec, run_sweep
from swerve.scale.sweep import bundle_digest, run_job
from tests.conftest import tiny_image_bundle


def counted(bundle: Bundle, params: dict, seed: int, n: int) -> Samples:
    """A sampling operation that logs each run, so the test can count them."""
    with open(params["log"], "a") as fh:
        fh.write(f"{params['k']}/{seed}\n")
    time.sleep(params.get("sleep", 0))
    return bundle.sample(n, seed=seed)


def _spec(bundle, log, ks=(1, 2, 3)) -> dict:
    return {
        "name": "count",
        "bundle": str(bundle),
        "seeds": [0, 1],
        "n": 4,
        "metrics": ["diversity", "change"],
        "jobs": [
            {"operation": "tests.test_sweep:counted", "params": {"log": str(log)}, "grid": {"k": list(ks)}}
        ],
    }


def test_a_stopped_sweep_resumes_and_runs_no_job_twice(tmp_path, tiny_bundle):
    log = tmp_path / "runs.log"
    spec = parse_spec(_spec(tiny_bundle, log))
    assert len(spec.jobs) == 6

    def stop_after_two(record):
        if len(log.read_text().splitlines()) == 2:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C: the sweep stops after the running job

    first = run_sweep(spec, tmp_path / "out", progress=False, on_result=stop_after_two)
    assert first.interrupted and first.ran == 2 and len(first.results) == 2
    second = run_sweep(spec, tmp_path / "out", workers=2, progress=False)  # the rest, on a process pool
    assert not second.interrupted and (second.ran, second.cached) == (4, 2)
    runs = log.read_text().splitlines()
    assert sorted(runs) == sorted(f"{k}/{s}" for k in (1, 2, 3) for s in (0, 1)), "a job ran twice or never"
    third = run_sweep(spec, tmp_path / "out", progress=False)
    assert (third.ran, third.cached) == (0, 6) and len(log.read_text().splitlines()) == 6
    # the pool computed what this process computes, and every result file is whole
    summary = json.loads((tmp_path / "out" / "results.json").read_text())["results"]
    assert len(summary) == 6 and {r["key"] for r in summary} == {r["key"] for r in third.results}
    job = spec.jobs[-1]
    mine = run_job(job, bundle_digest(job.bundle))["metrics"]
    theirs = next(r for r in summary if r["job"] == job.to_dict())["metrics"]
    assert mine == pytest.approx(theirs) and theirs["change"] == 0 and theirs["diversity"] > 0


def test_a_killed_sweep_keeps_every_finished_result(tmp_path, tiny_bundle):
    """SIGKILL at random moments: result files are always whole, and a job with a result never runs again."""
    log = tmp_path / "runs.log"
    obj = _spec(tiny_bundle, log, ks=range(6))
    obj["jobs"][0]["params"]["sleep"] = 0.04
    spec = parse_spec(obj)
    rng, fork = random.Random(1), multiprocessing.get_context("fork")
    # one job here first, so the forked sweeps start with everything imported
    run_sweep(
        parse_spec(_spec(tiny_bundle, tmp_path / "warm.log", ks=[0])), tmp_path / "warm", progress=False
    )
    for _ in range(4):
        before = {r["key"] for r in _results(tmp_path / "out")}
        logged = len(log.read_text().splitlines()) if log.exists() else 0
        child = fork.Process(target=run_sweep, args=(spec, tmp_path / "out"), kwargs={"progress": False})
        child.start()
        time.sleep(rng.uniform(0.05, 0.3))
        os.kill(child.pid, signal.SIGKILL)
        child.join()
        after = _results(tmp_path / "out")  # every result.json parses
        assert before <= {r["key"] for r in after}
        rerun = set(log.read_text().splitlines()[logged:]) if log.exists() else set()
        assert not rerun & {
            f"{r['job']['params']['k']}/{r['job']['seed']}" for r in after if r["key"] in before
        }
    final = run_sweep(spec, tmp_path / "out", progress=False)
    assert not final.interrupted and len(final.results) == 12


def _results(out) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(out.glob("jobs/*/result.json"))]


def test_the_cache_follows_the_bundle_contents_not_its_path(tmp_path, tiny_bundle):
    log = tmp_path / "runs.log"
    run_sweep(parse_spec(_spec(tiny_bundle, log, ks=[1])), tmp_path / "out", progress=False)
    copy = shutil.copytree(tiny_bundle, tmp_path / "copy")
    moved = run_sweep(parse_spec(_spec(copy, log, ks=[1])), tmp_path / "out", progress=False)
    assert (moved.ran, moved.cached) == (0, 2)
    changed = tiny_image_bundle()
    with torch.no_grad():
        changed.generator.to_image[0].bias.add_(0.5)
    changed.save(copy)
    rerun = run_sweep(parse_spec(_spec(copy, log, ks=[1])), tmp_path / "out", progress=False)
    assert (rerun.ran, rerun.cached) == (2, 0)


def test_bending_and_blending_sweeps(tmp_path, tiny_bundle):
    """A bend with factor 1 changes nothing and stronger bends change more; a blend at alpha 1 makes the
    partner's samples, and the partner's contents are part of the cache key."""
    other = tiny_image_bundle()
    with torch.no_grad():
        for p in other.generator.parameters():
            p.mul_(1.5)
    other_path = other.save(tmp_path / "other")
    bend = {"layer": "blocks.0", "transform": "multiply", "params": {"factor": 1.0}}
    spec = {
        "bundle": str(tiny_bundle),
        "n": 8,
        "metrics": ["change", "diversity"],
        "jobs": [
            {
                "operation": "bend",
                "params": {"bends": [bend]},
                "grid": {"bends.0.params.factor": [1.0, 2.0, 4.0]},
            },
            {"operation": "blend", "params": {"other": str(other_path)}, "grid": {"alpha": [0.0, 1.0]}},
            {"operation": "sample", "bundle": str(other_path), "metrics": ["diversity"]},
        ],
    }
    result = run_sweep(parse_spec(spec), tmp_path / "out", progress=False)
    assert not result.failed and len(result.results) == 6
    change = [r["metrics"]["change"] for r in result.results[:5]]
    assert change[0] == 0 < change[1] < change[2]
    assert change[3] == 0 and change[4] > 0
    blended, partner = result.results[4:]
    assert blended["job"]["params"]["alpha"] == 1.0
    assert blended["metrics"]["diversity"] == pytest.approx(partner["metrics"]["diversity"], rel=1e-5)
    other.generator.eval()
    with torch.no_grad():
        other.generator.to_image[0].bias.add_(0.5)
    other.save(other_path)
    again = run_sweep(parse_spec(spec), tmp_path / "out", progress=False)
    assert again.ran == 3  # the two blends and the other bundle's samples; the bends are cached


def test_sample_sweep_from_a_file_and_the_cli(tmp_path, tiny_bundle, cli):
    (tmp_path / "models").mkdir()
    shutil.copytree(tiny_bundle, tmp_path / "models" / "tiny")
    spec = {
        "name": "labels",
        "bundle": "models/tiny",  # relative to the spec file
        "metrics": ["diversity"],
        "jobs": [{"operation": "sample", "grid": {"labels": [0, 2]}, "seeds": [4]}],
    }
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    assert [j.params for j in load_spec(path).jobs] == [{"labels": 0}, {"labels": 2}]
    code, out, err = cli("sweep", path, "--out", tmp_path / "out", "--json", "--no-progress")
    assert code == 0, err
    results = json.loads(out)["results"]
    assert len(results) == 2 and all(
        (tmp_path / "out" / "jobs" / r["key"] / "samples.png").is_file() for r in results
    )
    code, out, err = cli("sweep", path, "--out", tmp_path / "out", "--no-progress")
    assert code == 0 and "0 run now, 2 cached" in out
    path.write_text("jobs: [{operation: warp}]\nbundle: models/tiny\n")
    code, out, err = cli("sweep", path, "--no-progress")
    assert code == 2 and err.startswith("error: unknown operation 'warp'") and len(err.splitlines()) == 1


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ([1, 2], "a sweep spec is a mapping"),
        ({"jobs": []}, "needs 'jobs'"),
        ({"jobs": [{"operation": "sample"}], "bundel": "x"}, "unknown key"),
        ({"bundle": "x", "jobs": [{"operation": "sample", "seeds": [-1]}]}, "seeds must be"),
        (
            {"bundle": "x", "jobs": [{"operation": "sample", "metrics": ["beauty"]}]},
            "unknown metric 'beauty'",
        ),
        (
            {"bundle": "x", "jobs": [{"operation": "sample", "grid": {"labels": 3}}]},
            "must map a parameter path",
        ),
        (
            {"bundle": "x", "jobs": [{"operation": "blend", "params": {"other": "y", "alpha": 2}}]},
            "alpha must",
        ),
        ({"bundle": "x", "jobs": [{"operation": "sample", "params": {"lables": 1}}]}, "takes no parameter"),
        ({"bundle": "x", "jobs": [{"operation": "no.such.module:f"}]}, "cannot be imported"),
    ],
)
def test_bad_specs_are_refused(spec, message):
    with pytest.raises(ConfigError, match=message):
        parse_spec(spec)


def test_ray_backend_in_local_mode(tmp_path, tiny_bundle):
    pytest.importorskip("ray", reason="Ray is an optional extra (pip install 'swerve[ray]'); not installed")
    spec = parse_spec(
        {"bundle": str(tiny_bundle), "metrics": ["diversity"], "jobs": [{"operation": "sample"}]}
    )
    result = run_sweep(spec, tmp_path / "out", workers=1, backend="ray", progress=False)
    local = run_job(spec.jobs[0], bundle_digest(spec.jobs[0].bundle))["metrics"]
    assert result.ran == 1 and result.results[0]["metrics"] == pytest.approx(local)


def test_the_demo_section_shows_a_cached_bend_sweep(tmp_path):
    from swerve.look.sections import DemoContext
    from swerve.scale.report import FACTORS, sweep_section

    card = sweep_section(DemoContext(tmp_path))
    assert card is not None and "running it again ran 0 of 4 jobs" in card.text
    change = [row["change from the original"] for row in card.table]
    assert [row["factor"] for row in card.table] == FACTORS
    assert change[0] == 0 and change == sorted(change) and change[-1] > 0.1
    width, height = card.figures[0].size()
    assert height / width == pytest.approx(len(FACTORS) / 8, rel=0.05)

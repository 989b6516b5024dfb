"""Crash safety: training killed with SIGKILL at random moments resumes every time, loses at most one
checkpoint interval, and never leaves a corrupt file; damaged weight files are reported by name."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from PIL import Image

import swerve
from swerve.errors import BundleError, SwerveError
from swerve.train import Trainer
from swerve.train.checkpoint import find_checkpoint, read_state
from tests.conftest import blobs, tiny_image_bundle
from tests.crash_worker import CFG

ROOT = Path(__file__).resolve().parent.parent


def _start(run_dir: Path) -> subprocess.Popen:
    """Start the worker and wait until it is about to train."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "tests.crash_worker", str(run_dir)]
    pipe = subprocess.PIPE
    child = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=pipe, stderr=pipe, text=True)
    line = child.stdout.readline()
    if line.strip() != "ready":
        child.kill()
        pytest.fail(f"the training worker did not start: {line}{child.stderr.read()}")
    return child


def _logged_steps(run_dir: Path) -> list[int]:
    path = run_dir / "stats.jsonl"
    return [json.loads(line)["step"] for line in path.read_text().splitlines()] if path.exists() else []


def _check_files(run_dir: Path) -> None:
    """Every file a reader would open is whole: JSON parses, images decode, checkpoints verify."""
    json.loads((run_dir / "config.json").read_text())
    _logged_steps(run_dir)
    for png in (run_dir / "samples").glob("*.png"):
        with Image.open(png) as img:
            img.load()


def test_sigkill_at_random_moments_then_resume(tmp_path):
    run_dir, rng = tmp_path / "run", random.Random(0)
    kills, progress, longest = 0, 0, 0.45
    # At least 12 kills, and enough progress to compare; on a slow or busy machine a run may not reach a
    # checkpoint within the window, so the window widens each time a kill finds nothing new.
    while kills < 12 or progress < 4:
        assert kills < 80, "no progress after 80 kills"
        child = _start(run_dir)
        time.sleep(rng.uniform(0.05, longest))
        if child.poll() is not None:  # it can only end by failing: the run is far from finished
            pytest.fail(f"training exited ({child.returncode}) before it was killed: {child.stderr.read()}")
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        child.stdout.close()
        child.stderr.close()
        kills += 1
        if not (run_dir / "config.json").exists():
            longest = min(2 * longest, 5.0)
            continue  # killed before the run wrote anything
        _check_files(run_dir)
        checkpoint = find_checkpoint(run_dir / "checkpoint")
        logged = _logged_steps(run_dir)
        if checkpoint is None:
            assert max(logged, default=0) < CFG.checkpoint_every + 1
            longest = min(2 * longest, 5.0)
            continue
        saved = read_state(checkpoint)["step"]
        if saved <= progress:
            longest = min(2 * longest, 5.0)
        progress = max(progress, saved)
        assert saved >= max(logged, default=0) - CFG.checkpoint_every, "lost more than one interval"
        assert Trainer(CFG, run_dir, resume=True, data=blobs(64), progress=False).step == saved

    # The resumed-and-killed run is exactly the uninterrupted run up to its last checkpoint.
    checkpoint = find_checkpoint(run_dir / "checkpoint")
    saved = read_state(checkpoint)["step"]
    assert saved >= 4, "the kills left too little progress to compare"
    reference = tmp_path / "reference"
    quiet = dict(log_every=0, sample_every=0, checkpoint_every=0)  # writing files does not change the run
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the worker: a different thread count may round differently
    try:
        Trainer(CFG.replace(steps=saved, **quiet), reference, data=blobs(64), progress=False).fit()
    finally:
        torch.set_num_threads(threads)
    for name in ("networks.safetensors", "optimizers.safetensors", "rng.safetensors"):
        assert (checkpoint / name).read_bytes() == (reference / "checkpoint" / name).read_bytes(), name
    # A clean finish removes what the kills left behind and exports a loadable bundle.
    Trainer(CFG.replace(steps=saved + 1), run_dir, resume=True, data=blobs(64), progress=False).fit()
    assert not [p.name for p in [*run_dir.iterdir(), *(run_dir / "samples").iterdir()] if p.suffix == ".tmp"]
    assert swerve.load(run_dir / "bundle").training["steps"] == saved + 1


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF  # inside the tensor data: the safetensors header still parses
    path.write_bytes(bytes(data))


def test_a_damaged_bundle_weight_file_is_reported_by_name(tmp_path):
    path = tiny_image_bundle().save(tmp_path / "tiny")
    _flip_a_byte(path / "encoder.safetensors")
    with pytest.raises(BundleError, match=r"encoder\.safetensors is corrupt"):
        swerve.load(path)


def test_a_damaged_checkpoint_file_is_reported_by_name(tmp_path):
    cfg = CFG.replace(steps=2, sample_every=0)
    Trainer(cfg, tmp_path, data=blobs(64), progress=False).fit()
    _flip_a_byte(tmp_path / "checkpoint" / "optimizers.safetensors")
    with pytest.raises(SwerveError, match=r"optimizers\.safetensors is corrupt"):
        Trainer(cfg.replace(steps=3), tmp_path, resume=True, data=blobs(64), progress=False)

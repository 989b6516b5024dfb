"""Data-parallel training on 2 CPU processes (gloo), launched by accelerate: every process holds the same
weights after every step, the run follows the single-process run with the same global batch, and a run
resumes on a different number of processes. Only CPU: nothing here initialises CUDA."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from swerve.train import Trainer
from swerve.train.distributed import Shard, launch_command
from tests.distributed_worker import CONFIG, points, weights

pytest.importorskip("accelerate", reason="the distributed tests need the 'accelerate' extra")
ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _launch(args: list[str], processes: int = 2) -> subprocess.CompletedProcess:
    cmd, env = launch_command(args, processes, module="tests.distributed_worker", port=_free_port())
    env.update(CUDA_VISIBLE_DEVICES="", OMP_NUM_THREADS="1")
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def _record(steps: int, run_dir: Path, resume: bool = False) -> tuple[Trainer, dict[int, dict]]:
    per_step: dict[int, dict] = {}
    trainer = Trainer(
        CONFIG.replace(steps=steps),
        run_dir,
        resume=resume,
        data=points(),
        progress=False,
        on_log=lambda r: per_step.update({r["step"]: weights(trainer)}),
    )
    trainer.fit()
    return trainer, per_step


def _stats(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "stats.jsonl").read_text().splitlines()]


def test_two_processes_match_one_and_resume_across_process_counts(tmp_path):
    _, reference = _record(6, tmp_path / "single")
    # steps 1-2 on one process, 3-4 on two, 5-6 on one again
    _record(2, tmp_path / "mixed")
    result = _launch([str(tmp_path / "mixed"), str(tmp_path), "4"])
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [load_file(tmp_path / f"rank{r}.safetensors") for r in (0, 1)]
    assert set(ranks[0]) == set(ranks[1]) and {k.split("/")[0] for k in ranks[0]} == {"3", "4"}
    for key, value in ranks[0].items():
        assert torch.equal(value, ranks[1][key]), f"processes disagree on {key}"
        step, name = key.split("/", 1)
        assert torch.allclose(value, reference[int(step)][name], rtol=1e-4, atol=1e-5), key
    _, resumed = _record(6, tmp_path / "mixed", resume=True)
    for name, value in resumed[6].items():
        assert torch.allclose(value, reference[6][name], rtol=1e-4, atol=1e-5), name
    # the main process alone wrote the log: one line per step, with the global batch's numbers
    single, mixed = _stats(tmp_path / "single"), _stats(tmp_path / "mixed")
    assert [r["step"] for r in mixed] == [1, 2, 3, 4, 5, 6]
    for a, b in zip(single, mixed, strict=True):
        assert b["loss_d"] == pytest.approx(a["loss_d"], rel=1e-3, abs=1e-4)
    assert not list((tmp_path / "mixed").glob(".*.tmp"))


def test_shard_splits_a_global_batch_and_checks_it_divides():
    from swerve.errors import ConfigError
    from swerve.train.distributed import shard_for

    rows = torch.arange(12)
    parts = [Shard(rank, 3).take(rows) for rank in range(3)]
    assert torch.equal(torch.cat(parts), rows)

    class Fake:
        num_processes, process_index = 3, 1

    assert shard_for(Fake(), 12).rank == 1
    with pytest.raises(ConfigError, match="batch_size 10 does not split evenly across 3 processes"):
        shard_for(Fake(), 10)


def test_launch_command_reruns_swerve_under_accelerate():
    cmd, env = launch_command(["train", "c.yaml", "--launcher", "accelerate"], 2)
    assert cmd[1:3] == ["-m", "accelerate.commands.launch"]
    assert cmd[cmd.index("--num_processes") + 1] == "2" and "--multi_gpu" in cmd
    assert cmd[-6:] == ["-m", "swerve", "train", "c.yaml", "--launcher", "accelerate"]
    assert env["SWERVE_LAUNCHED"] == "1"


def test_train_launcher_option(cli, monkeypatch, tmp_path):
    """--launcher accelerate reruns the command under accelerate launch and passes on its exit code."""
    import subprocess

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.delenv("SWERVE_LAUNCHED", raising=False)
    calls = []
    monkeypatch.setattr(subprocess, "call", lambda cmd, env: calls.append((cmd, env)) or 7)
    args = ["train", "--preset", "gaussians25-wgangp", "--out", str(tmp_path), "--launcher", "accelerate"]
    code, out, err = cli(*args, "--processes", "2")
    assert code == 7 and len(calls) == 1
    cmd, env = calls[0]
    assert cmd[-len(args) - 2 :] == [*args, "--processes", "2"] and env["SWERVE_LAUNCHED"] == "1"
    assert not (tmp_path / "config.json").exists()  # this process trained nothing
    code, out, err = cli("train", "--preset", "gaussians25-wgangp", "--launcher", "torchrun")
    assert code == 2 and "--launcher must be none or accelerate" in err

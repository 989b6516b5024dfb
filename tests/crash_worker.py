"""The training run that tests/test_crash.py kills: ``python -m tests.crash_worker RUN_DIR``.

A fresh interpreter rather than a fork of the test process: forking a process whose OpenMP pool has run
(torch with more than one thread) can leave the child hung in the OpenMP runtime. The worker warms up (one
step in a scratch directory, so first-call costs are paid) and prints ``ready`` before the run the test
kills, so the kill lands in training, not in start-up.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import torch

from swerve.train import TrainConfig, Trainer
from swerve.train.checkpoint import find_checkpoint
from tests.conftest import blobs

CFG = TrainConfig(
    steps=100_000,  # never reached: the test kills the run again and again
    conditional=True,
    batch_size=16,
    width=4,
    latent_dim=4,
    log_every=1,
    sample_every=3,
    checkpoint_every=2,
    seed=5,
    device="cpu",
)


def main(run_dir: Path) -> None:
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as scratch:
        warm_up = CFG.replace(steps=1, sample_every=1)
        Trainer(warm_up, Path(scratch) / "warm-up", data=blobs(64), progress=False).fit()
    resume = find_checkpoint(run_dir / "checkpoint") is not None
    trainer = Trainer(CFG, run_dir, resume=resume, data=blobs(64), progress=False)
    print("ready", flush=True)
    trainer.fit()


if __name__ == "__main__":
    main(Path(sys.argv[1]))

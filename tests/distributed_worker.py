"""One process of the 2-process data-parallel test (test_distributed.py), started by ``accelerate launch``.

``python -m tests.distributed_worker RUN_DIR OUT STEPS`` resumes the run in RUN_DIR up to STEPS steps and
writes this process's weights after every step to OUT/rank{R}.safetensors.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

from swerve.data import Dataset
from swerve.train import TrainConfig, Trainer

CONFIG = TrainConfig(
    name="dist",
    dataset="points",
    arch="mlp",
    objective="wgan-gp",
    n_critic=2,
    conditional=True,
    latent_dim=2,
    width=16,
    depth=2,
    ema=0.9,
    batch_size=32,
    lr_g=1e-3,
    lr_d=1e-3,
    steps=6,
    log_every=1,
    sample_every=0,
    checkpoint_every=2,
    device="cpu",
    seed=3,
)


def points() -> Dataset:
    """Labelled 2-D points: three Gaussian blobs."""
    gen = torch.Generator().manual_seed(0)
    labels = torch.arange(96) % 3
    x = torch.randn(96, 2, generator=gen) * 0.2 + torch.stack([labels.float(), -labels.float()], 1)
    return Dataset(x, labels, ["a", "b", "c"], "points")


def weights(trainer: Trainer) -> dict[str, torch.Tensor]:
    return {
        f"{role}/{key}": value.detach().clone()
        for role, net in trainer.task.networks.items()
        for key, value in net.state_dict().items()
    }


def main() -> None:
    run_dir, out, steps = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    from swerve.train.distributed import make_accelerator

    accelerator = make_accelerator("cpu")
    record: dict[str, torch.Tensor] = {}
    trainer = Trainer(
        CONFIG.replace(steps=steps),
        run_dir,
        resume=True,
        data=points(),
        progress=False,
        accelerator=accelerator,
        on_log=lambda r: record.update({f"{r['step']}/{k}": v for k, v in weights(trainer).items()}),
    )
    trainer.fit()
    save_file(record, out / f"rank{accelerator.process_index}.safetensors")


if __name__ == "__main__":
    main()

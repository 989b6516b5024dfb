"""Data-parallel training across processes, launched and connected by Hugging Face accelerate.

Every process holds the whole model and computes one shard of each global batch; after each backward pass
the gradients are averaged across processes (one all-reduce per optimiser step), so every process applies
the same update and the weights stay identical. The GAN step stays explicit (D steps, then a G step, as in
tasks.py): gradients are averaged by hand before each ``optimizer.step()`` rather than by a DDP wrapper,
which does not fit two models, several forward passes per backward and a gradient penalty (StyleGAN2-ADA
trains the same way).

Random draws (latents, fake labels, interpolation weights) are made for the *global* batch from a generator
that every process advances identically, and each process keeps its own rows. Hence a run on N processes
follows the single-process run with the same global batch (up to the order of floating-point sums), and a
checkpoint holds no per-process state: a run can resume on a different number of processes.

On CPU (gloo) BatchNorm layers normalise each process's shard; on GPUs they are converted to SyncBatchNorm.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch

from swerve.errors import ConfigError, SwerveError


@dataclass(frozen=True)
class Shard:
    """This process's place in a data-parallel run: rows ``rank*n/world ..`` of every global batch.

    The default, ``Shard()``, is the single-process run, for which every method is the identity.
    """

    rank: int = 0
    world: int = 1
    accelerator: Any = None  # accelerate.Accelerator when world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def take(self, tensor: torch.Tensor) -> torch.Tensor:
        """This process's rows of a tensor drawn for the whole global batch."""
        if self.world == 1:
            return tensor
        n = len(tensor) // self.world
        return tensor[self.rank * n : (self.rank + 1) * n]

    def gather(self, tensor: torch.Tensor) -> torch.Tensor:
        """The global batch from every process's rows, in rank order (the inverse of :meth:`take`)."""
        return tensor if self.world == 1 else self.accelerator.gather(tensor.contiguous())

    def average_gradients(self, optimizer: torch.optim.Optimizer) -> None:
        """Replace each gradient of ``optimizer``'s parameters by its mean over processes (one all-reduce)."""
        if self.world == 1:
            return
        grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        if not grads:
            return
        flat = self.accelerator.reduce(torch.cat([g.reshape(-1) for g in grads]), reduction="mean")
        offset = 0
        for g in grads:
            g.copy_(flat[offset : offset + g.numel()].view_as(g))
            offset += g.numel()

    def mean(self, stats: dict[str, float]) -> dict[str, float]:
        """Average logged numbers over processes, so the log describes the global batch."""
        if self.world == 1 or not stats:
            return stats
        keys = sorted(stats)
        values = torch.tensor([stats[k] for k in keys], dtype=torch.float64, device=self.accelerator.device)
        values = self.accelerator.reduce(values, reduction="mean")
        return {k: float(v) for k, v in zip(keys, values.tolist(), strict=True)}

    def any(self, flag: bool) -> bool:
        """True on every process if ``flag`` is true on any (so all stop at the same step)."""
        if self.world == 1:
            return flag
        value = torch.tensor([float(flag)], device=self.accelerator.device)
        return bool(self.accelerator.reduce(value, reduction="sum").item() > 0)

    def broadcast_(self, modules: dict[str, torch.nn.Module]) -> None:
        """Copy the main process's parameters and buffers to every process (as DDP does at start)."""
        if self.world == 1:
            return
        from accelerate.utils import broadcast

        with torch.no_grad():
            for net in modules.values():
                for tensor in [*net.parameters(), *net.buffers()]:
                    tensor.copy_(broadcast(tensor.detach().clone(), from_process=0))

    def barrier(self) -> None:
        if self.world > 1:
            self.accelerator.wait_for_everyone()


NO_ACCELERATE = "distributed training needs Hugging Face accelerate: pip install 'swerve[accelerate]'"


def make_accelerator(device: str = "auto") -> Any:
    """An ``accelerate.Accelerator`` for this process (it reads the launcher's environment variables)."""
    try:
        from accelerate import Accelerator
    except ImportError:
        raise SwerveError(NO_ACCELERATE) from None
    return Accelerator(cpu=device == "cpu")


def shard_for(accelerator: Any, batch_size: int) -> Shard:
    """The :class:`Shard` of this process; the global batch must split evenly across processes."""
    if accelerator is None or accelerator.num_processes == 1:
        return Shard()
    world = accelerator.num_processes
    if batch_size % world:
        raise ConfigError(f"batch_size {batch_size} does not split evenly across {world} processes")
    return Shard(accelerator.process_index, world, accelerator)


def sync_batch_norm(modules: dict[str, torch.nn.Module], shard: Shard, device: torch.device) -> None:
    """On GPUs, let BatchNorm layers use the statistics of the global batch (torch supports this on GPUs
    only; on CPU each process normalises its own shard)."""
    if shard.world == 1 or device.type != "cuda":
        return
    for net in modules.values():
        torch.nn.SyncBatchNorm.convert_sync_batchnorm(net)  # in place; keeps the Parameter objects


def launched() -> bool:
    """Whether this process was started by a distributed launcher (accelerate launch, torchrun)."""
    return os.environ.get("SWERVE_LAUNCHED") == "1" or int(os.environ.get("WORLD_SIZE", "1")) > 1


def launch_command(
    args: list[str], processes: int | None, module: str = "swerve", port: int | None = None
) -> tuple[list[str], dict[str, str]]:
    """The ``accelerate launch -m swerve ARGS`` command (and environment) that runs on ``processes``
    processes; without ``processes`` accelerate's own config decides (multi-node set-ups)."""
    import importlib.util
    import sys

    if importlib.util.find_spec("accelerate") is None:
        raise SwerveError(NO_ACCELERATE)
    cmd = [sys.executable, "-m", "accelerate.commands.launch"]
    if processes is not None:
        if processes < 1:
            raise ConfigError(f"--processes must be at least 1, got {processes}")
        cmd += ["--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
        cmd += ["--multi_gpu"] if processes > 1 else []
        cmd += ["--num_processes", str(processes)]
    if port is not None:
        cmd += ["--main_process_port", str(port)]
    cmd += ["-m", module, *args]
    return cmd, {**os.environ, "SWERVE_LAUNCHED": "1"}

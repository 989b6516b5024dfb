"""The trainer: one small loop for every kind of model swerve trains.

It owns what every run shares: the data order (a seeded permutation per epoch, so step ``s`` always sees the
same batch), progress, ``stats.jsonl``, preview grids, atomic checkpoints, exact resume and a clean stop on
Ctrl-C. What a step does is the task's business (tasks.py). A subclass may train something else on the same
loop by overriding ``load_data``, ``build_task``, ``save_preview`` and ``export`` (fine-tuning does:
swerve.diverge.finetune.run).

A run directory holds::

    config.json      the TrainConfig
    stats.jsonl      averaged losses every ``log_every`` steps
    samples/         preview grids on fixed latents (step_000500.png, ...)
    checkpoint/      everything needed to resume (see checkpoint.py)
    bundle/          the trained model as a swerve bundle

Given an ``accelerate.Accelerator`` the same loop trains data-parallel on several processes (distributed.py):
each computes a shard of every batch, and only the main process writes files.
"""

from __future__ import annotations

import contextlib
import json
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from swerve import __version__
from swerve.bundle import Bundle, DataSpec
from swerve.data import Dataset, load_dataset, to_float
from swerve.data.text import decode
from swerve.errors import ConfigError, SwerveError
from swerve.outputs import check_folder, claim_folder
from swerve.train.checkpoint import find_checkpoint, load_checkpoint, read_state, save_checkpoint
from swerve.train.config import TrainConfig, lr_factor
from swerve.train.distributed import shard_for, sync_batch_norm
from swerve.train.tasks import Task, task_class
from swerve.utils import json_text, make_generator, pick_device, remove_stale_temps, write_text_atomic

# Fields that may differ when a run is resumed; any other change would make the resumed run a different run.
RESUMABLE_CHANGES = ("steps", "device", "log_every", "sample_every", "checkpoint_every")


@dataclass
class TrainResult:
    """What a call to :meth:`Trainer.fit` ended with."""

    step: int
    interrupted: bool
    bundle_path: Path | None  # None on the other processes of a data-parallel run (the main one saves)
    last_stats: dict[str, float]


class Trainer:
    """Train the model a :class:`TrainConfig` describes into ``run_dir``."""

    def __init__(
        self,
        config: TrainConfig,
        run_dir: str | Path,
        resume: bool = False,
        data: Dataset | None = None,
        progress: bool = True,
        on_log: Callable[[dict[str, Any]], None] | None = None,
        accelerator: Any = None,
        run_config: dict[str, Any] | None = None,
    ) -> None:
        """``on_log`` receives each logged record (on every process, numbers averaged over processes);
        an ``accelerator`` (``swerve.train.distributed.make_accelerator``) makes the run data-parallel."""
        self.config = config
        # What is saved as config.json and in checkpoints, and compared on resume (a subclass that trains
        # something else, such as fine-tuning, passes its own config here).
        self.run_config = run_config if run_config is not None else config.to_dict()
        self.run_dir = Path(run_dir)
        self.shard = shard_for(accelerator, config.batch_size)
        self.progress = progress and self.shard.is_main
        self.on_log = on_log
        self.device = accelerator.device if accelerator is not None else pick_device(config.device)
        check_folder(self.run_dir, "run")  # never a folder of the user's: its files would be overwritten
        checkpoint = find_checkpoint(self.run_dir / "checkpoint")
        if checkpoint is not None and not resume:
            raise SwerveError(
                f"{self.run_dir} already holds a run; pass --resume to continue it, or use another directory"
            )
        if resume and checkpoint is None:
            raise SwerveError(f"nothing to resume: {self.run_dir} has no checkpoint")
        if checkpoint is not None:
            state = read_state(checkpoint)
            check_same_config(state["config"], self.run_config, self.run_dir, step=state.get("step"))

        if data is None:
            with accelerator.main_process_first() if accelerator else contextlib.nullcontext():
                data = self.load_data()
        self.data = data
        if self.data is not None:
            check_data_fits(config, self.data)
        torch.manual_seed(config.seed)  # initial weights and any layer randomness (dropout)
        has_labels = self.data is not None and self.data.labels is not None
        num_classes = len(self.data.classes) if has_labels else 0
        self.task: Task = self.build_task(num_classes)
        self.task.shard = self.shard
        sync_batch_norm(self.task.networks, self.shard, self.device)
        self.num_classes = num_classes if config.conditional else 0
        self.gen = make_generator(config.seed, self.device)  # noise for latents, GP mixing, reparametrisation
        self.step = 0
        if checkpoint is not None:
            self.step, rng = load_checkpoint(checkpoint, self.task.networks, self.task.optimizers)
            self.gen.set_state(rng["gen"])
            torch.set_rng_state(rng["torch"])
        self.shard.broadcast_(self.task.networks)
        # As stored (uint8 pixels stay uint8, four times smaller); _batch converts the rows it draws.
        self._x = self.data.values.to(self.device) if self.data is not None else None
        self._y = self.data.labels.to(self.device) if has_labels else None
        self._order_epoch = -1
        self._order = torch.empty(0, dtype=torch.long)
        self._batches_used = 0
        self._stop = False

    # --- what is trained on what (a subclass may train something else) ----------------------------------
    def load_data(self) -> Dataset | None:
        """The training data the config names (``None`` for a task that needs no data)."""
        cfg = self.config
        return load_dataset(
            cfg.dataset,
            classes=cfg.classes,
            image_size=cfg.image_size,
            seed=cfg.seed,
            channels=cfg.channels,
            on_error=cfg.bad_images,
            download=cfg.download,
            progress=self.progress,
        )

    def build_task(self, num_classes: int) -> Task:
        """The task that takes each step: a new model of the config's kind."""
        return task_class(self.config.kind, self.config.arch)(
            self.config, self.data.shape, num_classes, self.device
        )

    # --- data order ----------------------------------------------------------------------------------------
    def _batch(self, index: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Batch number ``index``: a pure function of (seed, index), so a resumed run sees the same data."""
        if self._x is None:
            raise SwerveError("this run trains without data, yet its task asked for a batch")
        bs = self.config.batch_size
        per_epoch = len(self.data) // bs
        epoch, i = divmod(index, per_epoch)
        if epoch != self._order_epoch:
            gen = make_generator(self.config.seed * 1_000_003 + epoch)
            self._order = torch.randperm(len(self.data), generator=gen).to(self.device)
            self._order_epoch = epoch
        rows = self._order[i * bs : (i + 1) * bs]
        idx = self.shard.take(rows)  # this process's rows of the batch
        x = self._x[idx]
        x = to_float(x) if x.dtype == torch.uint8 else x
        if self.config.mirror:  # flip each image left-right with probability 1/2, also a function of index
            gen = make_generator((self.config.seed * 1_000_003 + index) * 2 + 1)
            flips = torch.rand(len(rows), generator=gen) < 0.5
            x = torch.where(self.shard.take(flips.to(self.device)).view(-1, 1, 1, 1), x.flip(-1), x)
        return x, (self._y[idx] if self._y is not None else None)

    def _next_batch(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        batch = self._batch(self._batches_used)
        self._batches_used += 1
        return batch

    # --- the loop ------------------------------------------------------------------------------------------
    def fit(self) -> TrainResult:
        """Train until ``config.steps``; Ctrl-C finishes the current step, saves and returns."""
        cfg = self.config
        main = self.shard.is_main
        if main:
            claim_folder(self.run_dir, "run")
            remove_stale_temps(self.run_dir, self.run_dir / "samples")  # left by a run that was killed
            write_text_atomic(self.run_dir / "config.json", json_text(self.run_config, indent=2) + "\n")
            self._trim_stats()
        self._batches_used = self.step * self.task.batches_per_step
        sums: dict[str, torch.Tensor] = {}
        count = 0
        last: dict[str, float] = {}
        started = time.perf_counter()
        previous = self._catch_interrupt()
        bar = tqdm(total=cfg.steps, initial=self.step, disable=not self.progress, desc=cfg.name, unit="step")
        try:
            while self.step < cfg.steps and not self.shard.any(self._stop):
                self._schedule_lr()
                stats = self.task.step(self._next_batch, self.gen, self.step)
                self.step += 1
                for key, value in stats.items():
                    sums[key] = sums.get(key, 0) + value
                count += 1
                if cfg.log_every and (self.step % cfg.log_every == 0 or self.step == cfg.steps):
                    last = self.shard.mean({k: float(v) / count for k, v in sums.items()})
                    self._log(last, time.perf_counter() - started)
                    bar.set_postfix({k: f"{v:.3g}" for k, v in last.items()}, refresh=False)
                    sums, count = {}, 0
                if main and cfg.sample_every and self.step % cfg.sample_every == 0:
                    self.save_preview()
                if main and cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0:
                    self.save_checkpoint()
                bar.update(1)
        finally:
            bar.close()
            self._restore_interrupt(previous)
        interrupted = self.step < cfg.steps
        bundle_path = None
        if main:
            self.save_checkpoint()
            if not interrupted:
                self.save_preview()
            bundle_path = self.export().save(self.run_dir / "bundle")
        self.shard.barrier()  # every process returns once the files are written
        return TrainResult(self.step, interrupted, bundle_path, last)

    def _schedule_lr(self) -> None:
        """Set every optimiser's learning rate for the coming step (a pure function of the step, so a resumed
        run trains with the rates an uninterrupted one would)."""
        factor = lr_factor(self.config, self.step)
        for optimizer in self.task.optimizers.values():
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
                group["lr"] = group["initial_lr"] * factor

    def _catch_interrupt(self) -> Any:
        if threading.current_thread() is not threading.main_thread():
            return None

        def stop(signum: int, frame: Any) -> None:
            self._stop = True

        return signal.signal(signal.SIGINT, stop)

    def _restore_interrupt(self, previous: Any) -> None:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)

    def _log(self, stats: dict[str, float], elapsed: float) -> None:
        record = {"step": self.step, **stats, "seconds": round(elapsed, 3)}
        if self.shard.is_main:
            with open(self.run_dir / "stats.jsonl", "a") as fh:
                fh.write(json_text(record) + "\n")
        if self.on_log:
            self.on_log(record)

    def _trim_stats(self) -> None:
        """Drop log lines past the checkpoint we resume from: those steps are about to run again."""
        path = self.run_dir / "stats.jsonl"
        if not path.exists():
            return
        kept = [ln for ln in path.read_text().splitlines() if _logged_step(ln) <= self.step]
        write_text_atomic(path, "".join(ln + "\n" for ln in kept))

    # --- outputs -------------------------------------------------------------------------------------------
    def save_checkpoint(self) -> None:
        rng = {"gen": self.gen.get_state(), "torch": torch.get_rng_state()}
        save_checkpoint(
            self.run_dir / "checkpoint",
            self.step,
            self.run_config,
            self.task.networks,
            self.task.optimizers,
            rng,
        )

    def save_preview(self) -> Path | None:
        """A grid (images) or scatter plot (points) of samples on fixed latents, named by step."""
        from swerve.look.grid import make_grid, save_image, upscale
        from swerve.look.plot import scatter_points

        if self.task.latent is None or self.data is None:
            return None
        k = self.num_classes
        n = 64 if k == 0 else k * max(1, 64 // k)
        if len(self.data.shape) == 1:
            n = 2000
        z = self.task.latent.sample(n, make_generator(self.config.seed + 1, self.device), self.device)
        y = (torch.arange(n, device=self.device) % k) if k else None
        x = self.task.preview(z, y).cpu()
        path = self.run_dir / "samples" / f"step_{self.step:06d}.png"
        if self.data.vocab:  # text: the decoded strings, one a line
            path = path.with_suffix(".txt")
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(path, "\n".join(decode(x, self.data.vocab)) + "\n")
            return path
        if len(self.data.shape) == 1:
            scatter_points(x, reference=self.data.x[:2000], path=path, title=f"step {self.step}")
        else:
            save_image(upscale(make_grid(x, nrow=k or None)), path)
        return path

    def export(self) -> Bundle:
        """The model as a bundle: the task's networks, data and latent specs, provenance and history."""
        cfg = self.config
        text = bool(self.data.vocab)
        data_spec = DataSpec(
            shape=getattr(self.task, "data_shape", None) or self.data.shape,
            range=[0.0, 1.0] if text else [-1.0, 1.0] if len(self.data.shape) == 3 else _range(self.data.x),
            classes=list(self.data.classes),
            dataset=cfg.dataset,
        )
        training = {
            "config": cfg.to_dict(),
            "steps": self.step,
            "swerve_version": __version__,
            "torch_version": torch.__version__,
            "device": str(self.device),
            "dataset_size": len(self.data),
        }
        extra = self.task.bundle_extra() if hasattr(self.task, "bundle_extra") else None
        if text:  # text samples decode through the vocabulary
            extra = {**(extra or {}), "vocab": list(self.data.vocab)}
        bundle = Bundle(self.task.export(), data_spec, self.task.latent, training, extra=extra, name=cfg.name)
        bundle.record("train", kind=cfg.kind, steps=self.step, seed=cfg.seed, dataset=cfg.dataset)
        return bundle


def _logged_step(line: str) -> float:
    """The step of a stats.jsonl line; infinity for a blank or torn line, so trimming drops it."""
    try:
        return float(json.loads(line)["step"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError):
        return float("inf")


def _range(x: torch.Tensor) -> list[float]:
    return [float(x.min()), float(x.max())]


def check_same_config(
    saved: dict[str, Any], new: dict[str, Any], run_dir: Path, step: int | None = None
) -> None:
    """Refuse to resume a run whose config changed in anything but the fields in RESUMABLE_CHANGES, or in a
    learning-rate decay that starts at or after ``step``, the step the run resumes from (the steps already
    taken trained at the full rate under both configs)."""
    changed = [
        k
        for k in sorted(set(saved) | set(new))
        if k not in RESUMABLE_CHANGES
        and saved.get(k) != new.get(k)
        and not (k == "lr_decay_start" and step is not None and _decay_not_begun(saved, new, step))
    ]
    if changed:
        key = changed[0]
        if key == "lr_decay_start" and step is not None:
            raise ConfigError(
                f"cannot resume {run_dir} with lr_decay_start={new.get(key)!r}: the run is at step {step}, "
                f"and a decay may be added or moved only at or after the step a run resumes from"
            )
        raise ConfigError(
            f"cannot resume {run_dir}: its config had {key}={saved.get(key)!r}, now {new.get(key)!r} "
            f"({len(changed)} field(s) changed); use the same config or a new run directory"
        )


def _decay_not_begun(saved: dict[str, Any], new: dict[str, Any], step: int) -> bool:
    starts = [c.get("lr_decay_start") for c in (saved, new)]
    return all(s is None or (isinstance(s, int) and s >= step) for s in starts)


def check_data_fits(config: TrainConfig, data: Dataset) -> None:
    """Refuse data whose shape the chosen architecture cannot model, with a message saying why."""
    shape = data.shape
    if config.mirror and len(shape) != 3:
        raise ConfigError(f"mirror flips images left-right, but {data.name} holds samples of shape {shape}")
    if len(data) < config.batch_size:
        raise ConfigError(f"{data.name} has {len(data)} samples, fewer than batch_size {config.batch_size}")
    if (config.arch == "charcnn") != bool(data.vocab):
        raise ConfigError(
            f"arch 'charcnn' models text and text needs arch 'charcnn', but {data.name} is "
            f"{'text' if data.vocab else 'not text'} and arch is {config.arch!r}"
        )
    if config.arch == "mlp" and len(shape) != 1:
        raise ConfigError(f"arch 'mlp' models points, but {data.name} holds samples of shape {shape}")
    if config.arch not in ("mlp", "charcnn") and (len(shape) != 3 or shape[1] != shape[2]):
        raise ConfigError(
            f"arch {config.arch!r} models square images, but {data.name} holds samples of shape {shape}"
        )
    if config.arch == "stylegan2" and (shape[-1] < 8 or shape[-1] & (shape[-1] - 1)):
        raise ConfigError(f"arch 'stylegan2' needs a power-of-two image size >= 8, got {shape[-1]}")
    if config.conditional and data.labels is None:
        raise ConfigError(f"conditional training needs labels, and {data.name} has none")
